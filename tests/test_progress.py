"""Progress off a terminal: one line per long stage, NUTS lines at most every PROGRESS_SECONDS."""

from __future__ import annotations

import io
import re
import sys
import warnings

from geommm import _progress
from geommm._progress import Progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_sampling_lines_at_most_one_per_interval(capsys) -> None:
    clock = FakeClock()
    progress = Progress(True, clock=clock, every=10.0)
    progress.start_sampling()
    for step in range(351):  # 35 s of polls every 0.1 s
        clock.now = step / 10
        progress.tick(lambda: (step, 0, 1), total_tune=400, total_draws=400)
    lines = capsys.readouterr().err.splitlines()
    assert [line.rsplit(", ", 1)[-1] for line in lines] == ["10.0 s", "20.0 s", "30.0 s"]
    assert lines[0] == "  sampling: warm-up 100/400, draws 0/400 (all chains), 1 divergence so far, 10.0 s"


def test_stage_line_and_unknown_counts(capsys) -> None:
    clock = FakeClock()
    progress = Progress(True, clock=clock, every=1.0)
    with progress.stage("compiled"):
        clock.now = 3.25
    progress.start_sampling()
    clock.now = 5.0
    progress.tick(lambda: None, 10, 10)
    assert capsys.readouterr().err.splitlines() == ["  compiled in 3.2 s", "  sampling: 1.8 s"]


def test_disabled_progress_prints_nothing(capsys) -> None:
    clock = FakeClock()
    progress = Progress(False, clock=clock)
    with progress.stage("compiled"):
        clock.now = 100.0
    progress.start_sampling()
    progress.tick(lambda: (1, 2, 3), 10, 10)
    assert capsys.readouterr().err == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_lines_only_off_a_terminal(monkeypatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert Progress.for_run(True).enabled
    assert not Progress.for_run(False).enabled
    monkeypatch.setattr(sys, "stderr", _Terminal())
    assert not Progress.for_run(True).enabled  # nutpie draws its own bar there


def test_nuts_fit_off_a_terminal_prints_stages_and_throttled_sampling_lines(tiny_mmm, monkeypatch, capfd):
    """A real (tiny) NUTS fit with stderr captured (not a TTY); the interval shortened to
    0.2 s (two polls) so a sampling run of a few seconds (2 x 80 iterations) shows
    several lines, and a throttle that printed at every poll would fail the gap check."""
    monkeypatch.setattr(_progress, "PROGRESS_SECONDS", 0.2)
    said: list[tuple[float, str]] = []
    original = Progress.say

    def record(self, text: str) -> None:
        said.append((self._last, text))  # the clock reading the throttle decided on
        original(self, text)

    monkeypatch.setattr(Progress, "say", record)
    model = tiny_mmm()  # the default tiny panel: 2 x 200 iterations took 59 s in the suite
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # plumbing: trees capped at 31 steps (the tiny panel's short warm-up runs at 1,023)
        fit = model.fit(draws=40, tune=40, chains=2, seed=2, progressbar=True, max_treedepth=5)
    err = capfd.readouterr().err
    # no stage for the arviz groups: they are added on the first read of fit.idata
    for stage in ("model built in", "compiled in", "sampled in"):
        assert re.search(rf"^  {stage}.* \d+\.\d s", err, re.M), (stage, err)
    sampling = [(t, text) for t, text in said if text.startswith("sampling:")]
    assert sampling, err
    gaps = [b[0] - a[0] for a, b in zip(sampling, sampling[1:])]
    assert all(gap >= 0.2 for gap in gaps), gaps
    last = re.search(r"warm-up ([\d,]+)/80, draws ([\d,]+)/80 \(all chains\), (\d+) divergences? so far",
                     sampling[-1][1])
    assert last, sampling[-1][1]
    tune, draws, divergent = (int(g.replace(",", "")) for g in last.groups())
    assert tune <= 80 and draws <= 80 and divergent <= draws
    assert tune + draws > 0
    assert fit.idata.posterior.sizes["draw"] == 40


def test_no_lines_without_progressbar(tiny_mmm, capfd) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tiny_mmm(seed=5).fit(method="map", seed=1, progressbar=False)
    err = capfd.readouterr().err
    assert not re.search(r"^  (model built|MAP fitted|pointwise log-likelihood)", err, re.M), err
