"""The report computes each expensive piece of analysis once and shares it between sections."""

from __future__ import annotations

from collections import Counter

import numpy as np

import geommm.analysis.optimize as optimize_mod
from geommm.analysis.forward import ForwardModel
from geommm.report import write_report


def test_report_optimises_once_and_pushes_the_observed_media_through_the_model_once(
    map_fit, tmp_path, monkeypatch
):
    calls: Counter = Counter()
    optimize, contributions = optimize_mod.optimize_budget, ForwardModel._media_contributions

    def counted_optimize(*args, **kwargs):
        calls["optimize_budget"] += 1
        return optimize(*args, **kwargs)

    def counted_contributions(self, media_input, carryover_weeks, data, start=None):
        observed = media_input is None and not carryover_weeks and data in (None, self.data)
        calls["observed media" if observed else "other media"] += 1
        return contributions(self, media_input, carryover_weeks, data, start)

    monkeypatch.setattr(optimize_mod, "optimize_budget", counted_optimize)
    monkeypatch.setattr(ForwardModel, "_media_contributions", counted_contributions)
    map_fit.forward._memo.clear()  # the session's fit: forget what earlier tests computed
    page = write_report(map_fit, tmp_path / "report.html").read_text()
    assert 'class="error"' not in page
    # the headline, the summary's dumbbell, the budget section and the curves' marks all
    # show one plan; contributions, fitted values, fit metrics and identification all
    # start from one pass of the observed media (expected_kpi used to redo it)
    assert calls["optimize_budget"] == 1
    assert calls["observed media"] == 1


def test_expected_kpi_reuses_the_kept_media_contributions(map_fit, monkeypatch):
    forward = map_fit.forward
    forward._memo.clear()
    media = forward.media_contributions()
    expected = forward.expected_kpi()

    def fail(*args, **kwargs):
        raise AssertionError("the observed media's contributions were computed again")

    monkeypatch.setattr(ForwardModel, "_media_contributions", fail)
    forward._memo.pop(("expected_kpi",))
    again = forward.expected_kpi()  # from the kept contributions, not a new pass
    assert np.array_equal(again, expected)
    baseline = sum(forward.baseline_contributions().values())
    assert np.allclose(expected, media.sum(axis=-1) + baseline)
