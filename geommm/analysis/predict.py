"""Predictions for weeks the model has not seen, with honest predictive intervals.

A new panel is turned into model arrays with the *training* scales, control
standardisation and time origin, so trend and seasonality continue where the
fit left off. Media carry over into the new weeks from the training weeks just
before them, as they would in the market.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from geommm.analysis.draws import summarise
from geommm.analysis.forward import ForwardModel
from geommm.data import Panel, read_panel
from geommm.model.design import ModelData, build_model_data

#: With fewer posterior draws than this (MAP, short runs), each draw gets several noise
#: samples so the interval still reflects the observation noise.
MIN_PREDICTIVE_SAMPLES = 200
#: Placeholder KPI for a new panel without the KPI column (the model needs the column).
_NO_KPI = 1.0


def new_model_data(fit, new_panel) -> tuple[ModelData, bool]:
    """ModelData for ``new_panel`` on the fit's scales; also whether it holds the actual KPI."""
    panel = as_panel(new_panel, fit.panel)
    response = fit.spec.response
    has_kpi = response in panel.columns
    if not has_kpi:
        frame = panel.frame.with_columns(pl.lit(_NO_KPI).alias(response))
        panel = Panel(frame, panel.geo_col, panel.time_col, source=panel.source)
    data = build_model_data(
        fit.spec, panel, population=fit.population, reference=fit.data, reference_panel=fit.panel
    )
    return data, has_kpi


def as_panel(new_panel, like: Panel) -> Panel:
    """A Panel (validated) from a Panel or a DataFrame with the training panel's key columns."""
    if isinstance(new_panel, Panel):
        return new_panel
    return read_panel(new_panel, geo=like.geo_col, time=like.time_col)


def media_history(train: ModelData, first_week: np.datetime64) -> np.ndarray:
    """(G, L-1, C) media of the weeks just before ``first_week``, from the training panel.

    Weeks the training panel does not cover (before it, or in a gap) count as no media.
    """
    lags = train.max_lag - 1
    out = np.zeros((train.n_geos, lags, train.n_channels))
    position = {t: i for i, t in enumerate(np.asarray(train.times, dtype="datetime64[D]"))}
    for k in range(lags):
        week = np.datetime64(first_week, "D") - np.timedelta64(7 * (lags - k), "D")
        i = position.get(week)
        if i is not None:
            out[:, k, :] = train.media_input[:, i, :]
    return out


def expected_kpi(forward: ForwardModel, data: ModelData, history: np.ndarray) -> np.ndarray:
    """(D, G, T) expected KPI of new weeks: baseline parts plus media with carryover in."""
    return forward.link.predicted_kpi(forward, data, history)


def predictive_draws(forward: ForwardModel, expected: np.ndarray, seed: int = 0) -> np.ndarray:
    """Expected KPI plus observation noise; repeated when there are few posterior draws."""
    reps = max(1, math.ceil(MIN_PREDICTIVE_SAMPLES / forward.n_draws))
    return np.concatenate([forward.predictive(expected, seed=seed + r) for r in range(reps)])


def predict(
    fit, new_panel, hdi_prob: float = 0.9, include_noise: bool = True, seed: int = 0
) -> pl.DataFrame:
    """Predicted KPI for the weeks of ``new_panel`` (same geos and columns, any weeks).

    Returns geo, time, mean, hdi_low, hdi_high (+ actual when the KPI column is
    present). ``include_noise=False`` gives the interval of the expected KPI only.
    """
    data, has_kpi = new_model_data(fit, new_panel)  # raises DataError on other geos
    forward = fit.forward
    history = media_history(fit.data, data.times[0])
    draws = expected_kpi(forward, data, history)
    if include_noise:
        draws = predictive_draws(forward, draws, seed)
    s = summarise(draws, hdi_prob)
    G, T = data.n_geos, data.n_times
    columns = {
        "geo": np.repeat(np.array(data.geos), T),
        "time": np.tile(data.times, G),
        "mean": s["mean"].reshape(-1),
        "hdi_low": s["hdi_low"].reshape(-1),
        "hdi_high": s["hdi_high"].reshape(-1),
    }
    if has_kpi:
        columns["actual"] = data.kpi.reshape(-1)
    return pl.DataFrame(columns).with_columns(pl.col("time").cast(pl.Date))
