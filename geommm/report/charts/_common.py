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

from geommm.errors import SchemaError
from geommm.analysis.tables import NATIONAL

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


def inline_data(df: pl.DataFrame) -> alt.InlineData:
    """Turn a Polars table into JSON-safe inline rows for Vega-Lite."""
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
    return alt.InlineData(values=df.select(exprs).to_dicts())


def as_text(df: pl.DataFrame, column: str) -> pl.DataFrame:
    """Make a label column plain text (lists of geos become 'a, b')."""
    dtype = df.schema[column]
    if isinstance(dtype, pl.List | pl.Array):
        return df.with_columns(pl.col(column).cast(pl.List(pl.String)).list.join(", "))
    return df.with_columns(pl.col(column).cast(pl.String))


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


def is_finite(x: Any) -> bool:
    """True for real, finite numbers (filters NaN/None out of summaries)."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
