"""Share of spend vs share of effect per channel, with its ROI: the one-look media summary.

A channel whose bar of effect is longer than its bar of spend earns more than
the media average; the ROI with its interval is written next to it.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from geommm.analysis.tables import CONTRIBUTIONS_TOTAL, ROI_BY_CHANNEL
from geommm.report.charts._common import inline_data, require_columns
from geommm.report.theme import CURRENT_COLOR, OPTIMAL_COLOR

MEASURES = ["share of spend", "share of effect"]


def spend_effect_table(roi_by_channel: pl.DataFrame, contributions_total: pl.DataFrame) -> pl.DataFrame:
    """channel, share of spend, share of effect (media contribution) and ROI with its HDI."""
    require_columns(roi_by_channel, ROI_BY_CHANNEL, "ROI by channel")
    require_columns(contributions_total, CONTRIBUTIONS_TOTAL, "total contributions")
    effect = contributions_total.filter(pl.col("component_type") == "media").select(
        pl.col("component").alias("channel"), pl.col("mean").alias("effect")
    )
    table = roi_by_channel.join(effect, on="channel", how="left").with_columns(
        pl.col("effect").fill_null(0.0)
    )
    spend_total, effect_total = table["spend"].sum(), table["effect"].sum()
    return table.select(
        "channel",
        (pl.col("spend") / (spend_total or 1.0)).alias("spend_share"),
        (pl.col("effect") / (effect_total or 1.0)).alias("effect_share"),
        "roi_mean",
        "roi_hdi_low",
        "roi_hdi_high",
    )


def spend_effect_chart(roi_by_channel: pl.DataFrame, contributions_total: pl.DataFrame) -> alt.LayerChart:
    """Paired bars per channel (grey spend share, blue effect share) with ROI as text."""
    table = spend_effect_table(roi_by_channel, contributions_total)
    order = table.sort("effect_share", descending=True)["channel"].to_list()
    long = table.unpivot(
        index=["channel", "roi_mean", "roi_hdi_low", "roi_hdi_high"],
        on=["spend_share", "effect_share"],
        variable_name="measure",
        value_name="share",
    ).with_columns(
        pl.col("measure").replace({"spend_share": MEASURES[0], "effect_share": MEASURES[1]})
    )
    labels = table.with_columns(
        pl.max_horizontal("spend_share", "effect_share").alias("at"),
        pl.format(
            "ROI {} ({}–{})",
            pl.col("roi_mean").round_sig_figs(3),
            pl.col("roi_hdi_low").round_sig_figs(2),
            pl.col("roi_hdi_high").round_sig_figs(2),
        ).alias("label"),
    )
    y = alt.Y("channel:N", title=None, sort=order)
    bars = (
        alt.Chart(inline_data(long))
        .mark_bar()
        .encode(
            y=y,
            yOffset=alt.YOffset("measure:N", sort=MEASURES),
            x=alt.X("share:Q", title="share of all media", axis=alt.Axis(format="%")),
            color=alt.Color(
                "measure:N",
                title=None,
                sort=MEASURES,
                scale=alt.Scale(domain=MEASURES, range=[CURRENT_COLOR, OPTIMAL_COLOR]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("channel:N"),
                alt.Tooltip("measure:N"),
                alt.Tooltip("share:Q", format=".1%"),
                alt.Tooltip("roi_mean:Q", title="ROI", format=".3g"),
            ],
        )
    )
    text = (
        alt.Chart(inline_data(labels.select("channel", "at", "label")))
        .mark_text(align="left", dx=6, fontSize=12, color="#1f2933")
        .encode(y=y, x=alt.X("at:Q"), text=alt.Text("label:N"))
    )
    return alt.layer(bars, text).properties(
        width=520,
        height=34 * max(len(order), 1),  # a fixed height: a Step conflicts with the bars' yOffset
        title=alt.Title(
            "Share of spend vs share of effect",
            subtitle="effect = incremental KPI from media; ROI with its 90% HDI",
        ),
    )
