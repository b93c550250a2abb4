"""Dask LocalCluster runs several small fits in parallel and gathers their ROI tables."""

from __future__ import annotations

import pytest

pytest.importorskip("distributed")

from geommm.workflows.batch import FitJob, prior_variants, run_fits  # noqa: E402


def test_local_cluster_runs_fits_and_reports_failures(tmp_path, batch_panel):
    result = batch_panel
    path = tmp_path / "panel.parquet"
    result.panel.write_parquet(path)
    base = FitJob(name="base", formula=result.formula, data=str(path), geo="geo", time="week",
                  fit={"method": "map", "seed": 0})
    jobs = [*prior_variants(base, {"default": {}, "tv_roi_2_4": {"tv": {"roi": (2, 4)}}}),
            FitJob(name="typo", formula="revenue ~ media(tv_spnd)", data=str(path), geo="geo", time="week")]
    out = run_fits(jobs, n_workers=2)
    status = {row["job"]: row for row in out.status.iter_rows(named=True)}
    assert status["base/default"]["ok"] and status["base/tv_roi_2_4"]["ok"]
    assert not status["typo"]["ok"] and "tv_spnd" in status["typo"]["error"]
    assert set(out.roi["job"]) == {"base/default", "base/tv_roi_2_4"}
    assert out.roi.height == 4 and out.roi["roi_mean"].is_finite().all()
    assert out.failed["job"].to_list() == ["typo"]


def test_fit_many_command_writes_tables(tmp_path, fit_many_jobs):
    from geommm.cli import main

    jobs = fit_many_jobs(
        "[[jobs]]\nname = \"all\"\n"
        "[[jobs]]\nname = \"first_half\"\nweeks = [\"2022-01-03\", \"2022-05-23\"]\n"
    )
    # in this process (--workers 0): the Dask cluster path is test_local_cluster_runs_fits_and_reports_failures's
    assert main(["fit-many", str(jobs), "--out", str(tmp_path / "out"), "--workers", "0"]) == 0
    assert {"roi_channel.csv", "roi_geo.csv", "status.csv"} <= {p.name for p in (tmp_path / "out").iterdir()}


@pytest.mark.bad_input
def test_fit_many_rejects_unknown_job_keys(tmp_path, capsys):
    from geommm.cli import main

    jobs = tmp_path / "jobs.toml"
    jobs.write_text("[[jobs]]\nname = \"a\"\nformula = \"y ~ media(x)\"\ndata = \"p.csv\"\ndraws = 10\n")
    assert main(["fit-many", str(jobs), "--out", str(tmp_path / "out")]) == 1
    assert "draws" in capsys.readouterr().err
