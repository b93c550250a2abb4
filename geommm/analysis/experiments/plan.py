"""The weeks after the panel: business-as-usual media, and what a test does to them.

A designed test lies in the future, so its business-as-usual (BAU) spend is a
forecast: by default the same week one year (52 weeks) earlier, which keeps the
season's flighting; where the panel is shorter than a year, the average of its
most recent weeks. A user plan (geo, week, channel, spend) overrides any cell.
Model input (exposure) follows spend at the source week's own price, or at the
geo-channel's average price for planned cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from geommm.errors import DesignError

#: Weeks back to the "same week last year".
YEAR_WEEKS = 52
#: Recent weeks averaged for BAU when the panel is shorter than a year.
RECENT_WEEKS = 13
TIME_COLUMNS = ("week", "time", "date")


@dataclass(frozen=True)
class FuturePlan:
    """BAU media for ``n_weeks`` weeks after the panel, with the panel's last weeks as history."""

    first_week: np.datetime64  # the first week after the panel
    input: np.ndarray  # (G, H, C) model input
    spend: np.ndarray  # (G, H, C)
    history: np.ndarray  # (G, L-1, C) model input of the panel's last weeks (carryover in)

    @property
    def n_weeks(self) -> int:
        return self.spend.shape[1]

    def week(self, k: int) -> np.datetime64:
        return self.first_week + np.timedelta64(7 * int(k), "D")


def future_plan(data, n_weeks: int, plan: pl.DataFrame | None = None, time_col: str | None = None) -> FuturePlan:
    """BAU input and spend for the ``n_weeks`` weeks after the panel (see module doc)."""
    T = data.n_times
    if T >= YEAR_WEEKS:
        k = np.arange(n_weeks)
        source = T + k - YEAR_WEEKS * (1 + k // YEAR_WEEKS)  # same week of the latest year
        media, spend = data.media_input[:, source], data.spend[:, source]
    else:
        recent = slice(max(0, T - RECENT_WEEKS), T)
        media = np.repeat(data.media_input[:, recent].mean(axis=1, keepdims=True), n_weeks, axis=1)
        spend = np.repeat(data.spend[:, recent].mean(axis=1, keepdims=True), n_weeks, axis=1)
    media, spend = media.copy(), spend.copy()
    first = np.datetime64(data.times[-1], "D") + np.timedelta64(7, "D")
    if plan is not None:
        _apply_plan(plan, data, first, media, spend, time_col)
    lags = data.max_lag - 1
    history = data.media_input[:, T - lags:] if lags else data.media_input[:, :0]
    if history.shape[1] < lags:  # a panel shorter than the carryover: zeros before it
        pad = np.zeros((data.n_geos, lags - history.shape[1], data.n_channels))
        history = np.concatenate([pad, history], axis=1)
    return FuturePlan(first, media, spend, history)


def _apply_plan(plan: pl.DataFrame, data, first: np.datetime64, media, spend, time_col) -> None:
    """Overwrite BAU cells with a user's plan (spend; input at the cell's average price)."""
    week_col = next((c for c in (time_col, *TIME_COLUMNS) if c and c in plan.columns), None)
    missing = [c for c in ("geo", "channel", "spend") if c not in plan.columns]
    if week_col is None or missing:
        raise DesignError(f"plan needs columns geo, week, channel, spend; it has {plan.columns}")
    geos, chans = list(data.geos), list(data.channels)
    unknown = sorted({str(g) for g in plan["geo"].to_list() if g not in geos}
                     | {str(c) for c in plan["channel"].to_list() if c not in chans})
    if unknown:
        raise DesignError(f"plan names unknown geo(s) or channel(s) {unknown}")
    col = plan[week_col]
    days = (col.str.to_date() if col.dtype == pl.String else col.cast(pl.Date)).to_numpy()
    offset = (days.astype("datetime64[D]") - first).astype(int)
    if (offset < 0).any() or (offset % 7 != 0).any():
        raise DesignError(f"plan: weeks must be after the panel ({first} onwards) on its weekly grid")
    k = offset // 7
    g = np.array([geos.index(x) for x in plan["geo"]])
    c = np.array([chans.index(x) for x in plan["channel"]])
    values = plan["spend"].cast(pl.Float64).to_numpy()
    if not np.all(np.isfinite(values) & (values >= 0)):
        raise DesignError("plan: spend must be a number >= 0 in every row")
    inside = k < spend.shape[1]
    g, c, k, values = g[inside], c[inside], k[inside], values[inside]
    spend[g, k, c] = values
    media[g, k, c] = values * data.input_per_spend[g, c]


def with_test(plan: FuturePlan, offset: int, weeks: int, multiplier: float) -> np.ndarray:
    """(G, H, C) model input with every geo-channel's spend times ``multiplier`` in the window.

    Geo-channel cells are independent in the model, so one pass gives each cell's lift."""
    out = plan.input.copy()
    out[:, offset:offset + weeks] *= multiplier
    return out
