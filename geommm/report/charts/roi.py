"""Return on investment: national forest plot, geo x channel heat map, geo ranking.

ROI here is incremental KPI per unit of spend over the analysed period;
marginal ROI is the same for the next small increase of spend. Both are
posterior distributions, so every chart shows an interval, not just a point.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from geommm.analysis.tables import NATIONAL, ROI_BY_CHANNEL, ROI_BY_GEO
from geommm.errors import SchemaError
from geommm.report.charts._common import (
    HDI_TITLE,
    dropdown,
    inline_data,
    require_columns,
    unique_in_order,
)
from geommm.report.theme import MEASURED_COLOR, MODEL_COLOR

_TOOLTIP = [
    alt.Tooltip("roi_mean:Q", title="mean", format=".2f"),
    alt.Tooltip("roi_median:Q", title="median", format=".2f"),
    alt.Tooltip("roi_hdi_low:Q", title="HDI low", format=".2f"),
    alt.Tooltip("roi_hdi_high:Q", title="HDI high", format=".2f"),
]
_WITH_SPEND = [*_TOOLTIP, alt.Tooltip("spend:Q", format=",.0f")]


def _break_even(value: float | None) -> list[alt.Chart]:
    if value is None:
        return []
    return [
        alt.Chart(alt.InlineData(values=[{"x": value}]))
        .mark_rule(color="#52606d", strokeDash=[4, 3])
        .encode(x="x:Q")
    ]


def roi_forest_chart(
    roi: pl.DataFrame,
    marginal: pl.DataFrame | None = None,
    *,
    break_even: float | None = 1.0,
    title: str = "ROI by channel",
) -> alt.LayerChart:
    """Posterior mean and HDI of ROI per channel, best channel on top.

    Feed ``fit.roi(by="channel")``; pass ``fit.marginal_roi(by="channel")`` as
    ``marginal`` to show where the *next* unit of spend pays off beside the
    average. ``break_even`` draws the ROI at which spend pays for itself
    (1.0 when the KPI is revenue in the spend's currency; None to hide).
    """
    require_columns(roi, ROI_BY_CHANNEL, "roi")
    frames = [roi.with_columns(pl.lit("ROI").alias("measure"))]
    if marginal is not None:
        require_columns(marginal, ROI_BY_CHANNEL, "marginal_roi")
        frames.append(marginal.with_columns(pl.lit("marginal ROI").alias("measure")))
    data = pl.concat(frames, how="diagonal_relaxed")
    if "geo" in data.columns:
        if not (data["geo"] == NATIONAL).any():
            raise SchemaError(
                "roi_forest_chart wants national rows: pass fit.roi(by='channel'); "
                "for per-geo ROI use roi_heatmap or geo_ranking_chart."
            )
        data = data.filter(pl.col("geo") == NATIONAL)
    measures = unique_in_order(data["measure"])
    order = roi.sort("roi_mean", descending=True)["channel"].unique(maintain_order=True).to_list()
    y = alt.Y("channel:N", sort=order, title=None)
    color = alt.Color(
        "measure:N",
        title=None,
        scale=alt.Scale(domain=measures, range=[MODEL_COLOR, MEASURED_COLOR][: len(measures)]),
        legend=alt.Legend(orient="top") if len(measures) > 1 else None,
    )
    offset = alt.YOffset("measure:N", sort=measures)
    extra = [alt.Tooltip("geo:N")] if "geo" in data.columns else []
    base = alt.Chart(inline_data(data))
    interval = base.mark_rule(strokeWidth=2.5).encode(
        y=y,
        yOffset=offset,
        x=alt.X("roi_hdi_low:Q", title=f"ROI (KPI per unit of spend), {HDI_TITLE}"),
        x2="roi_hdi_high:Q",
        color=color,
    )
    point = base.mark_point(filled=True, size=70, opacity=1).encode(
        y=y,
        yOffset=offset,
        x="roi_mean:Q",
        color=color,
        tooltip=[
            alt.Tooltip("channel:N"),
            alt.Tooltip("measure:N"),
            *extra,
            *_WITH_SPEND,
        ],
    )
    return alt.layer(*_break_even(break_even), interval, point).properties(
        width=560,
        height=alt.Step(26 if len(measures) == 1 else 36),
        title=alt.Title(
            title,
            subtitle=f"dot: posterior mean; line: {HDI_TITLE}"
            + ("; dashed: break-even" if break_even is not None else ""),
        ),
    )


def roi_heatmap(roi: pl.DataFrame, *, title: str = "ROI by geo and channel") -> alt.LayerChart:
    """Geo x channel grid coloured by mean ROI (hover for the HDI), to compare geos at a glance.

    Feed ``fit.roi(by="geo")`` or ``fit.marginal_roi(by="geo")``. Geos are
    sorted by their average ROI across channels, best on top.
    """
    require_columns(roi, ROI_BY_GEO, "roi")
    data = roi.filter(pl.col("geo") != NATIONAL)
    order = (
        data.group_by("geo")
        .agg(pl.col("roi_mean").mean())
        .sort("roi_mean", descending=True)["geo"]
        .to_list()
    )
    channels = unique_in_order(data["channel"])
    hi = data["roi_mean"].max()
    lo = data["roi_mean"].min()
    midpoint = (hi + lo) / 2 if hi is not None and lo is not None else 0.0
    base = alt.Chart(inline_data(data)).encode(
        x=alt.X("channel:N", sort=channels, title=None, axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("geo:N", sort=order, title=None),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color("roi_mean:Q", title="ROI (mean)", scale=alt.Scale(scheme="blues")),
        tooltip=[alt.Tooltip("geo:N"), alt.Tooltip("channel:N"), *_WITH_SPEND],
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("roi_mean:Q", format=".2f"),
        color=alt.condition(
            alt.datum.roi_mean > midpoint, alt.value("white"), alt.value("#1f2933")
        ),
    )
    return alt.layer(cells, text).properties(
        width=alt.Step(90),
        height=alt.Step(24),
        title=alt.Title(title, subtitle="posterior mean; hover a cell for the HDI and spend"),
    )


def geo_ranking_chart(
    roi: pl.DataFrame,
    *,
    channel: str | None = None,
    break_even: float | None = 1.0,
    title: str = "Geos ranked by ROI",
) -> alt.LayerChart:
    """For one channel (drop-down), geos ranked by mean ROI with their HDI and the national ROI.

    Answers "where does this channel work best?" while showing which geo
    differences are real (non-overlapping intervals) and which are noise.
    """
    require_columns(roi, ROI_BY_GEO, "roi")
    channels = unique_in_order(roi["channel"])
    param = dropdown("ranking_channel", channels, "Channel:", value=channel)
    geos = roi.filter(pl.col("geo") != NATIONAL)
    base = alt.Chart(inline_data(geos)).transform_filter(alt.datum.channel == param)
    y = alt.Y("geo:N", title=None, sort=alt.EncodingSortField("roi_mean", order="descending"))
    interval = base.mark_rule(color=MODEL_COLOR, strokeWidth=2.5).encode(
        y=y,
        x=alt.X("roi_hdi_low:Q", title=f"ROI (KPI per unit of spend), {HDI_TITLE}"),
        x2="roi_hdi_high:Q",
    )
    point = base.mark_point(filled=True, size=70, opacity=1, color=MODEL_COLOR).encode(
        y=y,
        x="roi_mean:Q",
        tooltip=[alt.Tooltip("geo:N"), alt.Tooltip("channel:N"), *_WITH_SPEND],
    )
    layers = [*_break_even(break_even), interval, point]
    national = roi.filter(pl.col("geo") == NATIONAL)
    subtitle = f"dot: posterior mean; line: {HDI_TITLE}"
    if national.height:
        layers.append(
            alt.Chart(inline_data(national))
            .transform_filter(alt.datum.channel == param)
            .mark_rule(color=MEASURED_COLOR, strokeWidth=1.5)
            .encode(x="roi_mean:Q", tooltip=[alt.Tooltip("channel:N"), *_TOOLTIP])
        )
        subtitle += "; red: national mean"
    return (
        alt.layer(*layers)
        .add_params(param)
        .properties(
            width=560,
            height=alt.Step(22),
            title=alt.Title(title, subtitle=subtitle),
        )
    )
