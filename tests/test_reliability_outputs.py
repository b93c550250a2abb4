"""Issue #21: output folders and files — checked before any long step, never lost, nothing stale.

One test (or a small group) per numbered item of the issue about what the
command line writes.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from cli_helpers import assert_user_error, run, unwritable_folder

from geommm import sim

pytestmark = pytest.mark.bad_input


@pytest.fixture(scope="module")
def panel_csv(tmp_path_factory) -> Path:
    result = sim.simulate(n_geos=2, n_weeks=30, n_channels=1, seed=1, n_lift_tests=0)
    path = tmp_path_factory.mktemp("panel") / "panel.csv"
    result.panel.write_csv(path)
    return path


@pytest.fixture(scope="module")
def saved_fit(map_fit, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("saved")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        map_fit.save(folder / "fit.nc")
    return folder


FORMULA = "revenue ~ trend() + (1 | geo) + media(tv_impressions, spend=tv_spend, name='tv')"


# --- item 3: an unwritable output folder is found before any long step -------------------


def test_fit_into_an_unwritable_folder_stops_before_fitting(panel_csv, tmp_path):
    with unwritable_folder(tmp_path / "locked") as locked:
        code, _, err = run("fit", "--data", panel_csv, "--time", "week", "--formula", FORMULA,
                           "--method", "map", "--out", locked, "--overwrite")
    assert_user_error(code, err, str(locked), "not writable")
    assert "fitting" not in err and "reading" not in err


@pytest.mark.parametrize("command", ["report", "optimize"])
def test_report_and_optimize_check_their_output_before_loading(saved_fit, tmp_path, command):
    with unwritable_folder(tmp_path / "locked") as locked:
        code, _, err = run(command, saved_fit, "--out", locked / "result.out")
    assert_user_error(code, err, str(locked), "not writable")
    assert "loading" not in err


def test_simulate_into_an_unwritable_folder(tmp_path):
    with unwritable_folder(tmp_path / "locked") as locked:
        code, _, err = run("simulate", "--geos", "2", "--weeks", "10", "--channels", "1",
                           "--out", locked, "--overwrite")
    assert_user_error(code, err, str(locked), "not writable")
    assert "simulating" not in err


# --- item 6: fit-many refuses settings that could only hang or fail ------------------------


def test_fit_many_refuses_negative_workers(tmp_path):
    """``--workers 0`` runs the jobs in this process (no Dask); below 0 is refused by name."""
    from geommm.batch import FitJob, run_fits
    from geommm.errors import ArgumentError

    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[jobs]]\nname = "a"\nformula = "y ~ media(x)"\ndata = "p.csv"\n')
    code, _, err = run("fit-many", jobs, "--out", tmp_path / "out", "--workers", "-1")
    assert code == 2 and "--workers" in err
    with pytest.raises(ArgumentError, match="n_workers"):
        run_fits([FitJob(name="a", formula="y ~ media(x)", data="p.csv")], n_workers=-1)


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('[defaults.fit]\ndrawz = 10\n', "drawz"),
        ('[[jobs]]\nname = "b"\nformula = "y ~ media(x)"\ndata = "p.csv"\nfit = 3\n', "'fit'"),
        ('[defaults]\nweeks = "2022"\n', "weeks"),
    ],
)
def test_fit_many_names_a_bad_job_setting_before_running(tmp_path, toml, named):
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[jobs]]\nname = "a"\nformula = "y ~ media(x)"\ndata = "p.csv"\n' + toml)
    code, _, err = run("fit-many", jobs, "--out", tmp_path / "out")
    assert_user_error(code, err, "jobs.toml", named)
    assert not (tmp_path / "out").exists()


# --- item 7: validate checks lift tests against the panel -----------------------------------


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"geos": "geo_99"}, "geo_99"),
        ({"start": "2030-01-07", "end": "2030-01-28", "measure_end": "2030-02-11"}, "2030-01-07"),
    ],
)
def test_validate_checks_lift_tests_against_the_panel(tmp_path, change, named):
    import polars as pl

    result = sim.simulate(n_geos=3, n_weeks=30, n_channels=1, seed=2, n_lift_tests=1)
    result.panel.write_csv(tmp_path / "panel.csv")
    result.lift_tests.write_csv(tmp_path / "good.csv")
    code, out, err = run("validate", tmp_path / "panel.csv", "--time", "week",
                         "--lift-tests", tmp_path / "good.csv")
    assert code == 0, err
    assert "good.csv: OK" in out
    bad = result.lift_tests.with_columns(
        **{k: (pl.lit(v) if k == "geos" else pl.lit(v).str.to_date()) for k, v in change.items()}
    )
    bad.write_csv(tmp_path / "bad.csv")
    code, _, err = run("validate", tmp_path / "panel.csv", "--time", "week",
                       "--lift-tests", tmp_path / "bad.csv")
    assert_user_error(code, err, "bad.csv", named)


# --- item 10: file modes follow the umask, writes are durable, nothing stale or clobbered ---


@pytest.mark.parametrize("umask", [0o027, 0o002])
def test_saved_files_follow_the_umask(map_fit, tmp_path, umask):
    import os

    before = os.umask(umask)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            map_fit.save(tmp_path / "fit.nc")
        from geommm._atomic import write_text

        write_text(tmp_path / "note.txt", "x")
    finally:
        os.umask(before)
    for name in ("fit.nc", "note.txt"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask, name


def test_atomic_writes_reach_the_disk(tmp_path, monkeypatch):
    import os

    from geommm._atomic import write_text

    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                 real(fd)))
    write_text(tmp_path / "a.csv", "x\n")
    assert len(synced) == 2 and synced[1] == str(tmp_path)  # the file, then its folder


def test_overwrite_leaves_no_result_of_the_earlier_run(map_fit, tmp_path):
    from geommm.cli.commands import write_results

    earlier = ["allocation_geo.csv", "allocation_channel.csv", "lift_test_check.csv", "roi_geo.csv"]
    for name in [*earlier, "notes.txt"]:
        (tmp_path / name).write_text("earlier run\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written, _ = write_results(map_fit, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {p.name for p in written} | {"notes.txt"}
    assert "allocation_geo.csv" not in names and "allocation_channel.csv" not in names
    assert (tmp_path / "roi_geo.csv").read_text() != "earlier run\n"


@pytest.mark.parametrize("command", ["report", "optimize"])
def test_report_and_optimize_do_not_replace_an_existing_out_file(saved_fit, tmp_path, command):
    target = tmp_path / "mine.out"
    target.write_text("keep me\n")
    code, _, err = run(command, saved_fit, "--out", target)
    assert_user_error(code, err, str(target), "--overwrite")
    assert target.read_text() == "keep me\n"
    code, _, err = run(command, saved_fit, "--out", target, "--overwrite")
    assert code == 0, err
    assert target.read_text() != "keep me\n"


@pytest.mark.parametrize("command", ["report", "optimize"])
def test_the_default_output_in_the_fit_folder_is_regenerated(saved_fit, command):
    for _ in range(2):  # the fit's own report / allocation: replaced without --overwrite
        code, _, err = run(command, saved_fit)
        assert code == 0, err
