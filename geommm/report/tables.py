"""Polars tables as readable HTML: numbers rounded for people, every string escaped.

A report table is read, not computed with: 12,346 beats 12345.6789, an
R-hat needs three decimals, and an ESS none.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections.abc import Mapping
from typing import Any

import polars as pl

MISSING = "–"
_NEGATIVE_ZERO = re.compile(r"-0(\.0*)?%?")

#: Column-name words that pick a fixed format whatever the values.
_INTEGER_WORDS = {"ess", "divergences", "draws", "tune", "chains", "lag", "n"}
_PERCENT_WORDS = {"share", "pct", "percent", "relative", "mape", "smape", "wape", "coverage"}
#: Text longer than this wraps inside its cell instead of widening the table past the page.
WRAP_AFTER = 40


def _words(column: str) -> set[str]:
    return set(column.lower().replace("-", "_").split("_"))


def _by_magnitude(size: float) -> str:
    """Format spec for numbers of typical size ``size`` (whole units from 100 up)."""
    if size >= 100:
        return ",.0f"
    if size >= 0.01:
        return ".2f"
    return ".3g"


def number_format(column: str, typical: float | None = None) -> str:
    """Format spec for a column: from its name if telling, else from its typical magnitude."""
    words = _words(column)
    if "r" in words and "hat" in words or column.lower() == "rhat":
        return ".3f"
    if words & _INTEGER_WORDS:
        return ",.0f"
    if words & _PERCENT_WORDS:
        return "+.1%" if "change" in words else ".1%"
    return _by_magnitude(typical) if typical is not None else ""


def format_number(value: float, column: str = "", spec: str | None = None) -> str:
    """Human-friendly number: a column-wide ``spec``, or one chosen for this value alone."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and math.isinf(value):
        return "∞" if value > 0 else "−∞"
    spec = spec or number_format(column)
    if not spec:
        if isinstance(value, int):
            return f"{value:,}"
        if value == 0:
            return "0"
        spec = _by_magnitude(abs(value))
    text = format(value, spec)
    # -0.001 shown with no decimals is "-0": a sign on a rounded zero only confuses
    return text[1:] if _NEGATIVE_ZERO.fullmatch(text) else text


def typical_size(series: pl.Series) -> float | None:
    """Median absolute non-zero value: what the column's numbers usually look like."""
    if not series.dtype.is_float():
        return None
    values = series.drop_nulls().drop_nans().abs()
    values = values.filter((values > 0) & values.is_finite())
    return float(values.median()) if values.len() else None


def format_cell(value: Any, column: str = "", spec: str | None = None) -> str:
    """Any cell value as escaped HTML text."""
    if value is None:
        return MISSING
    if isinstance(value, bool | int | float):
        return html.escape(format_number(value, column, spec))
    if isinstance(value, dt.datetime):
        return html.escape(value.isoformat(sep=" ", timespec="minutes"))
    if isinstance(value, dt.date):
        return html.escape(value.isoformat())
    if isinstance(value, list | tuple):
        return html.escape(", ".join(str(v) for v in value))
    return html.escape(str(value))


def html_table(df: pl.DataFrame, *, max_rows: int = 200, caption: str | None = None) -> str:
    """Render ``df`` as an HTML table (at most ``max_rows`` rows, with a note when cut)."""
    numeric = {c for c, t in df.schema.items() if t.is_numeric()}
    specs = {c: number_format(c, typical_size(df[c])) or None for c in numeric}
    kind = {
        c: "num" if c in numeric else ("txt wrap" if _long_text(df[c]) else "txt")
        for c in df.columns
    }
    head = "".join(f'<th class="{kind[c]}">{html.escape(c)}</th>' for c in df.columns)
    body = []
    for row in df.head(max_rows).iter_rows(named=True):
        cells = "".join(
            f'<td class="{kind[c]}">{format_cell(v, c, specs.get(c))}</td>' for c, v in row.items()
        )
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    note = ""
    if df.height > max_rows:
        note = (
            f'<p class="note">Showing the first {max_rows:,} of {df.height:,} rows; '
            "the full table is available from the Fit object.</p>"
        )
    return (
        f'<div class="table-wrap"><table>{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>{note}</div>"
    )


def _long_text(series: pl.Series) -> bool:
    """A text column with an entry long enough to need wrapping (notes, messages)."""
    if series.dtype != pl.String:
        return False
    longest = series.str.len_chars().max()
    return longest is not None and longest > WRAP_AFTER


def _cell_class(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "num"
    return "txt wrap" if len(str(value)) > WRAP_AFTER else "txt"


def mapping_table(values: Mapping[str, Any], *, caption: str | None = None) -> str:
    """A two-column name/value table for small dicts (diagnostics, budget summary)."""
    rows = "".join(
        f'<tr><th class="txt">{html.escape(str(k))}</th>'
        f'<td class="{_cell_class(v)}">{format_cell(v, str(k))}</td></tr>'
        for k, v in values.items()
    )
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f'<div class="table-wrap"><table class="kv">{cap}<tbody>{rows}</tbody></table></div>'
