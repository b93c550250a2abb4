"""Shared plumbing for the chart modules: column checks and the Polars -> Vega boundary.

Charts hand Vega-Lite inline rows built here (not the DataFrame itself) so a
20-geo x 156-week table never trips Altair's 5,000-row guard and dates are
serialised the same way in every chart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import altair as alt
import polars as pl

from geommm.analysis.tables import NATIONAL
from geommm.errors import SchemaError

#: Short axis/legend wording reused by several charts.
HDI_TITLE = "credible interval (HDI)"
#: Date axis labels that always carry the year (a two-year panel has two Januaries).
DATE_AXIS = alt.Axis(format="%b %Y", labelOverlap=True)

_SIG_FIGS = 5
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S"  # no zone: Vega reads it as local time, like Altair does


def require_columns(df: pl.DataFrame, columns: Iterable[str], table: str) -> None:
    """Fail early, naming the table and the missing columns, instead of a blank chart."""
    if not isinstance(df, pl.DataFrame):
        raise TypeError(f"{table}: expected a polars.DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaError(f"{table} table is missing column(s) {missing}; it has {df.columns}.")


class _SharedRows(alt.InlineData):
    """Inline rows that Altair shares instead of copying.

    Altair deep-copies a chart's whole spec, inline rows included, each time a
    chart is layered, given properties or parameters; the decomposition chart's
    ~20,000 rows were copied dozens of times (seconds of a report). The rows
    built by :func:`inline_data` are never changed after they are made, so every
    copy may share them."""

    def __deepcopy__(self, memo: Any = None) -> _SharedRows:
        return self


def inline_data(df: pl.DataFrame) -> alt.InlineData:
    """Turn a Polars table into JSON-safe inline rows for Vega-Lite (shared, not copied)."""
    exprs = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if dtype.is_temporal() and dtype not in (pl.Duration, pl.Time):
            if isinstance(dtype, pl.Datetime) and dtype.time_zone:
                col = col.dt.replace_time_zone(None)  # show wall-clock time of the data's zone
            exprs.append(col.cast(pl.Datetime("us")).dt.strftime(_TIME_FORMAT))
        elif dtype.is_float():
            # 5 significant digits is far below what a chart can show and halves the HTML
            exprs.append(col.fill_nan(None).round_sig_figs(_SIG_FIGS))
        elif isinstance(dtype, pl.List | pl.Array):
            exprs.append(col.cast(pl.List(pl.String)).list.join(", "))
        else:
            exprs.append(col)
    return _SharedRows(values=df.select(exprs).to_dicts())


def as_text(df: pl.DataFrame, column: str) -> pl.DataFrame:
    """Make a label column plain text (lists of geos become 'a, b')."""
    dtype = df.schema[column]
    if isinstance(dtype, pl.List | pl.Array):
        return df.with_columns(pl.col(column).cast(pl.List(pl.String)).list.join(", "))
    return df.with_columns(pl.col(column).cast(pl.String))


#: Month steps a date axis may tick at: every month, every second month, quarter, half, year...
_MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60, 120)
#: Room one "Sep 2024" label needs, in pixels, with a gap to the next.
_DATE_LABEL_PX = 60


def date_axis(times: pl.Series, width: int) -> alt.Axis:
    """Date axis with the year on every label and at most one label per month.

    Vega's own ticks on a weekly axis can fall twice in a month ("Jan 2023 Jan
    2023"); here the ticks sit on month starts, every 1, 2, 3, 6 or 12 months,
    the smallest step whose labels fit in ``width`` pixels.
    """
    first, last = times.min(), times.max()
    months = 1 if first is None else (last.year - first.year) * 12 + last.month - first.month + 1
    room = max(2, width // _DATE_LABEL_PX)
    step = next((s for s in _MONTH_STEPS if months / s <= room), _MONTH_STEPS[-1])
    return alt.Axis(
        format="%b %Y",
        labelOverlap=True,
        tickCount=alt.TimeIntervalStep(interval="month", step=step),
    )


def time_scale(times: pl.Series) -> alt.Scale:
    """A time scale whose domain is fixed to the first and last of ``times``.

    A layer left with no rows for the geo on show (the holdout shading of a geo
    without holdout weeks) then cannot leave the scale without a domain, which
    Vega reports as "Infinite extent". Same local-time reading as :func:`inline_data`.
    """
    ends = inline_data(pl.DataFrame({"t": [times.min(), times.max()]}, schema={"t": times.dtype}))
    parts = []
    for row in ends.values:
        date, clock = str(row["t"]).split("T")
        year, month, day = (int(x) for x in date.split("-"))
        hours, minutes, seconds = (int(x) for x in clock.split(":"))
        parts.append(
            alt.DateTime(
                year=year, month=month, date=day, hours=hours, minutes=minutes, seconds=seconds
            )
        )
    return alt.Scale(domain=parts)


def unique_in_order(values: Sequence[Any] | pl.Series) -> list[Any]:
    """Distinct values in first-seen order (keeps the order the model produced)."""
    seen: dict[Any, None] = {}
    for v in values:
        if v is not None:
            seen.setdefault(v, None)
    return list(seen)


def geos_national_first(geos: Iterable[str]) -> list[str]:
    """Geo list with 'national' on top, the rest sorted, as a planner scans them."""
    geos = set(geos)
    rest = sorted(g for g in geos if g != NATIONAL)
    return ([NATIONAL] if NATIONAL in geos else []) + rest


def dropdown(name: str, options: Sequence[Any], label: str, value: Any = None) -> alt.Parameter:
    """A select-box parameter; the HTML report renders it above the chart."""
    options = list(options)
    if not options:
        raise SchemaError(f"No values to choose from for the {label!r} selector.")
    return alt.param(
        name=name,
        value=options[0] if value is None else value,
        bind=alt.binding_select(options=options, name=f"{label} "),
    )


def facet_columns(n_panels: int, max_columns: int = 4) -> int:
    """Columns for ``n_panels`` small multiples that leave no cell of the grid empty.

    A wrapped facet with a short last row draws blank cells (and, with a shared
    axis, an axis under nothing). So: one row when the panels fit, else the
    largest divisor of ``n_panels`` up to ``max_columns`` (10 geos -> 2 x 5, not
    3 + 3 + 3 + 1). A prime count has no such divisor; then the fewest empty
    cells win (see :func:`facet_has_gaps`).
    """
    if n_panels <= max_columns:
        return max(n_panels, 1)
    divisors = [c for c in range(max_columns, 1, -1) if n_panels % c == 0]
    if divisors:
        return divisors[0]
    return min(range(max_columns, 1, -1), key=lambda c: -n_panels % c)


#: Room for charts in the report page (its <main> is 1180 px less 64 px padding).
PAGE_WIDTH = 1100


def facet_width(columns: int, *, axis_px: int = 85, widest: int = 230) -> int:
    """Panel width so ``columns`` panels, each with a y axis of ``axis_px``, fit the page."""
    return max(120, min(widest, PAGE_WIDTH // max(columns, 1) - axis_px))


def facet_has_gaps(n_panels: int, columns: int) -> bool:
    """True when the last row of a ``columns``-wide grid is short (empty cells remain)."""
    return n_panels % columns != 0 and n_panels > columns


def is_finite(x: Any) -> bool:
    """True for real, finite numbers (filters NaN/None out of summaries)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
