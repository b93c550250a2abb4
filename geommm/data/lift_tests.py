"""Geo-Lift experiment results: read, validate, and check against a panel.

Lift tests are the ground truth that calibrates each channel per geo, so a
wrong row does real damage: every rule in ``geommm/data/schemas/lift_tests.schema.json``
is enforced, and the panel check makes sure each test happened inside the
panel the model sees (known channel and geos, weeks covered, and a heavy-up
no larger than the spend actually observed).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import timedelta

import numpy as np
import polars as pl
from scipy.special import ndtri

from geommm.data.io import TableSource, parse_dates, read_table
from geommm.data.panel import Panel
from geommm.data.schema import Schema, load_schema
from geommm.data.validate import LABEL, check_rule, describe_rows, require_columns, suggest
from geommm.errors import LiftTestError

__all__ = [
    "read_lift_tests", "check_lift_tests", "read_lift_tests_for_panel", "LiftSignWarning",
    "LIFT_COLUMNS",
]

# Leading columns of the validated table, in order; extra input columns follow.
LIFT_COLUMNS = (
    "test_id", "channel", "geos", "geo_list", "start", "end", "measure_end",
    "spend_delta", "lift", "lift_se",
)


class LiftSignWarning(UserWarning):
    """A test's lift has the opposite sign of its spend change (possible, but check it)."""


def read_lift_tests(source: TableSource) -> pl.DataFrame:
    """Read and validate lift tests; returns a Polars table with ``geo_list`` and ``lift_se``.

    ``lift_se`` is taken as given or derived from ``ci_low``/``ci_high``/``confidence``
    as ``(ci_high - ci_low) / (2 z)``. Raises :class:`~geommm.errors.LiftTestError`
    naming the test and column; warns (:class:`LiftSignWarning`) when the lift
    contradicts the sign of ``spend_delta``.
    """
    table, name = read_table(source, text_columns=text_columns())
    return validate_lift_tests(table, name)


def text_columns() -> list[str]:
    """Columns read as text whatever they look like (a geo or test called 007 stays 007)."""
    return [c for c, rule in load_schema("lift_tests").columns.items() if rule.kind == "string"]


def validate_lift_tests(table: pl.DataFrame, source: str, *, warn: bool = True) -> pl.DataFrame:
    """Schema checks, defaults, ``lift_se`` and ``geo_list`` for an already-read table."""
    schema = load_schema("lift_tests")
    if table.height == 0 or table.width == 0:
        raise LiftTestError(f"{source}: the lift-test table is empty; expected one row per test.")
    required = [c for c, rule in schema.columns.items() if rule.required]
    require_columns(table, required, source=source, what="lift-test", error=LiftTestError)
    _require_one_alternative(table, schema, source)
    table = _label_by_test(table.drop("geo_list", strict=False))
    table = _coerce(table, schema, source)
    for column, rule in schema.columns.items():
        if column in table.columns:
            check_rule(table, column, rule, source=source, error=LiftTestError)
    _check_alternatives_per_row(table, schema, source)
    table = _with_lift_se(table)
    table = _with_geo_list(table, schema.columns["geos"].list_separator or ";", source)
    if warn:
        _warn_on_sign(table, source)
    leading = [c for c in LIFT_COLUMNS if c in table.columns]
    rest = [c for c in table.columns if c not in leading and c != LABEL]
    return table.select(leading + rest)


def _require_one_alternative(table: pl.DataFrame, schema: Schema, source: str) -> None:
    groups = schema.alternatives
    if groups and not any(all(c in table.columns for c in group) for group in groups):
        options = " or ".join("+".join(group) for group in groups)
        raise LiftTestError(
            f"{source}: the lift's uncertainty is missing: give column(s) {options}. "
            f"Columns present: {table.columns}."
        )


