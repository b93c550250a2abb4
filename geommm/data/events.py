"""A user's table of dated events (a sale, a storm, a launch) for ``holidays(events=...)``.

CSV or Parquet with columns ``date`` and ``name`` and optionally ``geo`` (blank: the
event applies to every geo). Read once, when the formula is parsed; the rows are kept
in the term, so a saved fit does not need the file again.
"""

from __future__ import annotations

import polars as pl

from geommm.data.io import TableSource, parse_dates, read_table
from geommm.data.validate import describe_rows, require_columns, with_row_labels
from geommm.errors import DataError

__all__ = ["EVENT_COLUMNS", "read_events"]

#: Required columns of an events table (``geo`` is optional).
EVENT_COLUMNS = ("date", "name")


def read_events(source: TableSource, term: str) -> tuple[tuple[str, str, str], ...]:
    """An events table as sorted ``(ISO date, name, geo or '')`` rows; errors name ``term``."""
    try:
        table, name = read_table(source, text_columns=("name", "geo"))
    except FileNotFoundError:
        raise DataError(f"{term}: events file {str(source)!r} not found") from None
    where = f"{term}: events table {name}"
    table = with_row_labels(table)
    require_columns(table, EVENT_COLUMNS, source=where, what="events", error=DataError)
    if table.height == 0:
        raise DataError(f"{where} has no rows; it needs one row per dated event")
    dates = parse_dates(table, "date", source=where)
    names = table["name"].cast(pl.String)
    blank = names.is_null() | (names.str.strip_chars() == "")
    if blank.any():
        raise DataError(f"{where}: column 'name' is empty at {describe_rows(table.filter(blank))}")
    geos = (
        table["geo"].cast(pl.String).fill_null("").str.strip_chars()
        if "geo" in table.columns else pl.Series([""] * table.height)
    )
    rows = zip(dates.to_list(), names.str.strip_chars().to_list(), geos.to_list(), strict=True)
    return tuple(sorted((d.isoformat(), n, g) for d, n, g in rows))
