"""Accuracy of predictions against actual KPI: R^2 and MAPE per geo and overall."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl


def _r2(actual: np.ndarray, pred: np.ndarray) -> float:
    ss_res = float(((actual - pred) ** 2).sum())
    ss_tot = float(((actual - actual.mean()) ** 2).sum())
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan")


def _mape(actual: np.ndarray, pred: np.ndarray) -> float:
    ok = actual != 0
    return float(np.mean(np.abs((actual[ok] - pred[ok]) / actual[ok]))) if ok.any() else float("nan")


def accuracy_table(actual: np.ndarray, predicted: np.ndarray, geos: Sequence[str]) -> pl.DataFrame:
    """``actual``/``predicted`` are (G, T). Rows per geo, an "all geos" row pooling every
    geo-week, and a "national" row on the weekly sum over geos."""
    rows = [(g, _r2(a, p), _mape(a, p), a.size) for g, a, p in zip(geos, actual, predicted)]
    rows.append(("all geos", _r2(actual.ravel(), predicted.ravel()), _mape(actual.ravel(), predicted.ravel()), actual.size))
    na, npred = actual.sum(axis=0), predicted.sum(axis=0)
    rows.append(("national", _r2(na, npred), _mape(na, npred), na.size))
    return pl.DataFrame(rows, schema=["geo", "r2", "mape", "n_weeks"], orient="row")