def _label_by_test(table: pl.DataFrame) -> pl.DataFrame:
    """Label rows "test 'id' (row i)" so every error names the test."""
    row = pl.int_range(pl.len()).cast(pl.String)
    test = pl.col("test_id").cast(pl.String, strict=False)
    return table.with_columns(
        pl.when(test.is_null())
        .then(pl.lit("row ") + row)
        .otherwise(pl.format("test '{}' (row {})", test, row))
        .alias(LABEL)
    )


def _coerce(table: pl.DataFrame, schema: Schema, source: str) -> pl.DataFrame:
    """Text columns to String, date columns to Date, and defaults for optional columns."""
    for column, rule in schema.columns.items():
        if column not in table.columns:
            continue
        if rule.kind == "string":
            try:
                table = table.with_columns(pl.col(column).cast(pl.String))
            except Exception as exc:  # noqa: BLE001 - nested types cannot become text
                raise LiftTestError(
                    f"{source}: column {column!r} must be text, got {table[column].dtype}."
                ) from exc
        elif rule.kind == "date":
            optional = rule.nullable or rule.default_from is not None
            dates = parse_dates(
                table, column, source=source, error=LiftTestError, allow_missing=optional
            )
            table = table.with_columns(dates.alias(column))
    for column, rule in schema.columns.items():
        if rule.default_from is None:
            continue
        fallback = pl.col(rule.default_from)
        filled = pl.coalesce(pl.col(column), fallback) if column in table.columns else fallback
        table = table.with_columns(filled.alias(column))
    numeric = [c for c, r in schema.columns.items() if r.kind == "numeric" and c in table.columns]
    for column in numeric:
        # Text stays text so check_rule can show the offending cells; Null is an empty column.
        if table[column].dtype.is_numeric() or table[column].dtype == pl.Null:
            table = table.with_columns(pl.col(column).cast(pl.Float64))
    return table


def _check_alternatives_per_row(table: pl.DataFrame, schema: Schema, source: str) -> None:
    complete = pl.lit(False)
    for group in schema.alternatives:
        if all(c in table.columns for c in group):
            complete = complete | pl.all_horizontal(pl.col(c).is_not_null() for c in group)
    lacking = table.filter(~complete)
    if schema.alternatives and lacking.height:
        options = " or ".join("+".join(group) for group in schema.alternatives)
        raise LiftTestError(
            f"{source}: {describe_rows(lacking)} lack(s) the lift's uncertainty: fill in "
            f"{options}."
        )


