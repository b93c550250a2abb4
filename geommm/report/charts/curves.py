"""Response curves (spend -> incremental KPI) and adstock decay (how long an ad keeps working).

Curves are drawn against the spend multiplier (1 = what was actually spent)
and, by default, per unit of current spend, so a small and a large geo can be
compared on one axis: the height at 1 is the ROI, the slope is the marginal ROI.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from geommm.analysis.tables import ADSTOCK_DECAY, NATIONAL, RESPONSE_CURVES
from geommm.report.charts._common import HDI_TITLE, inline_data, require_columns, unique_in_order
from geommm.report.theme import ACTUAL_COLOR, CATEGORY_SCHEME, MANY_CATEGORY_SCHEME


def _per_current_spend(curves: pl.DataFrame) -> pl.DataFrame:
    """Divide KPI columns by the spend at multiplier 1 of the same geo and channel."""
    current = (
        curves.with_columns((pl.col("spend_multiplier") - 1).abs().alias("_dist"))
        .sort("_dist")
        .group_by("geo", "channel", maintain_order=True)
        .agg(pl.col("spend").first().alias("_current"))
    )
    kpi = [c for c in RESPONSE_CURVES if c.startswith("incremental_kpi_")]
    return (
        curves.join(current, on=["geo", "channel"], how="left")
        .filter(pl.col("_current") > 0)  # a geo that never ran the channel has no current spend
        .with_columns((pl.col(c) / pl.col("_current")).alias(c) for c in kpi)
        .drop("_current")
    )


def response_curve_chart(
    curves: pl.DataFrame,
    *,
    per_current_spend: bool = True,
    columns: int = 3,
) -> alt.FacetChart:
    """One panel per channel: national curve with its HDI band, geo curves on top.

    With ``per_current_spend=True`` (default) the y axis is incremental KPI per
    unit of current spend against the spend multiplier, which puts every geo
    on the national scale; ``False`` shows raw spend and incremental KPI
    (geo curves then sit far below the national one). Click a geo in the
    legend to highlight it.
    """
    require_columns(curves, RESPONSE_CURVES, "response_curves")
    data = _per_current_spend(curves) if per_current_spend else curves
    if per_current_spend:
        x = alt.X("spend_multiplier:Q", title="spend multiplier (1 = current spend)")
        y_title = "incremental KPI per unit of current spend"
    else:
        x = alt.X("spend:Q", title="spend")
        y_title = "incremental KPI"
    geos = sorted(g for g in unique_in_order(data["geo"]) if g != NATIONAL)
    pick = alt.selection_point(fields=["geo"], bind="legend", name="curve_geo")
    national = alt.datum.geo == NATIONAL
    band = (
        alt.Chart()
        .transform_filter(national)
        .mark_area(color="#9aa5b1", opacity=0.35)
        .encode(
            x=x,
            y=alt.Y("incremental_kpi_hdi_low:Q", title=y_title),
            y2="incremental_kpi_hdi_high:Q",
        )
    )
    tooltip = [
        alt.Tooltip("geo:N"),
        alt.Tooltip("channel:N"),
        alt.Tooltip("spend_multiplier:Q", title="spend multiplier", format=".2f"),
        alt.Tooltip("spend:Q", format=",.0f"),
        alt.Tooltip("incremental_kpi_mean:Q", title="mean", format=",.4~g"),
        alt.Tooltip("incremental_kpi_hdi_low:Q", title="HDI low", format=",.4~g"),
        alt.Tooltip("incremental_kpi_hdi_high:Q", title="HDI high", format=",.4~g"),
    ]
    geo_lines = (
        alt.Chart()
        .transform_filter(~national)
        .mark_line(strokeWidth=1.4)
        .encode(
            x=x,
            y=alt.Y("incremental_kpi_mean:Q", title=y_title),
            color=alt.Color(
                "geo:N",
                title="geo",
                sort=geos,
                scale=alt.Scale(
                    scheme=CATEGORY_SCHEME if len(geos) <= 10 else MANY_CATEGORY_SCHEME
                ),
            ),
            opacity=alt.condition(pick, alt.value(0.9), alt.value(0.12)),
            detail="geo:N",
            tooltip=tooltip,
        )
        .add_params(pick)
    )
    national_line = (
        alt.Chart()
        .transform_filter(national)
        .mark_line(color=ACTUAL_COLOR, strokeWidth=3)
        .encode(x=x, y="incremental_kpi_mean:Q", tooltip=tooltip)
    )
    layers = [band, geo_lines, national_line]
    if per_current_spend:
        layers.append(
            alt.Chart().mark_rule(color="#52606d", strokeDash=[4, 3]).encode(x=alt.datum(1))
        )
    channels = unique_in_order(data["channel"])
    has_national = bool((data["geo"] == NATIONAL).any())
    return (
        alt.layer(*layers, data=inline_data(data))
        .properties(width=260, height=190)
        .facet(facet=alt.Facet("channel:N", title=None, sort=channels), columns=columns)
        .resolve_scale(y="independent", x="independent")
        .properties(
            title=alt.Title(
                "Response curves: what more (or less) spend would bring",
                subtitle=(
                    "black: national curve"
                    + (f", grey band: {HDI_TITLE}" if has_national else "")
                    + "; coloured: geos (click the legend to highlight one)"
                ),
            )
        )
    )


def adstock_decay_chart(decay: pl.DataFrame, *, columns: int = 3) -> alt.FacetChart:
    """Share of an ad's effect felt 0, 1, 2, ... periods after it runs, per channel.

    Bars and whiskers: national (channel-level) weights with their HDI;
    lines: each geo's posterior mean weights.
    """
    require_columns(decay, ADSTOCK_DECAY, "adstock_decay")
    national = alt.datum.geo == NATIONAL
    x = alt.X("lag:O", title="periods after the spend")
    y = alt.Y("weight_mean:Q", title="share of total effect", axis=alt.Axis(format=".0%"))
    tooltip = [
        alt.Tooltip("geo:N"),
        alt.Tooltip("channel:N"),
        alt.Tooltip("lag:O"),
        alt.Tooltip("weight_mean:Q", title="mean", format=".1%"),
        alt.Tooltip("weight_hdi_low:Q", title="HDI low", format=".1%"),
        alt.Tooltip("weight_hdi_high:Q", title="HDI high", format=".1%"),
    ]
    geos = sorted(g for g in unique_in_order(decay["geo"]) if g != NATIONAL)
    bars = (
        alt.Chart()
        .transform_filter(national)
        .mark_bar(color="#c3cbd3")
        .encode(x=x, y=y, tooltip=tooltip)
    )
    whiskers = (
        alt.Chart()
        .transform_filter(national)
        .mark_rule(color=ACTUAL_COLOR)
        .encode(x=x, y="weight_hdi_low:Q", y2="weight_hdi_high:Q")
    )
    lines = (
        alt.Chart()
        .transform_filter(~national)
        .mark_line(point=alt.OverlayMarkDef(size=18), strokeWidth=1.2, opacity=0.8)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "geo:N",
                title="geo",
                sort=geos,
                scale=alt.Scale(
                    scheme=CATEGORY_SCHEME if len(geos) <= 10 else MANY_CATEGORY_SCHEME
                ),
            ),
            tooltip=tooltip,
        )
    )
    channels = unique_in_order(decay["channel"])
    return (
        alt.layer(bars, whiskers, lines, data=inline_data(decay))
        .properties(width=230, height=160)
        .facet(facet=alt.Facet("channel:N", title=None, sort=channels), columns=columns)
        .properties(
            title=alt.Title(
                "Adstock: how long an ad keeps working",
                subtitle=f"bars: national weights with {HDI_TITLE}; lines: geos",
            )
        )
    )
