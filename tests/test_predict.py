"""Out-of-sample prediction, holdout evaluation and time-slice cross-validation."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import geommm as gm
from geommm.analysis.predict import media_history, predict
from geommm.workflows.validation import HoldoutResult, evaluate_holdout, time_slice_cv
from geommm.errors import DataError

HOLDOUT = 12


@pytest.fixture(scope="module")
def sim(tiny_panel):
    return tiny_panel(n_geos=4, n_weeks=60, n_channels=3, seed=2, n_lift_tests=0)


@pytest.fixture(scope="module")
def panel(sim):
    return gm.read_panel(sim.panel, geo="geo", time="week")


@pytest.fixture(scope="module")
def holdout(sim, panel) -> HoldoutResult:
    """Laplace: several draws in seconds, so the predictive interval has parameter
    uncertainty too (ADVI gave the same checks but compiles C code: ~80 s)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate_holdout(
            sim.formula,
            panel,
            holdout_weeks=HOLDOUT,
            method="laplace",
            draws=100,
            chains=2,
            seed=1,
        )


@pytest.fixture(scope="module")
def tail(panel):
    return panel.select_times(panel.times[-HOLDOUT], None)


def test_holdout_predictions_are_finite_and_mostly_covered(holdout, panel):
    pred = holdout.predictions
    assert pred.columns == ["geo", "time", "mean", "hdi_low", "hdi_high", "actual"]
    assert pred.height == panel.n_geos * HOLDOUT
    assert np.isfinite(pred.select("mean", "hdi_low", "hdi_high").to_numpy()).all()
    assert (pred["hdi_low"] <= pred["mean"]).all() and (pred["mean"] <= pred["hdi_high"]).all()
    assert holdout.coverage >= 0.7
    assert str(holdout.train_end) == str(panel.times[-HOLDOUT - 1])


def test_holdout_metrics_per_geo_and_overall(holdout, panel):
    m = holdout.metrics
    assert m["geo"].to_list() == [*panel.geos, "all geos", "national"]
    assert np.isfinite(m.select("r2", "mape").to_numpy()).all()
    assert m.filter(pl.col("geo") == "all geos")["mape"][0] < 0.25
    assert "held-out weeks" in repr(holdout)


def test_predict_without_the_kpi_column(holdout, tail):
    with_kpi = predict(holdout.fit, tail, include_noise=False)
    without = predict(holdout.fit, tail.frame.drop("revenue"), include_noise=False)
    assert "actual" not in without.columns
    np.testing.assert_allclose(without["mean"], with_kpi["mean"])


def test_predict_carries_media_over_from_the_training_weeks(holdout, tail):
    fit = holdout.fit
    history = media_history(fit.data, tail.times[0])
    lags = fit.data.max_lag - 1
    np.testing.assert_array_equal(history, fit.data.media_input[:, -lags:, :])
    # without history, the first held-out week loses the carryover of the weeks before it
    gap = tail.times[0] + np.timedelta64(7 * 52, "D")
    assert not media_history(fit.data, gap).any()


def test_predict_in_sample_reproduces_the_fit(holdout):
    fit = holdout.fit
    pred = predict(fit, fit.panel, include_noise=False)
    expected = fit.forward.expected_kpi().mean(axis=0).reshape(-1)
    np.testing.assert_allclose(pred["mean"], expected, rtol=1e-9)


def test_predict_rejects_other_geos(holdout, tail):
    other = tail.frame.filter(pl.col("geo") != "geo_00")
    with pytest.raises(DataError, match="same geos"):
        predict(holdout.fit, other)


class _FittedAlready:
    """Stands in for GeoMMM in fold-logic tests: records the training weeks, refits nothing."""

    def __init__(self, fit, seen: list):
        self._fit, self._seen = fit, seen

    def __call__(self, train):
        self._seen.append((train.times[0], train.times[-1], train.n_times))
        return self

    def fit(self, **kwargs):
        return self._fit


def test_time_slice_cv_rolls_the_origin(holdout, panel):
    seen: list = []
    table = time_slice_cv(_FittedAlready(holdout.fit, seen), panel, folds=3, horizon=6)
    assert table.columns == ["fold", "train_end", "geo", "r2", "mape", "n_weeks", "coverage"]
    assert [n for _, _, n in seen] == [42, 48, 54]
    assert all(first == panel.times[0] for first, _, _ in seen)
    assert table["fold"].unique().sort().to_list() == [1, 2, 3]
    assert (table.filter(pl.col("geo") == "national")["n_weeks"] == 6).all()
    ends = table.group_by("fold").agg(pl.col("train_end").first()).sort("fold")["train_end"]
    assert [str(e) for e in ends] == [str(end) for _, end, _ in seen]


@pytest.mark.slow
def test_time_slice_cv_with_map(sim, panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = time_slice_cv(sim.formula, panel, folds=2, horizon=8, method="map", seed=1)
    assert table["fold"].unique().sort().to_list() == [1, 2]
    assert table.filter(pl.col("geo") == "all geos").height == 2
    assert np.isfinite(table.select("r2", "mape").to_numpy()).all()
    assert (table.filter(pl.col("geo") == "all geos")["mape"] < 0.25).all()


def test_validation_mistakes(sim, panel):
    with pytest.raises(DataError, match="training weeks"):
        time_slice_cv(sim.formula, panel, folds=6, horizon=8, method="map")
    with pytest.raises(DataError, match="holdout_weeks"):
        evaluate_holdout(sim.formula, panel, holdout_weeks=0, method="map")
    with pytest.raises(DataError, match="hold out fewer"):
        evaluate_holdout(sim.formula, panel, holdout_weeks=55, method="map")
