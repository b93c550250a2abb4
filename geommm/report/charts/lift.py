"""Lift-test check: does the model agree with the Geo-Lift experiments it was given?

Each test gets two intervals side by side: the measured lift +/- 1.64 standard
errors (a 90% confidence interval) and the lift the fitted model implies for
the same geos and weeks (its HDI). Intervals that do not overlap flag a test
the model could not reconcile with the rest of the data.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from geommm.analysis.tables import LIFT_TEST_CHECK
from geommm.report.charts._common import HDI_TITLE, as_text, inline_data, require_columns
from geommm.report.theme import MEASURED_COLOR, MODEL_COLOR

Z90 = 1.64  # two-sided 90% normal quantile, matching the usual 90% HDI
MEASURED = "measured (±1.64 se)"
IMPLIED = f"model implied ({HDI_TITLE})"


def lift_agreement_table(lift: pl.DataFrame) -> pl.DataFrame:
    """One row per test with the measured 90% interval and whether it overlaps the model's HDI."""
    require_columns(lift, LIFT_TEST_CHECK, "lift_test_check")
    df = as_text(lift, "geos").with_columns(
        (pl.col("lift") - Z90 * pl.col("lift_se")).alias("measured_low"),
        (pl.col("lift") + Z90 * pl.col("lift_se")).alias("measured_high"),
    )
    overlap = (pl.col("measured_low") <= pl.col("implied_hdi_high")) & (
        pl.col("implied_hdi_low") <= pl.col("measured_high")
    )
    after = LIFT_TEST_CHECK.index("lift_se") + 1  # the measured interval sits by the measurement
    return df.select(
        *LIFT_TEST_CHECK[:after],
        "measured_low",
        "measured_high",
        *LIFT_TEST_CHECK[after:],
        pl.when(overlap).then(pl.lit("yes")).otherwise(pl.lit("no")).alias("overlap"),
    )


def lift_check_table(lift: pl.DataFrame) -> pl.DataFrame:
    """Long table for the chart: one measured and one implied interval per test."""
    df = lift_agreement_table(lift).with_columns(
        (
            pl.col("test_id").cast(pl.String)
            + " · "
            + pl.col("channel").cast(pl.String)
            + " · "
            + pl.col("geos")
        ).alias("test"),
    )
    keep = ["test", "test_id", "channel", "geos", "overlap"]
    measured = df.select(
        *keep,
        pl.lit(MEASURED).alias("source"),
        pl.col("lift").alias("mid"),
        pl.col("measured_low").alias("low"),
        pl.col("measured_high").alias("high"),
    )
    implied = df.select(
        *keep,
        pl.lit(IMPLIED).alias("source"),
        pl.col("implied_mean").alias("mid"),
        pl.col("implied_hdi_low").alias("low"),
        pl.col("implied_hdi_high").alias("high"),
    )
    return pl.concat([measured, implied], how="vertical_relaxed")


def lift_check_chart(lift: pl.DataFrame) -> alt.LayerChart:
    """Measured lift vs model-implied lift per test; a diamond marks a disagreeing test."""
    require_columns(lift, LIFT_TEST_CHECK, "lift_test_check")
    data = lift_check_table(lift)
    order = data["test"].unique(maintain_order=True).to_list()
    sources = [MEASURED, IMPLIED]
    y = alt.Y("test:N", sort=order, title=None)
    color = alt.Color(
        "source:N",
        title=None,
        sort=sources,
        scale=alt.Scale(domain=sources, range=[MEASURED_COLOR, MODEL_COLOR]),
        legend=alt.Legend(orient="top", labelLimit=320),
    )
    offset = alt.YOffset("source:N", sort=sources)
    base = alt.Chart(inline_data(data))
    zero = alt.Chart(alt.InlineData(values=[{"x": 0}])).mark_rule(color="#9aa5b1").encode(x=alt.X("x:Q"))
    interval = base.mark_rule(strokeWidth=2.5).encode(
        y=y,
        yOffset=offset,
        color=color,
        x=alt.X("low:Q", title="incremental KPI over the test window"),
        x2=alt.X2("high:Q"),
    )
    point = base.mark_point(filled=True, size=70, opacity=1).encode(
        y=y,
        yOffset=offset,
        color=color,
        x=alt.X("mid:Q"),
        shape=alt.Shape(
            "overlap:N",
            scale=alt.Scale(domain=["yes", "no"], range=["circle", "diamond"]),
            legend=alt.Legend(title="intervals overlap", orient="top"),
        ),
        tooltip=[
            alt.Tooltip("test_id:N", title="test"),
            alt.Tooltip("channel:N"),
            alt.Tooltip("geos:N"),
            alt.Tooltip("source:N"),
            alt.Tooltip("mid:Q", title="estimate", format=",.0f"),
            alt.Tooltip("low:Q", title="low", format=",.0f"),
            alt.Tooltip("high:Q", title="high", format=",.0f"),
            alt.Tooltip("overlap:N", title="intervals overlap"),
        ],
    )
    return alt.layer(zero, interval, point).properties(
        width=560,
        height=alt.Step(36),
        title=alt.Title(
            "Lift tests: measured vs what the model implies",
            subtitle="a diamond marks a test whose two intervals do not overlap",
        ),
    )
