"""The formula's ``holidays(...)`` terms -> control columns, before any scaling.

Each term adds 0/1 columns (one per holiday, or one for all of them) that the model
treats as ordinary controls: standardised, one coefficient shared by the geos, and
in the contributions as one row named by the term's text. Column names are
``"<holiday name>"`` (or the term's text with ``each=False``).

When fitting, a holiday that never falls in the panel's weeks has no data, so its
column is left out, with a warning naming it. With the fitted columns given
(``known``: prediction on new weeks, a refresh) exactly those columns are built,
a holiday absent from the new weeks as zeros.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

from geommm.data.holidays import (
    Calendar,
    calendar_dates,
    check_event_geos,
    event_dates,
    per_geo_text,
    weekly_columns,
)
from geommm.errors import DataWarning, FormulaError


def holiday_controls(
    spec, panel, known: Mapping[str, str | None] | None = None
) -> tuple[np.ndarray, list[str], list[str]]:
    """``(G, T, K)`` columns, their names and their groups (the term texts).

    ``known``: the fitted control columns, name -> group (None when the group was not
    saved); then exactly this term's fitted columns are built."""
    G, T = panel.n_geos, panel.n_times
    blocks, names, groups = [np.zeros((G, T, 0))], [], []
    for term in spec.holidays:
        values, cols = _term_columns(term, panel)
        clash = sorted(set(cols) & set(names))
        if clash:
            raise FormulaError(
                f"{term.label}: column(s) {clash} are also built by another holidays() term; "
                "give each holiday or event one term"
            )
        if known is None:
            wanted = [c for k, c in enumerate(cols) if values[..., k].any()]
            dropped = [c for c in cols if c not in wanted]
            if dropped:
                warnings.warn(
                    f"{term.label}: {len(dropped)} holiday(s) fall in none of the panel's weeks "
                    f"and are left out: {dropped[:10]}",
                    DataWarning, stacklevel=4,
                )
        else:
            wanted = [
                n for n, grp in known.items() if grp == term.label or (grp is None and n in cols)
            ]
        zero = np.zeros((G, T))
        block = [values[..., cols.index(n)] if n in cols else zero for n in wanted]
        blocks.append(np.stack(block, axis=-1) if block else np.zeros((G, T, 0)))
        names += wanted
        groups += [term.label] * len(wanted)
    return np.concatenate(blocks, axis=-1), names, groups


def _term_columns(term, panel) -> tuple[np.ndarray, tuple[str, ...]]:
    geos = list(panel.geos)
    times = np.asarray(panel.times, dtype="datetime64[D]")
    first = times[0].astype(object).year - 1
    last = times[-1].astype(object).year + 1
    years = list(range(first, last + 1))
    countries = _per_geo(term.country, term.country_from, panel, term)
    subdivisions = _per_geo(term.subdivision, term.subdivision_from, panel, term)
    if term.event_rows:
        check_event_geos(term.event_rows, geos, term.label)
    cache: dict[tuple, Calendar] = {}
    calendars: list[Calendar] = []
    for g, geo in enumerate(geos):
        cal: Calendar = {}
        if countries[g]:
            country = countries[g]
            sub = _subdivision(subdivisions[g], country)
            key = (country, sub)
            if key not in cache:
                cache[key] = calendar_dates(country, sub, years, term.label)
            for day, day_names in cache[key].items():
                cal.setdefault(day, []).extend(day_names)
        for day, day_names in event_dates(term.event_rows, geo).items():
            cal.setdefault(day, []).extend(day_names)
        calendars.append(cal)
    return weekly_columns(times, calendars, week=term.week, each=term.each, single_name=term.label)


def _per_geo(fixed: str | None, column: str | None, panel, term) -> list[str | None]:
    if column is not None:
        return per_geo_text(panel.frame, panel.geo_col, panel.geos, column, term.label)
    return [fixed] * panel.n_geos


def _subdivision(value: str | None, country: str) -> str | None:
    """'US-CA' and 'CA' both mean California for country 'US'; blank means national."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    return value.removeprefix(f"{country}-")
