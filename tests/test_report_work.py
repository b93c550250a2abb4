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
    # one pass of the observed media with their carryover tail serves ROI and, from its
    # first weeks, the contributions (ForwardModel._observed_pass); marginal ROI's +1%
    # media is the only other pass
    assert calls["observed media"] == 0
    assert calls["other media"] == 2


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


def test_one_observed_pass_gives_the_same_numbers_in_the_same_layout(map_fit):
    """The contributions cut from the pass with the carryover tail equal, bit for bit and in
    memory layout, those of a pass without it; ROI's numerator equals the chunked sum."""
    forward = map_fit.forward.with_draws(map_fit.forward.draws)  # a model with an empty memo
    assert forward._one_observed_pass()
    data = forward.data
    alone = forward._media_contributions(None, 0, None)
    with_tail = forward.media_kpi(data.media_input * 1.0, carryover_weeks=data.max_lag - 1)
    observed = forward.media_contributions()
    assert np.array_equal(observed, alone)
    assert observed.strides == alone.strides  # later sums over weeks add in the same order
    assert np.array_equal(observed.sum(axis=2), alone.sum(axis=2))
    assert np.array_equal(forward.observed_kpi_with_tail(), with_tail)
    assert not observed.flags.writeable


def test_observed_pass_is_not_used_where_the_identity_is_not_plain(map_fit):
    """In draw chunks (or with synergy, R&F, a log KPI, time-varying effects) each table
    makes its own pass, as before."""
    from geommm.analysis.draws import set_chunk_draws

    draws = {k: np.concatenate([v, v[::-1]]) for k, v in map_fit.forward.draws.items()}  # >= 2 draws
    forward = map_fit.forward.with_draws(draws)
    data = forward.data
    old = set_chunk_draws(forward.n_draws // 2)
    try:
        assert not forward._one_observed_pass()
        assert np.array_equal(forward.observed_kpi_with_tail(),
                              forward.media_kpi(data.media_input * 1.0, carryover_weeks=data.max_lag - 1))
        assert ("observed_kpi_with_tail",) not in forward._memo
    finally:
        set_chunk_draws(old)


def test_curves_computed_beside_the_other_tables_are_the_same(map_fit, monkeypatch):
    from geommm.media import transform
    from geommm.report.from_fit import FitTables

    monkeypatch.setattr(transform, "SUM_THREADS", 2)
    beside = FitTables(map_fit, background=True).response_curves
    assert beside.__qualname__.startswith("in_background")
    assert beside().equals(map_fit.response_curves())
    monkeypatch.setattr(transform, "SUM_THREADS", 1)  # GEOMMM_THREADS=1: on the calling thread
    assert FitTables(map_fit, background=True).response_curves.__qualname__.startswith("once")


def test_a_background_table_replays_its_error():
    from geommm.report.from_fit import in_background

    def fail():
        raise ValueError("no curves")

    get = in_background(fail)
    for _ in range(2):
        try:
            get()
        except ValueError as err:
            assert str(err) == "no curves"
        else:
            raise AssertionError("the error was not replayed")


def test_design_widths_on_two_threads_equal_one(monkeypatch):
    """The test design's per-candidate reweighting runs on the sums' threads: same numbers."""
    from types import SimpleNamespace

    from geommm.analysis.experiments.design import _widths
    from geommm.analysis.experiments.preposterior import Reweighting
    from geommm.media import transform

    rng = np.random.default_rng(3)
    quantity = rng.lognormal(0.5, 0.3, size=(300, 3))  # (draws, channels)
    found = [SimpleNamespace(channel=i % 3, lift=rng.normal(100 + i, 30, 300), info_se=20.0 + i)
             for i in range(9)]
    out = {}
    for threads in (1, 2):
        monkeypatch.setattr(transform, "SUM_THREADS", threads)
        out[threads] = _widths(quantity, found, "reweight", Reweighting(300, seed=1), 0.9)
    assert np.array_equal(out[1][0], out[2][0]) and np.array_equal(out[1][1], out[2][1])
    assert out[1][1].shape == (9,) and np.all(out[1][1] < out[1][0])  # a test narrows the interval
