"""Response curves (spend -> incremental KPI) and adstock decay (how long an ad keeps working).

Curves are drawn in spend units: incremental KPI over the analysed period
against the period's total spend, one panel per channel, for the national
total or one geo (drop-down). Today's spend and the recommended spend of the
budget plan are marked on every curve, so the chart reads as "moving from here
to there buys this much". ``per_current_spend=True`` keeps the older view that
overlays every geo on a spend-multiplier axis.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import polars as pl

from geommm.analysis.tables import ADSTOCK_DECAY, ALLOCATION, NATIONAL, RESPONSE_CURVES
from geommm.report.charts._common import (
    HDI_TITLE,
    dropdown,
    facet_columns,
    geos_national_first,
    inline_data,
    require_columns,
    unique_in_order,
)
from geommm.report.theme import (
    ACTUAL_COLOR,
    CATEGORY_SCHEME,
    MANY_CATEGORY_SCHEME,
    OPTIMAL_COLOR,
)

#: The two marked points on every curve, and their colours.
MARKS = ["current", "recommended"]
_MARK_COLORS = ["#52606d", OPTIMAL_COLOR]
#: Spend labels as 250k / 1.5M: full numbers overlap on a small panel.
_SI_AXIS = alt.Axis(labelExpr="format(datum.value, '.3~s')")


def _ratios(allocation: pl.DataFrame) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    """Recommended / current spend per (geo, channel), and per channel summed over geos."""
    require_columns(allocation, ALLOCATION, "allocation")
    rows = allocation.filter(pl.col("current_spend") > 0)
    per_cell = {
        (r["geo"], r["channel"]): r["optimal_spend"] / r["current_spend"]
        for r in rows.iter_rows(named=True)
    }
    sums = rows.group_by("channel").agg(
        pl.col("current_spend").sum(), pl.col("optimal_spend").sum()
    )
    national = {
        r["channel"]: r["optimal_spend"] / r["current_spend"] for r in sums.iter_rows(named=True)
    }
    return per_cell, national


def curve_marks(curves: pl.DataFrame, allocation: pl.DataFrame | None = None) -> pl.DataFrame:
    """Points on each curve: today's spend and, with ``allocation``, the recommended spend.

    Columns: geo, channel, mark ("current" / "recommended"), spend, incremental_kpi_mean,
    spend_multiplier. The recommended spend is the plan's recommended / current ratio
    applied to the curve's current spend (exact when the plan covers the analysed
    period, the default); a national plan (``by="channel"``) moves every geo of a
    channel by the same ratio."""
    require_columns(curves, RESPONSE_CURVES, "response_curves")
    per_cell, national = _ratios(allocation) if allocation is not None else ({}, {})
    rows = []
    for (geo, channel), cell in curves.group_by("geo", "channel", maintain_order=True):
        cell = cell.sort("spend_multiplier")
        mult, spend = cell["spend_multiplier"].to_numpy(), cell["spend"].to_numpy()
        kpi = cell["incremental_kpi_mean"].to_numpy()
        at_one = np.interp(1.0, mult, spend)
        if not at_one > 0:
            continue
        points = {"current": 1.0}
        ratio = per_cell.get((geo, channel), national.get(channel))
        if ratio is not None and np.isfinite(ratio):
            points["recommended"] = ratio
        for mark, m in points.items():
            rows.append(
                (geo, channel, mark, m * at_one, float(np.interp(m * at_one, spend, kpi)), m)
            )
    schema = ["geo", "channel", "mark", "spend", "incremental_kpi_mean", "spend_multiplier"]
    return pl.DataFrame(rows, schema=schema, orient="row")


def _spend_view(
    curves: pl.DataFrame,
    allocation: pl.DataFrame | None,
    period: str,
    columns: int,
    geo: str | None,
) -> alt.FacetChart:
    marks = curve_marks(curves, allocation)
    data = pl.concat(
        [curves.with_columns(pl.lit("curve").alias("mark")), marks], how="diagonal_relaxed"
    )
    geos = geos_national_first(unique_in_order(data["geo"]))
    pick = dropdown("curve_geo", geos, "Geo:", value=geo)
    shown = alt.datum.geo == pick
    on_curve = alt.datum.mark == "curve"
    x = alt.X("spend:Q", title=f"spend over {period}", axis=_SI_AXIS)
    y_title = f"incremental KPI over {period}"
    tooltip = [
        alt.Tooltip("geo:N"),
        alt.Tooltip("channel:N"),
        alt.Tooltip("spend:Q", format=",.0f"),
        alt.Tooltip("spend_multiplier:Q", title="x current spend", format=".2f"),
        alt.Tooltip("incremental_kpi_mean:Q", title="incremental KPI (mean)", format=",.4~g"),
    ]
    band = (
        alt.Chart()
        .transform_filter(shown & on_curve)
        .mark_area(color="#9aa5b1", opacity=0.35)
        .encode(
            x=x,
            y=alt.Y("incremental_kpi_hdi_low:Q", title=y_title),
            y2=alt.Y2("incremental_kpi_hdi_high:Q"),
        )
    )
    line = (
        alt.Chart()
        .transform_filter(shown & on_curve)
        .mark_line(color=ACTUAL_COLOR, strokeWidth=2.5)
        .encode(x=x, y=alt.Y("incremental_kpi_mean:Q"), tooltip=tooltip)
    )
    present = [m for m in MARKS if m in set(marks["mark"])]
    color = alt.Color(
        "mark:N",
        title=None,
        sort=present,
        scale=alt.Scale(domain=present, range=_MARK_COLORS[: len(present)]),
        legend=alt.Legend(orient="top", labelExpr="datum.label + ' spend'"),
    )
    rules = (
        alt.Chart()
        .transform_filter(shown & ~on_curve)
        .mark_rule(strokeDash=[4, 3], strokeWidth=1.2)
        .encode(x=x, color=color)
    )

    def dots(mark: str, size: int) -> alt.Chart:
        # one layer per mark, current first: the recommended dot stays visible on top of it
        return (
            alt.Chart()
            .transform_filter(shown & (alt.datum.mark == mark))
            .mark_point(filled=True, opacity=1, size=size)
            .encode(x=x, y=alt.Y("incremental_kpi_mean:Q"), color=color, tooltip=tooltip)
        )

    channels = unique_in_order(curves["channel"])
    marked = "current spend" + (
        " and the budget plan's recommended spend" if len(present) > 1 else ""
    )
    layered = alt.layer(
        band, rules, line, dots("current", 170), dots("recommended", 60), data=inline_data(data)
    ).add_params(pick)
    return (
        _per_channel(layered, channels, columns)
        .properties(
            title=alt.Title(
                "Response curves: what more (or less) spend would bring",
                subtitle=[
                    f"line: posterior mean, grey band: {HDI_TITLE}; pick the national total or a geo",
                    f"dots and dashed lines: {marked}",
                ],
            )
        )
    )


def _per_channel(chart: alt.LayerChart, channels: list, columns: int) -> alt.FacetChart:
    """One curve panel per channel (no empty cells), each with its own spend and KPI scale."""
    return (
        chart.properties(width=260, height=190)
        .facet(facet=alt.Facet("channel:N", title=None, sort=channels),
               columns=facet_columns(len(channels), columns))
        .resolve_scale(y="independent", x="independent")
    )


def response_curve_chart(
    curves: pl.DataFrame,
    allocation: pl.DataFrame | None = None,
    *,
    period: str = "the analysed period",
    geo: str | None = None,
    per_current_spend: bool = False,
    columns: int = 3,
) -> alt.FacetChart:
    """One panel per channel: incremental KPI against spend, today's and the recommended spend marked.

    Feed ``fit.response_curves()`` and, to mark the recommended spend, the plan's
    table (``fit.optimize_budget(...).table``). ``period`` names what the spend
    and KPI are totals over (e.g. "the 104 analysed weeks"); ``geo`` is the
    drop-down's first choice (national by default). ``per_current_spend=True``
    gives the older comparison view instead: every geo's curve per unit of its
    current spend against the spend multiplier.
    """
    require_columns(curves, RESPONSE_CURVES, "response_curves")
    if per_current_spend:
        return _multiplier_view(curves, columns)
    return _spend_view(curves, allocation, period, columns, geo)


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


def _multiplier_view(curves: pl.DataFrame, columns: int) -> alt.FacetChart:
    """Every geo per unit of its current spend on one multiplier axis (click the legend)."""
    data = _per_current_spend(curves)
    x = alt.X("spend_multiplier:Q", title="spend multiplier (1 = current spend)")
    y_title = "incremental KPI per unit of current spend"
    geos = [g for g in geos_national_first(unique_in_order(data["geo"])) if g != NATIONAL]
    pick = alt.selection_point(fields=["geo"], bind="legend", name="curve_geo")
    national = alt.datum.geo == NATIONAL
    band = (
        alt.Chart()
        .transform_filter(national)
        .mark_area(color="#9aa5b1", opacity=0.35)
        .encode(
            x=x,
            y=alt.Y("incremental_kpi_hdi_low:Q", title=y_title),
            y2=alt.Y2("incremental_kpi_hdi_high:Q"),
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
            detail=alt.Detail("geo:N"),
            tooltip=tooltip,
        )
        .add_params(pick)
    )
    national_line = (
        alt.Chart()
        .transform_filter(national)
        .mark_line(color=ACTUAL_COLOR, strokeWidth=3)
        .encode(x=x, y=alt.Y("incremental_kpi_mean:Q"), tooltip=tooltip)
    )
    layers = [band, geo_lines, national_line]
    layers.append(alt.Chart().mark_rule(color="#52606d", strokeDash=[4, 3]).encode(x=alt.datum(1)))
    channels = unique_in_order(data["channel"])
    has_national = bool((data["geo"] == NATIONAL).any())
    return (
        _per_channel(alt.layer(*layers, data=inline_data(data)), channels, columns)
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
    geos = [g for g in geos_national_first(unique_in_order(decay["geo"])) if g != NATIONAL]
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
        .encode(x=x, y=alt.Y("weight_hdi_low:Q"), y2=alt.Y2("weight_hdi_high:Q"))
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
        .facet(facet=alt.Facet("channel:N", title=None, sort=channels),
               columns=facet_columns(len(channels), columns))
        .properties(
            title=alt.Title(
                "Adstock: how long an ad keeps working",
                subtitle=f"bars: national weights with {HDI_TITLE}; lines: geos",
            )
        )
    )
