"""Turn GeoLift results, as analysts export them, into geommm lift tests.

GeoLift reports either the total incremental KPI or the average treatment
effect per location and period (ATT); the model needs totals over the test
geos and window, so ATT and its interval are scaled by locations x periods.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from geommm.data.io import TableSource, parse_dates, read_table
from geommm.data.lift_tests import validate_lift_tests
from geommm.data.validate import with_row_labels
from geommm.errors import LiftTestError

__all__ = ["from_geolift"]

# Canonical name -> accepted spellings (matched case-insensitively).
_ALIASES: dict[str, tuple[str, ...]] = {
    "locations": ("locations", "location", "geos"),
    "treatment_start": ("treatment_start", "start"),
    "treatment_end": ("treatment_end", "end"),
    "incremental": ("incremental",),
    "att": ("att",),
    "lower": ("lower", "lower_bound", "lower.conf.int", "ci_low"),
    "upper": ("upper", "upper_bound", "upper.conf.int", "ci_high"),
    "channel": ("channel",),
    "spend_delta": ("spend_delta",),
    "test_id": ("test_id",),
    "measure_end": ("measure_end",),
    "confidence": ("confidence",),
}
_REQUIRED = ("locations", "treatment_start", "treatment_end", "lower", "upper")

Scalar = str | float | int | dt.date


def from_geolift(
    source: TableSource,
    *,
    channel: Scalar | Sequence[Scalar] | None = None,
    spend_delta: float | Sequence[float] | None = None,
    test_id: str | Sequence[str] | None = None,
    measure_end: Scalar | Sequence[Scalar] | None = None,
    confidence: float = 0.9,
    period_days: int = 7,
) -> pl.DataFrame:
    """Convert a GeoLift results table (one row per test) to the validated lift-test format.

    Expected columns (any letter case):

    - ``locations``: test geos separated by ',' or ';' (alias ``location``, ``geos``)
    - ``treatment_start``, ``treatment_end``: first and last day of the treatment
    - ``incremental``: total incremental KPI over all test geos and the window, or
      ``att``: average effect per location and period, used where ``incremental``
      is absent or empty; total = att x n_locations x n_periods, with
      n_periods = days(start..end) / ``period_days``
    - ``lower``, ``upper``: interval bounds of the same quantity (aliases
      ``lower_bound``/``upper_bound``, ``lower.conf.int``/``upper.conf.int``)
    - optional ``channel``, ``spend_delta``, ``test_id``, ``measure_end``,
      ``confidence``: used when the keyword of the same name is None (for
      ``confidence``: whenever the column exists)

    Keywords take one value for every row or a sequence with one value per row.
    ``test_id`` defaults to ``geolift_1``, ``geolift_2``... Returns the output of
    :func:`geommm.data.read_lift_tests` (so it includes ``geo_list`` and ``lift_se``).
    """
    text = [a for key in ("locations", "channel", "test_id") for a in _ALIASES[key]]
    table, name = read_table(source, text_columns=text)
    if table.height == 0:
        raise LiftTestError(f"{name}: the GeoLift table is empty.")
    found = _match_columns(table, name)
    missing = [key for key in _REQUIRED if key not in found]
    if "incremental" not in found and "att" not in found:
        missing.append("incremental or att")
    if missing:
        raise LiftTestError(
            f"{name}: GeoLift column(s) {missing} not found (letter case is ignored; accepted "
            f"spellings: { {k: list(_ALIASES[k]) for k in _REQUIRED} }). "
            f"Columns present: {table.columns}."
        )
    n = table.height
    work = with_row_labels(table.rename({found[k]: f"_{k}" for k in found}))
    channels = _per_row(channel, "channel", work, found, n, name, required=True)
    deltas = _per_row(spend_delta, "spend_delta", work, found, n, name, required=True)
    ids = _per_row(test_id, "test_id", work, found, n, name, required=False)
    ends = _per_row(measure_end, "measure_end", work, found, n, name, required=False)
    confs = _per_row(None, "confidence", work, found, n, name, required=False)
    for key in ("incremental", "att", "lower", "upper"):
        if key in found:
            _require_numbers(work, key, found[key], name)

    locations = (
        pl.col("_locations").cast(pl.String).str.replace_all(",", ";").str.split(";")
        .list.eval(pl.element().str.strip_chars()).list.join(";")
    )
    start = parse_dates(work, "_treatment_start", source=name, error=LiftTestError)
    end = parse_dates(work, "_treatment_end", source=name, error=LiftTestError)
    work = work.with_columns(locations.alias("geos"), start.alias("start"), end.alias("end"))
    n_locations = pl.col("geos").str.split(";").list.len()
    n_periods = ((pl.col("end") - pl.col("start")).dt.total_days() // period_days) + 1
    total_given = (
        pl.col("_incremental").is_not_null() if "incremental" in found else pl.lit(False)
    )
    att = pl.col("_att") if "att" in found else pl.lit(None, dtype=pl.Float64)
    scale = pl.when(total_given).then(1).otherwise(n_locations * n_periods)
    lift = pl.when(total_given).then(pl.col("_incremental") if "incremental" in found else None)
    out = work.select(
        (ids if ids is not None else pl.format("geolift_{}", pl.int_range(1, n + 1)))
        .alias("test_id"),
        channels.cast(pl.String).alias("channel"),
        "geos",
        "start",
        "end",
        *([ends.alias("measure_end")] if ends is not None else []),
        deltas.alias("spend_delta"),
        lift.otherwise(att * scale).cast(pl.Float64).alias("lift"),
        (pl.col("_lower") * scale).cast(pl.Float64).alias("ci_low"),
        (pl.col("_upper") * scale).cast(pl.Float64).alias("ci_high"),
        (confs if confs is not None else pl.lit(confidence)).cast(pl.Float64).alias("confidence"),
    )
    return validate_lift_tests(out, f"{name} (GeoLift)")


def _match_columns(table: pl.DataFrame, source: str) -> dict[str, str]:
    """Canonical name -> actual column, case-insensitively."""
    by_lower: dict[str, str] = {}
    for column in table.columns:
        key = column.strip().lower()
        if key in by_lower:
            raise LiftTestError(
                f"{source}: columns {by_lower[key]!r} and {column!r} differ only in letter case."
            )
        by_lower[key] = column
    found = {}
    for canonical, spellings in _ALIASES.items():
        hits = [by_lower[s] for s in spellings if s in by_lower]
        if hits:
            found[canonical] = hits[0]
    return found


def _per_row(
    value: Any,
    key: str,
    table: pl.DataFrame,
    found: dict[str, str],
    n: int,
    source: str,
    *,
    required: bool,
) -> pl.Series | None:
    """A keyword value (scalar or one per row) or, when None, the table's column."""
    if value is None:
        if key in found:
            return table[f"_{key}"].alias(key)
        if required:
            raise LiftTestError(
                f"{source}: no {key!r} given: pass {key}=... to from_geolift (one value or one "
                f"per row) or add a {key!r} column."
            )
        return None
    if isinstance(value, (str, int, float, dt.date, np.generic)):
        return pl.Series(key, [value] * n)
    values = list(value)
    if len(values) != n:
        raise LiftTestError(
            f"{source}: {key}= has {len(values)} values for {n} GeoLift row(s); give one value "
            "or one per row."
        )
    return pl.Series(key, values)


def _require_numbers(table: pl.DataFrame, key: str, original: str, source: str) -> None:
    dtype = table[f"_{key}"].dtype
    if not (dtype.is_numeric() or dtype == pl.Null):
        raise LiftTestError(
            f"{source}: column {original!r} must be numeric, got {dtype} "
            f"(e.g. {table[f'_{key}'].drop_nulls().head(3).to_list()})."
        )