def _with_lift_se(table: pl.DataFrame) -> pl.DataFrame:
    """lift_se as given, else (ci_high - ci_low) / (2 z) with z the normal quantile."""
    if not {"ci_low", "ci_high", "confidence"} <= set(table.columns):
        return table.with_columns(pl.col("lift_se").cast(pl.Float64))
    confidence = table["confidence"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    with np.errstate(invalid="ignore"):
        z = ndtri(0.5 + confidence / 2.0)
    from_ci = (pl.col("ci_high") - pl.col("ci_low")) / (2.0 * pl.Series(z).fill_nan(None))
    given = pl.col("lift_se").cast(pl.Float64) if "lift_se" in table.columns else pl.lit(None)
    return table.with_columns(pl.coalesce(given, from_ci).cast(pl.Float64).alias("lift_se"))


def _with_geo_list(table: pl.DataFrame, separator: str, source: str) -> pl.DataFrame:
    parts = pl.col("geos").str.split(separator).list.eval(pl.element().str.strip_chars())
    table = table.with_columns(parts.alias("geo_list"))
    empty = table["geo_list"].list.eval(pl.element() == "").list.any()
    if empty.any():
        raise LiftTestError(
            f"{source}: column 'geos' has an empty geo name at "
            f"{describe_rows(table.filter(empty), value='geos')}. Separate geos with "
            f"{separator!r} and nothing else (no trailing {separator!r})."
        )
    repeated = table["geo_list"].list.n_unique() < table["geo_list"].list.len()
    if repeated.any():
        raise LiftTestError(
            f"{source}: column 'geos' names a geo twice at "
            f"{describe_rows(table.filter(repeated), value='geos')}."
        )
    return table


def _warn_on_sign(table: pl.DataFrame, source: str) -> None:
    opposite = pl.col("lift").sign() != pl.col("spend_delta").sign()
    odd = table.filter((pl.col("lift") != 0) & opposite).with_columns(
        pl.format("lift={} spend_delta={}", "lift", "spend_delta").alias("_v")
    )
    if odd.height:
        warnings.warn(
            f"{source}: lift and spend_delta have opposite signs at "
            f"{describe_rows(odd, value='_v', quote=False)}. "
            "A heavy-up that lowered the KPI (or a go-dark that raised it) is possible within "
            "noise, but check the signs: go-dark tests have negative spend_delta.",
            LiftSignWarning,
            stacklevel=3,
        )


# --- against a panel ---------------------------------------------------------------


def check_lift_tests(
    lifts: TableSource, panel: Panel, channel_spend: Mapping[str, str] | None = None,
    name: str | None = None,
) -> None:
    """Check that every test fits ``panel``; ``channel_spend`` maps channel -> spend column.

    Raises :class:`~geommm.errors.LiftTestError` for a geo not in the panel, a
    window outside the panel's weeks and, when ``channel_spend`` is given (the
    model's channels), for an unknown channel or a heavy-up larger than the spend
    observed in the test geos and window (the counterfactual spend, actual minus
    ``spend_delta``, must stay >= 0).
    """
    table, source = read_table(lifts, text_columns=text_columns())
    source = name or source  # e.g. the file a table already read came from
    table = validate_lift_tests(table, source, warn=False)
    _check_against_panel(table, panel, channel_spend, source)


def read_lift_tests_for_panel(
    source: TableSource, panel: Panel, channel_spend: Mapping[str, str]
) -> pl.DataFrame:
    """:func:`read_lift_tests` then :func:`check_lift_tests`, validating the table once.

    What a model needs before it places the tests on its grid; errors name ``source``.
    """
    table, name = read_table(source, text_columns=text_columns())
    lifts = validate_lift_tests(table, name)
    _check_against_panel(lifts, panel, channel_spend, name)
    return lifts


def _check_against_panel(
    lifts: pl.DataFrame, panel: Panel, channel_spend: Mapping[str, str] | None, source: str
) -> None:
    table = _label_by_test(lifts)
    if channel_spend is not None:
        _check_channels(table, channel_spend, source)
        panel.check([channel_spend[c] for c in table["channel"].unique().sort()], "spend")
    _check_geos(table, panel, source)
    weeks = _weeks_in_windows(table, panel, source)
    if channel_spend is not None:
        _check_heavy_ups(table, weeks, panel, channel_spend, source)


def _check_channels(table: pl.DataFrame, channel_spend: Mapping[str, str], source: str) -> None:
    unknown = table.filter(~pl.col("channel").is_in(list(channel_spend)))
    if unknown.height:
        names = sorted(set(unknown["channel"]))
        hints = "".join(suggest(n, channel_spend) for n in names)
        raise LiftTestError(
            f"{source}: unknown channel(s) {names} at {describe_rows(unknown, value='channel')}."
            f"{hints} Known channels: {sorted(channel_spend)}."
        )


def _check_geos(table: pl.DataFrame, panel: Panel, source: str) -> None:
    exploded = table.select(LABEL, pl.col("geo_list").alias("geo")).explode("geo")
    unknown = exploded.filter(~pl.col("geo").is_in(list(panel.geos)))
    if unknown.height:
        hints = "".join(suggest(g, panel.geos) for g in sorted(set(unknown["geo"])))
        shown = ", ".join(repr(g) for g in panel.geos[:10])
        raise LiftTestError(
            f"{source}: column 'geos' names geo(s) not in the panel {panel.source!r}: "
            f"{describe_rows(unknown, value='geo')}.{hints} Panel geos: {shown}"
            f"{' ...' if panel.n_geos > 10 else ''}."
        )


def _weeks_in_windows(table: pl.DataFrame, panel: Panel, source: str) -> pl.DataFrame:
    """(test_id, week) for every panel week with start <= week <= end; each test needs one."""
    times = pl.DataFrame({"week": panel.times}).with_columns(pl.col("week").cast(pl.Date))
    first, last = times["week"].min(), times["week"].max()
    step = load_schema("panel").keys["time"].frequency_days or 1
    slack = timedelta(days=step - 1)
    outside = table.filter(
        (pl.col("start") < pl.lit(first - slack)) | (pl.col("measure_end") > pl.lit(last + slack))
    )
    if outside.height:
        shown = outside.with_columns(
            pl.format("{} .. {}", pl.col("start"), pl.col("measure_end")).alias("_w")
        )
        raise LiftTestError(
            f"{source}: test window(s) reach outside the panel's weeks ({first} .. {last}): "
            f"{describe_rows(shown, value='_w', quote=False)}. The experiment must lie inside "
            "the panel; "
            "extend the panel or drop the test."
        )
    weeks = (
        table.select("test_id", "start", "end")
        .join(times, how="cross")
        .filter(pl.col("week").is_between(pl.col("start"), pl.col("end")))
        .select("test_id", "week")
    )
    empty = table.filter(~pl.col("test_id").is_in(weeks["test_id"].unique().to_list()))
    if empty.height:
        shown = empty.with_columns(
            pl.format("{} .. {}", pl.col("start"), pl.col("end")).alias("_w")
        )
        raise LiftTestError(
            f"{source}: spend window(s) contain no panel week date: "
            f"{describe_rows(shown, value='_w', quote=False)}. Panel weeks are dated e.g. "
            f"{', '.join(str(t) for t in panel.times[:2])}; a window must include at least one."
        )
    return weeks


def _check_heavy_ups(
    table: pl.DataFrame,
    weeks: pl.DataFrame,
    panel: Panel,
    channel_spend: Mapping[str, str],
    source: str,
) -> None:
    ups = table.filter(pl.col("spend_delta") > 0)
    if ups.height == 0:
        return
    geo, time = panel.geo_col, panel.time_col
    spend = pl.concat(
        panel.frame.select(
            pl.lit(channel).alias("channel"),
            pl.col(geo).alias("geo"),
            pl.col(time).alias("week"),
            pl.col(column).cast(pl.Float64).alias("actual"),
        )
        for channel, column in channel_spend.items()
        if channel in set(ups["channel"])
    )
    observed = (
        ups.select("test_id", "channel", pl.col("geo_list").alias("geo"))
        .explode("geo")
        .join(weeks, on="test_id")
        .join(spend, on=["channel", "geo", "week"])
        .group_by("test_id")
        .agg(pl.col("actual").sum())
    )
    short = ups.join(observed, on="test_id", how="left").with_columns(
        pl.col("actual").fill_null(0.0)
    ).filter(pl.col("actual") < pl.col("spend_delta") * (1 - 1e-9))
    if short.height:
        shown = short.with_columns(
            pl.format(
                "spend_delta {} > observed {} spend {} in geos {} over {} .. {}",
                "spend_delta", "channel", pl.col("actual").round(2), "geos", "start", "end",
            ).alias("_m")
        )
        columns = sorted({channel_spend[c] for c in short["channel"]})
        raise LiftTestError(
            f"{source}: heavy-up(s) larger than the spend observed in the panel (column(s) "
            f"{columns}): {describe_rows(shown, value='_m', quote=False)}. The observed spend "
            "already "
            "includes the heavy-up, so actual - spend_delta would be negative. Check the sign "
            "(go-darks are negative), the units, the window and the geos."
        )
