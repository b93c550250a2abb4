"""Out-of-sample checks: does the model predict weeks it was not fitted on?

In-sample fit flatters a flexible model. Holding out the last weeks, or rolling
the forecast origin through the panel (time-slice cross-validation), measures
what matters for planning: accuracy on the future. Every fold refits from
scratch on its training weeks, so prefer ``method="map"`` or ``"advi"`` here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from geommm import _checks as check
from geommm.analysis.metrics import accuracy_table
from geommm.analysis.predict import predict
from geommm.data import Panel, read_panel
from geommm.errors import DataError

#: Fewest training weeks a fold may have: below this, trend and seasonality are guesses.
MIN_TRAIN_WEEKS = 16

ModelSource = str | Callable[[Panel], Any]


@dataclass
class HoldoutResult:
    """Accuracy on held-out weeks: ``metrics`` (geo, r2, mape, n_weeks; "all geos" and
    "national" rows), ``predictions`` (geo, time, mean, hdi_low, hdi_high, actual),
    ``coverage`` (share of actual weeks inside the interval) and the training ``fit``."""

    metrics: pl.DataFrame
    predictions: pl.DataFrame
    coverage: float
    hdi_prob: float
    train_end: np.datetime64
    fit: Any

    def __repr__(self) -> str:
        overall = self.metrics.filter(pl.col("geo") == "all geos").row(0, named=True)
        weeks = self.predictions["time"].n_unique()
        return (
            f"HoldoutResult({weeks} held-out weeks after {self.train_end}: "
            f"R^2 {overall['r2']:.3f}, "
            f"MAPE {overall['mape']:.1%}, {self.coverage:.0%} of actuals inside the "
            f"{self.hdi_prob:.0%} interval)"
        )


def evaluate_holdout(
    model: ModelSource,
    panel=None,
    *,
    holdout_weeks: int,
    geo: str = "geo",
    time: str = "time",
    hdi_prob: float = 0.9,
    model_kwargs: Mapping[str, Any] | None = None,
    **fit_kwargs: Any,
) -> HoldoutResult:
    """Fit on all but the last ``holdout_weeks`` weeks, predict those, score them.

    ``model`` is a formula (then ``panel`` is the data) or a factory called with the
    training Panel that returns a GeoMMM (for lift tests, priors, population...).
    ``model_kwargs`` go to GeoMMM, ``fit_kwargs`` to ``GeoMMM.fit``.
    """
    hdi_prob = check.hdi_prob(hdi_prob)
    full = _full_panel(model, panel, geo, time)
    train, test = _split(full, len(full.times) - _positive(holdout_weeks, "holdout_weeks"))
    return _score(model, train, test, hdi_prob, model_kwargs, fit_kwargs)


def time_slice_cv(
    model: ModelSource,
    panel=None,
    *,
    folds: int = 3,
    horizon: int,
    geo: str = "geo",
    time: str = "time",
    hdi_prob: float = 0.9,
    model_kwargs: Mapping[str, Any] | None = None,
    **fit_kwargs: Any,
) -> pl.DataFrame:
    """Rolling-origin folds: fold k trains on the weeks before its origin and predicts
    the next ``horizon`` weeks; the last fold ends at the panel's last week.

    Returns one table: fold, train_end, geo, r2, mape, n_weeks, coverage (rows per geo
    plus "all geos" and "national").
    """
    hdi_prob = check.hdi_prob(hdi_prob)
    full = _full_panel(model, panel, geo, time)
    folds, horizon = _positive(folds, "folds"), _positive(horizon, "horizon")
    n = len(full.times)
    first_origin = n - folds * horizon
    if first_origin < MIN_TRAIN_WEEKS:
        raise DataError(
            f"{folds} folds x {horizon} weeks leave {first_origin} training weeks in the first "
            f"fold (panel has {n}); use fewer folds or a shorter horizon so at least "
            f"{MIN_TRAIN_WEEKS} weeks remain"
        )
    tables = []
    for k in range(folds):
        origin = first_origin + k * horizon
        train, test = _split(full, origin, origin + horizon)
        result = _score(model, train, test, hdi_prob, model_kwargs, fit_kwargs)
        tables.append(
            result.metrics.with_columns(
                pl.lit(k + 1).alias("fold"),
                pl.lit(np.datetime64(result.train_end, "D").item()).alias("train_end"),
                pl.lit(result.coverage).alias("coverage"),
            )
        )
    return pl.concat(tables).select("fold", "train_end", "geo", "r2", "mape", "n_weeks", "coverage")


# ------------------------------------------------------------------------- helpers
def _full_panel(model: ModelSource, panel, geo: str, time: str) -> Panel:
    if panel is None:
        raise DataError(
            "pass the panel to validate on: evaluate_holdout(formula_or_factory, panel, ...)"
        )
    return panel if isinstance(panel, Panel) else read_panel(panel, geo=geo, time=time)


def _positive(value: int, name: str) -> int:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise DataError(f"{name} must be a whole number of weeks >= 1, got {value!r}")
    return int(value)


def _split(panel: Panel, origin: int, end: int | None = None) -> tuple[Panel, Panel]:
    """Training weeks before index ``origin`` and test weeks ``origin..end-1``."""
    times = panel.times
    if origin < MIN_TRAIN_WEEKS:
        raise DataError(
            f"only {origin} training weeks would remain (panel has {len(times)}); hold out "
            f"fewer weeks so at least {MIN_TRAIN_WEEKS} remain for fitting"
        )
    if origin >= len(times):
        raise DataError(f"nothing to hold out: the panel has {len(times)} weeks")
    end = len(times) if end is None else end
    train = panel.select_times(None, times[origin - 1])
    return train, panel.select_times(times[origin], times[end - 1])


def _build(model: ModelSource, train: Panel, model_kwargs):
    from geommm.mmm import GeoMMM

    if callable(model):
        return model(train)
    return GeoMMM(model, data=train, **dict(model_kwargs or {}))


def _score(
    model, train: Panel, test: Panel, hdi_prob: float, model_kwargs, fit_kwargs
) -> HoldoutResult:
    fit = _build(model, train, model_kwargs).fit(**{"progressbar": False, **fit_kwargs})
    pred = predict(fit, test, hdi_prob=hdi_prob)
    G, T = test.n_geos, test.n_times
    actual = pred["actual"].to_numpy().reshape(G, T)
    metrics = accuracy_table(actual, pred["mean"].to_numpy().reshape(G, T), test.geos)
    inside = (pred["actual"] >= pred["hdi_low"]) & (pred["actual"] <= pred["hdi_high"])
    return HoldoutResult(metrics, pred, float(inside.mean()), hdi_prob, train.times[-1], fit)
