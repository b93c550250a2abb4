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
    geos_national_first,
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
        .encode(x=alt.X("x:Q"))
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
        x2=alt.X2("roi_hdi_high:Q"),
        color=color,
    )
    point = base.mark_point(filled=True, size=70, opacity=1).encode(
        y=y,
        yOffset=offset,
        x=alt.X("roi_mean:Q"),
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


def _national_rows(roi: pl.DataFrame, national: pl.DataFrame | None) -> pl.DataFrame:
    """The national ROI per channel, from ``national`` or the table's own national rows."""
    if national is None:
        return roi.filter(pl.col("geo") == NATIONAL)
    require_columns(national, ROI_BY_CHANNEL, "national roi")
    if "geo" in national.columns:
        return national.filter(pl.col("geo") == NATIONAL)
    return national.with_columns(pl.lit(NATIONAL).alias("geo"))


def with_stand_out(roi: pl.DataFrame, national: pl.DataFrame | None = None) -> pl.DataFrame:
    """ROI rows plus ``national_roi`` and ``stands_out``: does the geo's interval exclude it?

    National rows (from ``national`` or ``roi``) are kept, first, with ``stands_out``
    null, as is any geo with no national ROI to compare with. Geos come in the
    report's one order (national first, then alphabetical)."""
    nat = _national_rows(roi, national)
    means = {
        r["channel"]: r["roi_mean"] for r in nat.iter_rows(named=True) if r["roi_mean"] is not None
    }
    data = (
        pl.concat([nat, roi.filter(pl.col("geo") != NATIONAL)], how="diagonal_relaxed")
        .select(roi.columns)
        .with_columns(
            pl.col("channel")
            .replace_strict(means, default=None, return_dtype=pl.Float64)
            .alias("national_roi")
        )
    )
    outside = (pl.col("national_roi") < pl.col("roi_hdi_low")) | (
        pl.col("national_roi") > pl.col("roi_hdi_high")
    )
    data = data.with_columns(
        pl.when(pl.col("national_roi").is_null() | (pl.col("geo") == NATIONAL))
        .then(None)
        .otherwise(outside)
        .alias("stands_out")
    )
    return in_geo_order(data)


def in_geo_order(table: pl.DataFrame) -> pl.DataFrame:
    """Rows sorted into the report's one geo order (national first, then alphabetical).

    Stable: within a geo the rows keep their order (channels as the model lists them)."""
    if "geo" not in table.columns:
        return table
    rank = {g: i for i, g in enumerate(geos_national_first(table["geo"].drop_nulls().unique()))}
    key = pl.col("geo").replace_strict(rank, default=len(rank), return_dtype=pl.Int64)
    return table.sort(key, maintain_order=True)


#: Fill and ink of cells whose interval includes the national ROI (not distinguishable).
MUTED_FILL, MUTED_INK = "#eef0f3", "#7b8794"
_INTERVAL_TEXT = "format(datum.roi_hdi_low, '.2f') + '–' + format(datum.roi_hdi_high, '.2f')"


def roi_heatmap(
    roi: pl.DataFrame,
    national: pl.DataFrame | None = None,
    *,
    title: str = "ROI by geo and channel",
) -> alt.LayerChart:
    """Geo x channel grid of mean ROI with its interval printed in each cell.

    Feed ``fit.roi(by="geo")`` (or ``fit.marginal_roi(by="geo")``) and the
    national table of the same measure as ``national`` (or national rows in
    ``roi``): the national row comes first and geo cells whose interval includes
    the national value are greyed out, so the geos that really differ stand out
    without hovering. Geos are in the report's one order (national, then
    alphabetical), channels in the table's order.
    """
    require_columns(roi, ROI_BY_GEO, "roi")
    data = with_stand_out(roi, national)
    compared = bool(data["stands_out"].is_not_null().any())
    order = geos_national_first(data["geo"].unique())
    channels = unique_in_order(data["channel"])
    hi = data["roi_mean"].max()
    lo = data["roi_mean"].min()
    midpoint = (hi + lo) / 2 if hi is not None and lo is not None else 0.0
    muted = alt.datum.stands_out == False  # a Vega expression, not a Python bool test
    base = alt.Chart(inline_data(data)).encode(
        x=alt.X("channel:N", sort=channels, title=None, axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("geo:N", sort=order, title=None),
    )
    tooltip = [alt.Tooltip("geo:N"), alt.Tooltip("channel:N"), *_WITH_SPEND]
    if compared:
        tooltip.append(alt.Tooltip("national_roi:Q", title="national", format=".2f"))
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.condition(
            muted,
            alt.value(MUTED_FILL),
            alt.Color("roi_mean:Q", title="ROI (mean)", scale=alt.Scale(scheme="blues")),
        ),
        tooltip=tooltip,
    )
    ink = (
        alt.when(muted)
        .then(alt.value(MUTED_INK))
        .when(alt.datum.roi_mean > midpoint)
        .then(alt.value("white"))
        .otherwise(alt.value("#1f2933"))
    )
    mean_text = base.mark_text(fontSize=12, dy=-7, fontWeight="bold").encode(
        text=alt.Text("roi_mean:Q", format=".2f"), color=ink, tooltip=tooltip
    )
    interval_text = (
        base.transform_calculate(interval=_INTERVAL_TEXT)
        .mark_text(fontSize=10, dy=8)
        .encode(text=alt.Text("interval:N"), color=ink, tooltip=tooltip)
    )
    subtitle = [f"bold: posterior mean; below it: the {HDI_TITLE}"]
    if compared:
        subtitle.append(
            "grey cells: the interval includes the channel's national value, so that geo "
            "does not stand out; coloured cells differ from national"
        )
    return alt.layer(cells, mean_text, interval_text).properties(
        width=alt.Step(110),
        height=alt.Step(38),
        title=alt.Title(title, subtitle=subtitle),
    )


def geo_ranking_chart(
    roi: pl.DataFrame,
    *,
    channel: str | None = None,
    break_even: float | None = 1.0,
    title: str = "ROI by geo against the national ROI",
) -> alt.LayerChart:
    """For one channel (drop-down), each geo's mean ROI with its HDI next to the national ROI.

    Answers "where does this channel work best?" while showing which geo
    differences are real: geos whose interval excludes the national value are
    drawn in full colour, the rest muted. Geos are listed in the report's one
    order (alphabetical) so they line up with the heat maps and tables.
    """
    require_columns(roi, ROI_BY_GEO, "roi")
    channels = unique_in_order(roi["channel"])
    param = dropdown("ranking_channel", channels, "Channel:", value=channel)
    geos = with_stand_out(roi).filter(pl.col("geo") != NATIONAL)
    compared = bool(geos["stands_out"].is_not_null().any())
    muted = alt.datum.stands_out == False  # a Vega expression, not a Python bool test
    opacity = alt.condition(muted, alt.value(0.35), alt.value(1.0))
    base = alt.Chart(inline_data(geos)).transform_filter(alt.datum.channel == param)
    y = alt.Y("geo:N", title=None, sort=geos_national_first(geos["geo"].unique()))
    interval = base.mark_rule(color=MODEL_COLOR, strokeWidth=2.5).encode(
        y=y,
        x=alt.X("roi_hdi_low:Q", title=f"ROI (KPI per unit of spend), {HDI_TITLE}"),
        x2=alt.X2("roi_hdi_high:Q"),
        opacity=opacity,
    )
    point = base.mark_point(filled=True, size=70, color=MODEL_COLOR).encode(
        y=y,
        x=alt.X("roi_mean:Q"),
        opacity=opacity,
        tooltip=[alt.Tooltip("geo:N"), alt.Tooltip("channel:N"), *_WITH_SPEND],
    )
    layers = [*_break_even(break_even), interval, point]
    national = roi.filter(pl.col("geo") == NATIONAL)
    subtitle = [f"dot: posterior mean; line: {HDI_TITLE}"]
    if national.height:
        layers.append(
            alt.Chart(inline_data(national))
            .transform_filter(alt.datum.channel == param)
            .mark_rule(color=MEASURED_COLOR, strokeWidth=1.5)
            .encode(x=alt.X("roi_mean:Q"), tooltip=[alt.Tooltip("channel:N"), *_TOOLTIP])
        )
        subtitle[0] += "; red: national mean"
    if compared:
        subtitle.append("muted: the geo's interval includes the national ROI (does not stand out)")
    return (
        alt.layer(*layers)
        .add_params(param)
        .properties(
            width=560,
            height=alt.Step(22),
            title=alt.Title(title, subtitle=subtitle),
        )
    )
