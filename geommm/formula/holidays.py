"""``holidays(...)`` in a formula -> a :class:`HolidayTerm` (checked, events table read).

Everything that can be checked without the panel's geos and weeks is checked here,
so a typo in a country code or a missing events column fails at ``GeoMMM(...)``
with the term's own text in the message.
"""

from __future__ import annotations

from collections.abc import Sequence

from formulae.terms.call_resolver import LazyValue, LazyVariable

from geommm.data.events import read_events
from geommm.data.holidays import WEEK_LABELS, calendar_dates
from geommm.errors import FormulaError
from geommm.formula.terms import HolidayTerm

KEYWORDS = ("country", "subdivision", "country_from", "subdivision_from", "events", "each", "week")
_COLUMN_KEYWORDS = ("country_from", "subdivision_from")


def holiday_term(call, label: str, columns: Sequence[str], geo: str) -> HolidayTerm:
    """The term of one ``holidays(...)`` call; ``label`` is its text in the formula."""
    if call.args:
        raise FormulaError(
            f"{label}: holidays() takes keywords only, e.g. holidays(country='CA') or "
            "holidays(events='events.csv')"
        )
    unknown = sorted(set(call.kwargs) - set(KEYWORDS))
    if unknown:
        raise FormulaError(f"{label}: unknown keyword(s) {unknown}; allowed: {', '.join(KEYWORDS)}")
    kw = {k: _value(v, k, label) for k, v in call.kwargs.items()}
    for key in _COLUMN_KEYWORDS:
        if key in kw and kw[key] != geo and kw[key] not in columns:
            raise FormulaError(
                f"{label}: {key}={kw[key]!r} must name the geo column {geo!r} or a panel column "
                "holding one code per geo"
            )
    for fixed, per_geo in (("country", "country_from"), ("subdivision", "subdivision_from")):
        if fixed in kw and per_geo in kw:
            raise FormulaError(f"{label}: give {fixed}= or {per_geo}=, not both")
    has_country = "country" in kw or "country_from" in kw
    if not has_country and "events" not in kw:
        raise FormulaError(
            f"{label}: say whose holidays: country='CA' (ISO code), country_from=<column> or "
            "events='events.csv' (a table with columns date, name and optionally geo)"
        )
    if ("subdivision" in kw or "subdivision_from" in kw) and not has_country:
        raise FormulaError(f"{label}: a subdivision needs country= or country_from=")
    week = kw.get("week", "start")
    if week not in WEEK_LABELS:
        raise FormulaError(
            f"{label}: week={week!r} must be 'start' (the panel's dates start their weeks, "
            "the default) or 'end' (they end them)"
        )
    each = kw.get("each", True)
    if not isinstance(each, bool):
        raise FormulaError(f"{label}: each= must be True (one column per holiday) or False (one column)")
    for key in ("country", "subdivision", "events"):
        if key in kw and not isinstance(kw[key], str):
            raise FormulaError(f"{label}: {key}= must be text, got {kw[key]!r}")
    if "country" in kw:  # fails now, with the term's text, for an unknown code
        calendar_dates(kw["country"], kw.get("subdivision"), [2000], label)
    rows = read_events(kw["events"], label) if "events" in kw else ()
    return HolidayTerm(
        label=label, country=kw.get("country"), country_from=kw.get("country_from"),
        subdivision=kw.get("subdivision"), subdivision_from=kw.get("subdivision_from"),
        events=kw.get("events"), event_rows=rows, each=each, week=week,
    )


def _value(arg, key: str, label: str):
    if isinstance(arg, LazyValue):
        return arg.value
    if isinstance(arg, LazyVariable):  # an unquoted word: a column for *_from, else text
        return arg.name
    raise FormulaError(f"{label}: {key}= must be a literal value, got {arg!r}")
