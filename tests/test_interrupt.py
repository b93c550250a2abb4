"""Ctrl-C while fitting: no partial fit passed off as whole, exit code 130, nothing written.

The subprocess tests send a real SIGINT to ``geommm fit`` on a tiny panel with
enough draws that sampling lasts several seconds; they wait for the progress
line of the stage they interrupt.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import arviz as az
import numpy as np
import pytest

from geommm import sampling, sim
from geommm._interrupts import InterruptGuard
from geommm.errors import FitError, FitInterrupted, GeoMMMError

ROOT = Path(__file__).resolve().parents[1]
FORMULA = "revenue ~ trend() + (1 | geo) + media(tv_impressions, spend=tv_spend, name='tv')"


def test_a_short_posterior_is_refused():
    settings = sampling.SamplerSettings(draws=300, chains=2)
    short = az.from_dict(posterior={"x": np.zeros((2, 103))})
    with pytest.raises(FitError, match="2 chain\\(s\\) x 103 draws, not the 2 x 300"):
        sampling.check_complete(short, settings)
    sampling.check_complete(az.from_dict(posterior={"x": np.zeros((2, 300))}), settings)


def test_interrupt_swallowed_by_a_library_still_stops_the_fit():
    """A Ctrl-C that the code running at the time catches is still acted on."""

    def build_and_swallow():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.5)
        except KeyboardInterrupt:  # what nutpie, PyMC and a JAX gc callback do
            pass
        raise AssertionError("the model must not be built further")  # pragma: no cover

    def build_after_interrupt():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)

    before = signal.getsignal(signal.SIGINT)
    settings = sampling.SamplerSettings(method="map")
    with pytest.raises(FitInterrupted, match="model building") as info:
        sampling.run(build_after_interrupt, settings, progressbar=False)
    assert isinstance(info.value, GeoMMMError) and isinstance(info.value, KeyboardInterrupt)
    with InterruptGuard(defer=False) as guard, pytest.raises(AssertionError):
        build_and_swallow()
    assert guard.count == 1
    with pytest.raises(FitInterrupted):
        guard.check()
    assert signal.getsignal(signal.SIGINT) is before


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory) -> Path:
    panel = sim.simulate(n_geos=2, n_weeks=30, n_channels=1, seed=1, n_lift_tests=0).panel
    path = tmp_path_factory.mktemp("interrupt") / "tiny.csv"
    panel.write_csv(path)
    return path


def interrupt_fit(panel: Path, out: Path, marker: str, delay: float, *extra: str):
    """Start ``geommm fit``, send SIGINT ``delay`` s after stderr shows ``marker``."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    argv = [sys.executable, "-m", "geommm.cli", "fit", "--data", str(panel), "--time", "week",
            "--formula", FORMULA, "--draws", "20000", "--tune", "200", "--chains", "2",
            "--out", str(out), *extra]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    seen = []
    try:
        for line in proc.stderr:
            seen.append(line)
            if line.startswith(marker):
                time.sleep(delay)
                proc.send_signal(signal.SIGINT)
                break
        _, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # pragma: no cover - only when the test fails
            proc.kill()
    return proc.returncode, "".join(seen) + rest


def assert_interrupted(code: int, err: str, stage: str) -> None:
    assert code == 130, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert "interrupted" in errors[0] and stage in errors[0], errors[0]


@pytest.mark.slow
def test_ctrl_c_while_sampling_saves_nothing_and_keeps_earlier_results(tiny_csv, tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "roi_channel.csv").write_text("earlier results\n")
    code, err = interrupt_fit(tiny_csv, out, "  compiled in", 1.0, "--overwrite")
    assert_interrupted(code, err, "sampling")
    assert sorted(p.name for p in out.iterdir()) == ["roi_channel.csv"]
    assert (out / "roi_channel.csv").read_text() == "earlier results\n"


@pytest.mark.slow
def test_ctrl_c_while_compiling_exits_130_without_a_crash(tiny_csv, tmp_path):
    out = tmp_path / "results"
    code, err = interrupt_fit(tiny_csv, out, "fitting:", 0.5)
    assert_interrupted(code, err, "")
    assert not out.exists() or not any(out.iterdir())
