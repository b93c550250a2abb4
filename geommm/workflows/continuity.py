"""Does a new panel continue a fitted one? Same geos and columns, weeks that follow on.

A refresh accepts either the old panel plus new weeks or the new weeks alone. Both
are checked here and merged into one panel of all weeks; any break (a new or missing
geo, a missing column, a gap, history that changed) is a typed error naming the geo,
column and week, because a silent merge would fit a different market.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from geommm.data import Panel, read_panel
from geommm.errors import RefreshError, RestatedHistoryError

WEEK = np.timedelta64(7, "D")


@dataclass(frozen=True)
class Continued:
    """The merged panel of all weeks and where the new weeks start in it."""

    panel: Panel
    first_new: int  # index of the first new week in panel.times
    restated: list[tuple[str, str, str]]  # (geo, week, column) accepted with allow_restated

    @property
    def n_new_weeks(self) -> int:
        return self.panel.n_times - self.first_new


def continue_panel(old: Panel, new, *, allow_restated: bool = False, rtol: float = 1e-9) -> Continued:
    """Merge ``new`` (old + new weeks, or new weeks alone) onto ``old`` after checking it."""
    new = new if isinstance(new, Panel) else read_panel(new, geo=old.geo_col, time=old.time_col)
    _same_geos(old, new)
    columns = [c for c in old.columns if c not in (old.geo_col, old.time_col)]
    missing = [c for c in columns if c not in new.columns]
    if missing:
        raise RefreshError(f"{new.source}: the new panel lacks column(s) {missing} the fit used")
    old_t, new_t = old.times, new.times
    last = old_t[-1]
    before = [t for t in new_t if t < old_t[0] or (t <= last and t not in set(old_t))]
    if before:
        raise RefreshError(
            f"{new.source}: week(s) {[str(t) for t in before[:5]]} are not weeks of the fitted panel "
            f"({old_t[0]} to {last}) and come before its end; a full refit is needed"
        )
    added = new_t[new_t > last]
    if not added.size:
        raise RefreshError(f"{new.source}: no week after the fitted panel's last week {last}; nothing to refresh")
    expected = last + WEEK * np.arange(1, added.size + 1)
    if not np.array_equal(added, expected):
        gap = next(e for a, e in zip(added, expected) if a != e)
        raise RefreshError(
            f"{new.source}: new weeks must follow {last} every 7 days; week {gap} is missing "
            f"(new weeks found: {[str(t) for t in added[:5]]}...)"
        )
    key = [old.geo_col, old.time_col]
    new_frame = new.frame.select(key + columns)
    restated = _restated(old, new_frame, columns, rtol)
    if restated and not allow_restated:
        shown = ", ".join(f"{g} {w} {c}" for g, w, c in restated[:10])
        raise RestatedHistoryError(
            f"{new.source}: {len(restated)} value(s) of weeks already fitted changed (geo week column: "
            f"{shown}{' ...' if len(restated) > 10 else ''}); pass allow_restated=True to use the new "
            "values (method='full' refits on them; 'sequential' keeps the old posterior)",
            restated,
        )
    old_frame = old.frame.select(key + columns)
    if restated:  # allowed: the new values win for the weeks they cover
        old_frame = old_frame.join(new_frame.select(key), on=key, how="anti")
    new_rows = new_frame.filter(pl.col(old.time_col) > pl.lit(last).cast(pl.Date))
    merged = pl.concat([old_frame, new_frame if restated else new_rows], how="vertical_relaxed")
    merged = merged.unique(subset=key, keep="last")
    panel = read_panel(merged, geo=old.geo_col, time=old.time_col)
    return Continued(panel, int(np.searchsorted(panel.times, added[0])), restated)


def _same_geos(old: Panel, new: Panel) -> None:
    extra = sorted(set(new.geos) - set(old.geos))
    gone = sorted(set(old.geos) - set(new.geos))
    if extra:
        raise RefreshError(f"{new.source}: new geo(s) {extra[:10]} were not in the fit; a full refit is needed")
    if gone:
        raise RefreshError(f"{new.source}: geo(s) {gone[:10]} of the fit are missing from the new panel")


def _restated(old: Panel, new_frame: pl.DataFrame, columns: list[str], rtol: float) -> list:
    """(geo, week, column) of overlapping cells whose value changed."""
    key = [old.geo_col, old.time_col]
    both = old.frame.select(key + columns).join(new_frame, on=key, how="inner", suffix="__new")
    out = []
    for c in columns:
        a, b = both[c], both[f"{c}__new"]
        if a.dtype.is_numeric() and b.dtype.is_numeric():
            x, y = a.cast(pl.Float64).to_numpy(), b.cast(pl.Float64).to_numpy()
            changed = ~np.isclose(x, y, rtol=rtol, atol=0.0, equal_nan=True)
        else:
            changed = (a.cast(pl.String) != b.cast(pl.String)).fill_null(True).to_numpy()
        for i in np.flatnonzero(changed):
            out.append((str(both[old.geo_col][int(i)]), str(both[old.time_col][int(i)]), c))
    return sorted(out, key=lambda r: (r[1], r[0], r[2]))
