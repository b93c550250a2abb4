"""Enforce schema rules on Polars tables and explain every violation.

The rules come from ``schemas/`` (see :mod:`geommm.data.schema`); this
module only knows how to check each kind of rule and how to word the error:
which source, which column, which rows (or (geo, week) cells) and values,
and what to do about it. Nothing here fills, drops or rewrites data.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import polars as pl

from geommm.data.schema import Rule
from geommm.errors import DataError, SchemaError

__all__ = [
    "LABEL",
    "with_row_labels",
    "with_cell_labels",
    "describe_rows",
    "suggest",
    "require_columns",
    "check_rule",
]

# Internal column carrying a human-readable label of each row for error messages.
LABEL = "__geommm_label__"
_MAX_SHOWN = 5


def with_row_labels(table: pl.DataFrame, prefix: str = "row ") -> pl.DataFrame:
    """Label rows by their 0-based position in the input (header excluded)."""
    return table.with_columns(
        (pl.lit(prefix) + pl.int_range(pl.len()).cast(pl.String)).alias(LABEL)
    )


def with_cell_labels(table: pl.DataFrame, geo: str, time: str) -> pl.DataFrame:
    """Label rows by their (geo, week) cell once both keys are parsed."""
    return table.with_columns(
        pl.format("({}, {})", pl.col(geo), pl.col(time).cast(pl.String)).alias(LABEL)
    )


def describe_rows(
    table: pl.DataFrame, value: str | None = None, limit: int = _MAX_SHOWN, quote: bool = True
) -> str:
    """"row 3 = 'x', row 9 = 'y' and 4 more" for the rows of an already-filtered table.

    ``quote=False`` for descriptions built by geommm itself rather than cell values.
    """
    shown = table.head(limit)
    labels = shown[LABEL].to_list()
    if value is not None:
        values = shown[value].to_list()
        show = _show if quote else str
        items = [f"{label} = {show(v)}" for label, v in zip(labels, values, strict=True)]
    else:
        items = [str(label) for label in labels]
    more = table.height - shown.height
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def suggest(name: str, options: Iterable[str]) -> str:
    """' Did you mean 'x'?' for a close match (case-insensitive too), else ''."""
    options = [str(o) for o in options]
    by_lower = {o.lower(): o for o in options}
    matches = difflib.get_close_matches(name.lower(), list(by_lower), n=3, cutoff=0.6)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(by_lower[m]) for m in matches) + "?"


def require_columns(
    table: pl.DataFrame,
    names: Sequence[str],
    *,
    source: str,
    what: str,
    error: type[DataError] = SchemaError,
) -> None:
    """Every name must be a column; otherwise list what exists and the close matches."""
    available = [c for c in table.columns if c != LABEL]
    missing = [n for n in names if n not in available]
    if not missing:
        return
    hints = "".join(suggest(n, available) for n in missing)
    raise error(
        f"{source}: {what} column(s) {missing} not found.{hints} Available columns: {available}."
    )


def check_rule(
    table: pl.DataFrame,
    column: str,
    rule: Rule,
    *,
    source: str,
    error: type[DataError] = DataError,
    what: str = "",
    keys: Mapping[str, str] | None = None,
) -> None:
    """Check one column against one rule (kind, nulls, bounds, relations, uniqueness).

    ``keys`` maps schema key names (e.g. ``"geo"``) to actual column names, for
    ``constant_within``. String and date columns must be coerced by the caller.
    """
    where = f"{source}: column {column!r}{f' ({what})' if what else ''}"
    series = table[column]
    if rule.kind == "numeric":
        # Wrong types are schema errors, unless the caller has a more specific error class.
        type_error = SchemaError if error is DataError else error
        _check_numeric_dtype(table, column, rule, where, type_error)
        series = series.cast(pl.Float64)
    missing = series.is_null()
    if series.dtype.is_float():
        missing = missing | series.is_nan()
    if not rule.nullable and missing.any():
        raise error(
            f"{where} has {int(missing.sum())} missing value(s) (empty/null/NaN) at "
            f"{describe_rows(table.filter(missing))}. Fill them in at the source; geommm never "
            "imputes or drops rows."
        )
    if rule.kind == "numeric":
        _check_numeric_values(table, column, series, rule, where, error)
    _check_relations(table, column, rule, where, error)
    if rule.unique:
        duplicated = series.is_duplicated() & series.is_not_null()
        if duplicated.any():
            raise error(
                f"{where} must be unique but repeats at "
                f"{describe_rows(table.filter(duplicated), value=column)}. "
                "Give each row its own value."
            )
    if rule.constant_within is not None:
        group = (keys or {}).get(rule.constant_within, rule.constant_within)
        _check_constant(table, column, group, where, error)


def _check_numeric_dtype(
    table: pl.DataFrame, column: str, rule: Rule, where: str, error: type[DataError]
) -> None:
    dtype = table[column].dtype
    if dtype.is_numeric() or (rule.accept_boolean and dtype == pl.Boolean):
        return
    if dtype == pl.String:
        as_number = table[column].cast(pl.Float64, strict=False)
        bad = as_number.is_null() & table[column].is_not_null()
        if bad.any():
            raise error(
                f"{where} must be numeric but holds text, e.g. "
                f"{describe_rows(table.filter(bad), value=column)}. Fix or remove those cells "
                "(a stray 'n/a' or a thousands separator makes the whole column text)."
            )
        raise error(
            f"{where} must be numeric but is stored as text (all values look like numbers); "
            f"convert it, e.g. df.with_columns(pl.col({column!r}).cast(pl.Float64))."
        )
    raise error(f"{where} must be numeric but has type {dtype}.")


def _check_numeric_values(
    table: pl.DataFrame,
    column: str,
    series: pl.Series,
    rule: Rule,
    where: str,
    error: type[DataError],
) -> None:
    checks: list[tuple[pl.Series, str, str]] = []
    if rule.finite:
        checks.append((series.is_infinite(), "infinite value(s)", "Replace them with numbers."))
    if rule.min is not None:
        checks.append((series < rule.min, f"value(s) below {rule.min:g}", _bound_hint(rule.min)))
    if rule.exclusive_min is not None:
        checks.append(
            (series <= rule.exclusive_min, f"value(s) not above {rule.exclusive_min:g}", "")
        )
    if rule.max is not None:
        checks.append((series > rule.max, f"value(s) above {rule.max:g}", ""))
    if rule.exclusive_max is not None:
        checks.append(
            (series >= rule.exclusive_max, f"value(s) not below {rule.exclusive_max:g}", "")
        )
    if rule.not_equal is not None:
        checks.append((series == rule.not_equal, f"value(s) equal to {rule.not_equal:g}", ""))
    for mask, problem, hint in checks:
        mask = mask.fill_null(False)
        if mask.any():
            rows = describe_rows(table.filter(mask), value=column)
            raise error(f"{where} has {int(mask.sum())} {problem}: {rows}. {hint}".rstrip())


def _bound_hint(bound: float) -> str:
    if bound == 0:
        return (
            "Spend and exposure cannot be negative; look for refunds or corrections coded "
            "as negatives."
        )
    return ""


def _check_relations(
    table: pl.DataFrame, column: str, rule: Rule, where: str, error: type[DataError]
) -> None:
    for other, strict in ((rule.min_column, False), (rule.exclusive_min_column, True)):
        if other is None or other not in table.columns:
            continue
        left, right = table[column], table[other]
        bad = (left <= right) if strict else (left < right)
        bad = bad.fill_null(False)
        if bad.any():
            shown = table.filter(bad).with_columns(
                pl.format("{} vs {}={}", pl.col(column), pl.lit(other), pl.col(other))
                .alias("_pair")
            )
            if strict:
                relation = "greater than"
            else:
                relation = "on or after" if left.dtype.is_temporal() else "at least"
            raise error(
                f"{where} must be {relation} {other!r} but is not at "
                f"{describe_rows(shown, value='_pair', quote=False)}."
            )


def _check_constant(
    table: pl.DataFrame, column: str, group: str, where: str, error: type[DataError]
) -> None:
    spread = (
        table.group_by(group)
        .agg(
            pl.col(column).n_unique().alias("n"),
            pl.col(column).unique().sort().head(3).alias("v"),
        )
        .filter(pl.col("n") > 1)
        .sort(group)
    )
    if spread.height:
        examples = "; ".join(
            f"{g!r} has {n} values, e.g. {vals}"
            for g, n, vals in spread.head(_MAX_SHOWN).iter_rows()
        )
        raise error(
            f"{where} must be constant within each {group!r} but varies: {examples}"
            f"{f' and {spread.height - _MAX_SHOWN} more' if spread.height > _MAX_SHOWN else ''}. "
            "Use one value per geo (e.g. the latest census figure)."
        )


# --- the geo x time grid ------------------------------------------------------------


def as_list(columns: str | Sequence[str] | None, what: str) -> list[str]:
    """Accept one name or a sequence of names; refuse anything else early."""
    if columns is None:
        return []
    if isinstance(columns, str):
        return [columns]
    try:
        names = list(columns)
    except TypeError:
        raise DataError(
            f"{what} must be a column name or a list of names, got {columns!r}."
        ) from None
    if not all(isinstance(n, str) for n in names):
        raise DataError(f"{what} must be column names (text), got {names!r}.")
    return names
