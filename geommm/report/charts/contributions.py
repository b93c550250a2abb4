"""Where the KPI comes from: stacked contributions over time and a waterfall of the total.

Baseline, trend, seasonality and controls sit at the bottom in muted colours,
media on top in strong ones, so "how much did marketing add" reads at a glance.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from geommm.analysis.tables import CONTRIBUTION_VALUES, NATIONAL
from geommm.errors import SchemaError
from geommm.report.charts._common import (
    HDI_TITLE,
    date_axis,
    dropdown,
    geos_national_first,
    inline_data,
    require_columns,
    time_scale,
)
from geommm.report.theme import (
    COMPONENT_TYPE_COLORS,
    COMPONENT_TYPE_ORDER,
    component_colors,
)

TOTAL_LABEL = "Total KPI"


def order_components(df: pl.DataFrame) -> list[tuple[str, str]]:
    """(component, type) pairs: by type (baseline first, media last), then by size."""
    rank = {kind: i for i, kind in enumerate(COMPONENT_TYPE_ORDER)}
    sizes = (
        df.group_by("component", "component_type")
        .agg(pl.col("mean").sum().abs().alias("size"))
        .to_dicts()
    )
    sizes.sort(key=lambda r: (rank.get(r["component_type"], len(rank)), -r["size"], r["component"]))
    return [(r["component"], r["component_type"]) for r in sizes]


def _geo_time_with_national(df: pl.DataFrame) -> pl.DataFrame:
    """Per-geo rows plus national rows (means add up; HDIs are not summed)."""
    if "geo" not in df.columns:
        return df.with_columns(pl.lit(NATIONAL).alias("geo"))
    if (df["geo"] == NATIONAL).any():
        return df
    national = (
        df.group_by("time", "component", "component_type")
        .agg(pl.col("mean").sum())
        .with_columns(pl.lit(NATIONAL).alias("geo"))
    )
    return pl.concat([df, national], how="diagonal_relaxed")


def stacked_contributions(contributions: pl.DataFrame) -> pl.DataFrame:
    """Each component's area edges (``lower``, ``upper``) for the decomposition chart.

    Stacked by hand rather than by Vega, so the picture cannot break:
    every (geo, component) gets a row for every week (a missing row stacks as
    0, its ``mean`` stays null), the stacking order is the same in every week,
    and the positive part of a component is stacked upwards from zero while
    its negative part is stacked downwards from zero, each in its own area
    (``part`` = "above" / "below"). A component that changes sign (a price
    control, seasonality) would otherwise jump between the two stacks from one
    week to the next and draw thin spikes across the other areas.
    """
    data = _geo_time_with_national(contributions)
    order = [name for name, _ in order_components(data)]
    kinds = data.select("component", "component_type").unique("component", keep="first")
    grid = (
        data.select("geo").unique()
        .join(data.select("time").unique(), how="cross")
        .join(kinds, how="cross")
    )
    value = pl.col("mean").fill_nan(None).fill_null(0.0)
    rank = pl.col("component").replace_strict(order, list(range(len(order))))
    cells = pl.struct("geo", "time")
    stacked = (
        grid.join(data.drop("component_type"), on=["geo", "time", "component"], how="left")
        .with_columns(rank.alias("stack_order"))
        .sort("geo", "time", "stack_order")
        .with_columns(
            value.clip(lower_bound=0).cum_sum().over(cells).alias("_top"),
            value.clip(upper_bound=0).cum_sum().over(cells).alias("_bottom"),
        )
    )
    above = stacked.with_columns(
        pl.lit("above").alias("part"),
        (pl.col("_top") - value.clip(lower_bound=0)).alias("lower"),
        pl.col("_top").alias("upper"),
    )
    below = stacked.with_columns(
        pl.lit("below").alias("part"),
        pl.col("_bottom").alias("lower"),
        (pl.col("_bottom") - value.clip(upper_bound=0)).alias("upper"),
    )
    # a part that is zero in every week of a geo would be an invisible area: left out
    keep = (pl.col("upper") != pl.col("lower")).any().over("geo", "component", "part")
    return (
        pl.concat([above, below])
        .filter(keep)
        .drop("_top", "_bottom")
        .sort("geo", "stack_order", "part", "time")
    )


def contribution_area_chart(
    contributions: pl.DataFrame,
    *,
    geo: str | None = None,
    time_title: str = "week",
    kpi_name: str = "KPI",
) -> alt.LayerChart:
    """Contributions over time, stacked: positive parts above zero, negative parts below.

    Expects ``fit.contributions(by=["geo", "time"])`` (or ``by=["time"]``);
    national rows are the sum over geos when the table has none. A geo
    drop-down picks the panel. Components keep one order everywhere (baseline
    nearest zero, media outermost); a negative contribution (a control that
    lowers the KPI, the trough of seasonality) is drawn below zero in the
    component's colour rather than netted against the others, so the height of
    each band is that component's contribution in that week. The black line is
    the sum of all components: the model's predicted ``kpi_name``.
    See :func:`stacked_contributions` for why the stacking is done here.
    """
    require_columns(contributions, ("time", *CONTRIBUTION_VALUES), "contributions")
    data = stacked_contributions(contributions)
    domain, colors = component_colors(order_components(data))
    total = (
        data.filter(pl.col("part") == "above")
        .group_by("geo", "time")
        .agg(pl.col("mean").fill_nan(None).sum().alias("total"))
        .sort("geo", "time")
    )
    param = dropdown(
        "contribution_geo", geos_national_first(data["geo"].unique()), "Geo:", value=geo
    )
    x = alt.X(
        "time:T", title=time_title, axis=date_axis(data["time"], 720), scale=time_scale(data["time"])
    )
    tooltip = [
        alt.Tooltip("geo:N"),
        alt.Tooltip("time:T"),
        alt.Tooltip("component:N"),
        alt.Tooltip("component_type:N", title="type"),
        alt.Tooltip("mean:Q", title="contribution (mean)", format=",.0f"),
        alt.Tooltip("hdi_low:Q", title="HDI low", format=",.0f"),
        alt.Tooltip("hdi_high:Q", title="HDI high", format=",.0f"),
    ]
    areas = (
        alt.Chart(inline_data(data))
        .mark_area(opacity=0.9, interpolate="linear")
        .encode(
            x=x,
            y=alt.Y("lower:Q", title=f"contribution to {kpi_name} (posterior mean)", stack=None),
            y2=alt.Y2("upper:Q"),
            color=alt.Color(
                "component:N",
                title="component",
                sort=domain,
                scale=alt.Scale(domain=domain, range=colors),
            ),
            detail=alt.Detail("part:N"),
            tooltip=tooltip,
        )
        .transform_filter(alt.datum.geo == param)
    )
    line = (
        alt.Chart(inline_data(total))
        .mark_line(color="#1f2933", strokeWidth=1.4)
        .encode(
            x=alt.X("time:T"),
            y=alt.Y("total:Q"),
            tooltip=[
                alt.Tooltip("geo:N"),
                alt.Tooltip("time:T"),
                alt.Tooltip("total:Q", title=f"predicted {kpi_name} (sum)", format=",.0f"),
            ],
        )
        .transform_filter(alt.datum.geo == param)
    )
    return (
        alt.layer(areas, line)
        .add_params(param)
        .properties(
            width=720,
            height=320,
            title=alt.Title(
                f"Decomposition of {kpi_name} over time",
                subtitle="baseline, trend, seasonality and controls nearest zero, media "
                "channels outermost; negative contributions below zero; black line: the sum "
                f"(predicted {kpi_name})",
            ),
        )
    )


def waterfall_table(contributions: pl.DataFrame, geo: str | None = None) -> pl.DataFrame:
    """Total contribution per component with the running start/end of each waterfall step."""
    df = contributions
    if "geo" in df.columns:
        if geo is None and (df["geo"] == NATIONAL).any():
            geo = NATIONAL
        if geo is not None:
            df = df.filter(pl.col("geo") == geo)
    elif geo not in (None, NATIONAL):
        raise SchemaError(f"contributions table has no 'geo' column, cannot pick geo {geo!r}.")
    # one row per component already (no summing over geos or weeks): HDIs stay exact
    exact = "time" not in df.columns and (geo is not None or "geo" not in df.columns)
    totals = df.group_by("component", "component_type").agg(
        pl.col("mean").sum(),
        *([pl.col("hdi_low").sum(), pl.col("hdi_high").sum()] if exact else []),
    )
    if not exact:
        # summed HDIs are not the HDI of a sum: show none rather than a wrong one
        totals = totals.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("hdi_low"),
            pl.lit(None, dtype=pl.Float64).alias("hdi_high"),
        )
    order = [name for name, _ in order_components(totals)]
    totals = (
        totals.with_columns(
            pl.col("component").replace_strict(order, list(range(len(order)))).alias("step")
        )
        .sort("step")
        .with_columns(pl.col("mean").cum_sum().alias("end"))
        .with_columns((pl.col("end") - pl.col("mean")).alias("start"))
    )
    total = totals["mean"].sum()
    total_row = pl.DataFrame(
        {
            "component": [TOTAL_LABEL],
            "component_type": ["total"],
            "mean": [total],
            "hdi_low": [None],
            "hdi_high": [None],
            "step": [len(order)],
            "end": [total],
            "start": [0.0],
        }
    )
    out = pl.concat([totals, total_row], how="diagonal_relaxed")
    return out.with_columns(
        (pl.col("mean") / total if total else pl.lit(None)).alias("share"),
        (pl.col("start") + pl.col("hdi_low")).alias("band_low"),
        (pl.col("start") + pl.col("hdi_high")).alias("band_high"),
    ).with_columns(pl.max_horizontal("start", "end", "band_high").alias("label_at"))


def waterfall_chart(contributions: pl.DataFrame, *, geo: str | None = None) -> alt.LayerChart:
    """Waterfall from zero to the total KPI, one step per component.

    Best fed ``fit.contributions(by=[])`` (national totals, exact HDIs) or
    ``by=["geo"]`` with ``geo=``. A table with time is summed first (then
    the per-step HDI whiskers are left out, as summed HDIs would be wrong).
    """
    require_columns(contributions, CONTRIBUTION_VALUES, "contributions")
    data = waterfall_table(contributions, geo)
    order = data["component"].to_list()
    kinds = [k for k in (*COMPONENT_TYPE_ORDER, "total") if k in set(data["component_type"])]
    y = alt.Y("component:N", sort=order, title=None)
    base = alt.Chart(inline_data(data))
    bars = base.mark_bar(height={"band": 0.7}).encode(
        y=y,
        x=alt.X("start:Q", title="contribution to total KPI"),
        x2=alt.X2("end:Q"),
        color=alt.Color(
            "component_type:N",
            title="type",
            sort=kinds,
            scale=alt.Scale(
                domain=kinds, range=[COMPONENT_TYPE_COLORS.get(k, "#9aa5b1") for k in kinds]
            ),
        ),
        tooltip=[
            alt.Tooltip("component:N"),
            alt.Tooltip("component_type:N", title="type"),
            alt.Tooltip("mean:Q", title="contribution (mean)", format=",.0f"),
            alt.Tooltip("share:Q", title="share of total", format=".1%"),
            alt.Tooltip("hdi_low:Q", title="HDI low", format=",.0f"),
            alt.Tooltip("hdi_high:Q", title="HDI high", format=",.0f"),
        ],
    )
    whiskers = base.mark_rule(color="#1f2933", strokeWidth=1.2).encode(
        y=y, x=alt.X("band_low:Q"), x2=alt.X2("band_high:Q")
    )
    labels = base.mark_text(align="left", dx=4, fontSize=10, color="#1f2933").encode(
        y=y,
        x=alt.X("label_at:Q"),
        text=alt.Text("share:Q", format=".1%"),
    )
    where = geo if geo not in (None, NATIONAL) else "all geos"
    # summed over weeks or geos there are no exact HDIs: no whiskers, and no promise of them
    has_hdi = data.select(pl.col("band_low").is_not_null().any()).item()
    layers = [bars, whiskers, labels] if has_hdi else [bars, labels]
    whisker_text = f"whiskers: {HDI_TITLE}; " if has_hdi else ""
    return alt.layer(*layers).properties(
        width=620,
        height=alt.Step(22),
        title=alt.Title(
            f"Where the KPI comes from ({where})",
            subtitle=f"bars: posterior mean contribution; {whisker_text}labels: share of total",
        ),
    )
