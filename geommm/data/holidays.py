"""Holiday calendars and event tables -> weekly 0/1 columns, built before the model.

Public holidays come from the maintained ``holidays`` package, which carries its
calendars (no network). A user's own dated events come as ``(ISO date, name, geo)``
rows, read by :mod:`geommm.data.events` (this module reads no files).

Week convention: a panel week labelled ``d`` covers the seven days ``d .. d+6``
(``week='start'``, geommm's Monday-starting weeks) or ``d-6 .. d`` (``week='end'``).
A column is 1 in a geo-week when one of its days is the holiday in that geo's
calendar, else 0. Holidays count on their own date, not on an observed substitute
day, so a holiday stays in one week whichever weekday it falls on.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from geommm.errors import DataError, FormulaError

__all__ = ["WEEK_LABELS", "Calendar", "calendar_dates", "check_event_geos", "event_dates", "weekly_columns"]

WEEK_LABELS = ("start", "end")
DAYS_PER_WEEK = 7

#: date -> the names of the holidays/events on it, for one geo.
Calendar = dict[dt.date, list[str]]


def check_event_geos(rows: Sequence[tuple[str, str, str]], geos: Sequence[str], term: str) -> None:
    """Every geo an event names must be one of the panel's."""
    unknown = sorted({g for _, _, g in rows if g and g not in set(geos)})
    if unknown:
        near = difflib.get_close_matches(unknown[0], list(geos), n=3, cutoff=0.5)
        hint = f"; did you mean {near}?" if near else ""
        raise DataError(
            f"{term}: the events table names geo(s) {unknown[:10]} that are not in the panel{hint}"
        )


def calendar_dates(
    country: str, subdivision: str | None, years: Sequence[int], term: str
) -> Calendar:
    """The public holidays of ``country`` (and ``subdivision``) in ``years``, English names
    where the package has them."""
    import holidays

    supported = holidays.list_supported_countries()
    if country not in supported:
        near = difflib.get_close_matches(country.upper(), list(supported), n=3, cutoff=0.5)
        hint = f"; did you mean {near}?" if near else ""
        raise FormulaError(
            f"{term}: country {country!r} has no calendar in the holidays package "
            f"(ISO 3166 alpha-2 codes such as 'US', 'CA', 'GB'){hint}"
        )
    if subdivision is not None and subdivision not in supported[country]:
        near = difflib.get_close_matches(subdivision.upper(), supported[country], n=3, cutoff=0.4)
        hint = f"; did you mean {near}?" if near else ""
        raise FormulaError(
            f"{term}: {country} has no subdivision {subdivision!r}{hint} "
            f"(known: {', '.join(supported[country][:20])}{' ...' if len(supported[country]) > 20 else ''})"
        )
    probe = holidays.country_holidays(country)
    language = "en_US" if "en_US" in getattr(probe, "supported_languages", ()) else None
    cal = holidays.country_holidays(
        country, subdiv=subdivision, years=list(years), observed=False, language=language
    )
    return {day: list(cal.get_list(day)) for day in sorted(cal)}


def event_dates(rows: Sequence[tuple[str, str, str]], geo: str) -> Calendar:
    """The events that apply to ``geo`` (its own rows and the rows for every geo)."""
    out: Calendar = {}
    for day, name, where in rows:
        if not where or where == geo:
            out.setdefault(dt.date.fromisoformat(day), []).append(name)
    return out


def week_index(times: np.ndarray, days: Sequence[dt.date], week: str) -> np.ndarray:
    """Index of the panel week holding each day (-1 when outside the panel)."""
    if week not in WEEK_LABELS:
        raise FormulaError(f"week={week!r} must be one of {WEEK_LABELS}")
    t = np.asarray(times, dtype="datetime64[D]")
    d = np.asarray(list(days), dtype="datetime64[D]")
    if week == "start":
        idx = np.searchsorted(t, d, side="right") - 1
        ok = (idx >= 0) & (d - t[np.clip(idx, 0, None)] < np.timedelta64(DAYS_PER_WEEK, "D"))
    else:
        idx = np.searchsorted(t, d, side="left")
        ok = (idx < len(t)) & (t[np.clip(idx, None, len(t) - 1)] - d < np.timedelta64(DAYS_PER_WEEK, "D"))
    return np.where(ok, idx, -1)


def weekly_columns(
    times: np.ndarray, calendars: Sequence[Calendar], week: str = "start", each: bool = True,
    single_name: str = "any holiday",
) -> tuple[np.ndarray, tuple[str, ...]]:
    """``(G, T, K)`` 0/1 columns from one calendar per geo: one column per holiday name
    (``each``; names in order of first date), or one column "any of them this week"."""
    G, T = len(calendars), len(times)
    names: dict[str, None] = {}
    for cal in calendars:
        for day in sorted(cal):
            names.update(dict.fromkeys(cal[day]))
    order = list(names) if each else [single_name]
    column = {n: k for k, n in enumerate(order)}
    out = np.zeros((G, T, len(order)))
    for g, cal in enumerate(calendars):
        days = sorted(cal)
        if not days:
            continue
        for day, t in zip(days, week_index(times, days, week), strict=True):
            if t < 0:
                continue
            for name in cal[day]:
                out[g, t, column[name if each else single_name]] = 1.0
    return out, tuple(order)


def per_geo_text(frame: pl.DataFrame, geo_col: str, geos: Sequence[str], column: str, term: str) -> list[str | None]:
    """One text value per geo from ``column`` (the geo column itself, or a column constant
    within each geo, e.g. the state a DMA lies in)."""
    if column == geo_col:
        return [str(g) for g in geos]
    if column not in frame.columns:
        raise FormulaError(f"{term}: column {column!r} is not in the panel")
    per = frame.group_by(geo_col).agg(pl.col(column).cast(pl.String).unique().alias("v"))
    mixed = per.filter(pl.col("v").list.len() > 1)
    if mixed.height:
        raise DataError(
            f"{term}: column {column!r} must hold one value per geo; geo "
            f"{mixed[geo_col][0]!r} has {sorted(str(v) for v in mixed['v'][0])}"
        )
    value: Mapping[str, str | None] = dict(zip(per[geo_col].cast(pl.String), per["v"].list.first()))
    return [value.get(str(g)) for g in geos]
