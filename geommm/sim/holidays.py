"""A known holiday effect added to a simulated panel, for the holidays() term's recovery.

The bump is additive in KPI units: in every week holding one of the country's public
holidays, each geo's KPI rises by ``lift`` times that geo's mean KPI before the bump.
Media contributions and ROI are unchanged, so the simulation's media truth still holds.
The week convention is the model's (a week labelled ``d`` covers ``d .. d+6``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from geommm.data.holidays import calendar_dates, weekly_columns


@dataclass(frozen=True)
class HolidayBump:
    """The bumped panel and the truth: ``weeks`` ``(G, T)`` 0/1, ``lift`` per holiday week."""

    panel: pl.DataFrame
    weeks: np.ndarray
    lift: float
    country: str

    @property
    def share(self) -> float:
        """Share of geo-weeks that hold a holiday."""
        return float(self.weeks.mean())

    def scaled_effect(self) -> float:
        """The bump in units of the geo's mean KPI *after* the bump (geommm's KPI scale):
        ``lift / (1 + lift * share)`` when every geo has the same calendar."""
        return self.lift / (1.0 + self.lift * self.share)


def add_holiday_bump(
    panel: pl.DataFrame, *, country: str = "CA", lift: float = 0.15,
    kpi: str = "revenue", geo: str = "geo", time: str = "week",
) -> HolidayBump:
    """``panel`` with a holiday bump of ``lift`` x the geo's mean KPI in holiday weeks."""
    frame = panel.sort(geo, time)
    geos = frame[geo].unique(maintain_order=True).to_list()
    times = np.asarray(frame[time].unique(maintain_order=True).to_numpy(), dtype="datetime64[D]")
    years = range(times[0].astype(object).year - 1, times[-1].astype(object).year + 2)
    calendar = calendar_dates(country, None, list(years), f"add_holiday_bump(country={country!r})")
    values, _ = weekly_columns(times, [calendar] * len(geos), each=False)
    weeks = values[..., 0]  # (G, T)
    y = frame[kpi].to_numpy().reshape(len(geos), len(times))
    bumped = y + lift * y.mean(axis=1, keepdims=True) * weeks
    out = frame.with_columns(pl.Series(kpi, bumped.reshape(-1)))
    return HolidayBump(panel=out, weeks=weeks, lift=float(lift), country=country)
