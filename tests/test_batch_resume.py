"""fit-many writes each fit as it finishes; a killed run resumes without refitting.

A real kill: the command runs in a child process (its own process group) that gets
SIGKILL the moment the first job's status file appears; the rerun on the same
output folder must load that job (file untouched, a line saying so) and fit the
other two.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from geommm.cli import main
from geommm.workflows import batch
from geommm.workflows.batch import FitJob, run_fits
from geommm.workflows.batch_store import FOLDER, STATUS_FILE, job_dir

ROOT = Path(__file__).resolve().parents[1]


def _job_file(fit_many_jobs) -> Path:
    """Three MAP jobs on the shared fit-many panel, one per seed."""
    return fit_many_jobs("".join(f"[[jobs]]\nname = \"seed/{s}\"\nfit = {{ seed = {s} }}\n" for s in (1, 2, 3)))


def _finished(out: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / FOLDER).glob(f"*/{STATUS_FILE}")}


@pytest.mark.slow  # three real MAP fits and a child process: ~25 s on a quiet machine
def test_killed_fit_many_resumes_without_refitting(tmp_path, fit_many_jobs, capsys):
    jobs, out = _job_file(fit_many_jobs), tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "geommm.cli", "fit-many", str(jobs), "--out", str(out), "--workers", "0"]
    with open(tmp_path / "log.txt", "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 240
        try:
            while not _finished(out):
                assert proc.poll() is None, (tmp_path / "log.txt").read_text()
                assert time.monotonic() < deadline, "no job finished within 240 s"
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # our own child's process group only
            proc.wait()
    before = _finished(out)
    assert 1 <= len(before) < 3, "the run was not killed half way"
    capsys.readouterr()

    assert main(["fit-many", str(jobs), "--out", str(out), "--workers", "0"]) == 0
    printed = capsys.readouterr().out
    after = _finished(out)
    assert len(after) == 3
    for name, mtime in before.items():
        assert after[name] == mtime, f"{name} was refitted"
    assert printed.count("not refitted") == len(before)
    status = pl.read_csv(out / "status.csv")
    assert status["ok"].all() and status.height == 3
    assert status["resumed"].sum() == len(before)
    assert pl.read_csv(out / "roi_channel.csv")["job"].n_unique() == 3


def test_failed_or_changed_jobs_are_refitted(tmp_path, monkeypatch):
    """Bookkeeping only (a stand-in for the fit counts calls): fast, no sampler."""
    calls: list[str] = []

    def fake_run_job(job):
        calls.append(job.name)
        if job.name == "bad":
            return {"job": job.name, "ok": False, "error": "DataError: no column tv_spnd", "seconds": 0.1,
                    "resumed": False}
        roi = pl.DataFrame({"channel": ["tv"], "roi_mean": [float(job.fit["seed"])]})
        roi_geo = pl.DataFrame({"geo": ["001"], "channel": ["tv"], "roi_mean": [1.0]})
        return {"job": job.name, "ok": True, "error": None, "seconds": 0.1, "verdict": "ok",
                "divergences": 0, "max_r_hat": 1.0, "min_ess_bulk": 400.0, "roi": roi,
                "roi_geo": roi_geo, "resumed": False}

    monkeypatch.setattr(batch, "run_job", fake_run_job)
    data = pl.DataFrame({"geo": ["001"], "week": ["2024-01-01"]})
    good = FitJob(name="a/good", formula="revenue ~ media(tv)", data=data, fit={"method": "map", "seed": 0})
    bad = FitJob(name="bad", formula="revenue ~ media(tv_spnd)", data=data)
    lines: list[str] = []
    first = run_fits([good, bad], n_workers=0, out=tmp_path, log=lines.append)
    assert first.status["ok"].to_list() == [True, False] and not lines
    stamp = (job_dir(tmp_path, "a/good") / STATUS_FILE).stat().st_mtime_ns

    again = run_fits([good, bad], n_workers=0, out=tmp_path, log=lines.append)
    assert calls == ["a/good", "bad", "bad"]  # the failed job ran again, the good one did not
    assert again.status["resumed"].to_list() == [True, False]
    assert lines == [f"a/good: finished in an earlier run ({job_dir(tmp_path, 'a/good')}); not refitted"]
    assert (job_dir(tmp_path, "a/good") / STATUS_FILE).stat().st_mtime_ns == stamp
    assert again.roi.equals(first.roi) and again.roi_geo["geo"].dtype == pl.String  # "001" stays text

    changed = FitJob(**{**good.__dict__, "fit": {"method": "map", "seed": 1}})
    third = run_fits([changed], n_workers=0, out=tmp_path, log=lines.append)
    assert third.status["resumed"].to_list() == [False] and calls[-1] == "a/good"  # new definition: refit
    assert third.roi["roi_mean"].to_list() == [1.0]
    everything = run_fits([changed, bad], n_workers=0, out=tmp_path, refit=True, log=lines.append)
    assert calls[-2:] == ["a/good", "bad"] and not everything.status["resumed"].any()
