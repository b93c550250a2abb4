"""Budget reallocation: current vs recommended spend per channel (and geo), with expected lift.

Drawn as dumbbells (grey = today, blue = recommended) so the direction and
size of each move is obvious without reading numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import polars as pl

from geommm.analysis.tables import ALLOCATION, NATIONAL
from geommm.report.charts._common import (
    facet_columns,
    geos_national_first,
    inline_data,
    is_finite,
    require_columns,
    unique_in_order,
)
from geommm.report.theme import CURRENT_COLOR, OPTIMAL_COLOR

PLANS = ["current", "optimal"]


def _long(df: pl.DataFrame, row: str) -> pl.DataFrame:
    """One row per (row, channel, plan) for the dumbbell points."""
    df = df.with_columns(
        pl.when(pl.col("current_spend") != 0)
        .then(pl.col("optimal_spend") / pl.col("current_spend") - 1)
        .otherwise(None)
        .alias("relative_change")
    )
    keep = [
        c
        for c in dict.fromkeys(
            [row, "channel", "current_spend", "optimal_spend", "relative_change"]
        )
        if c in df.columns
    ]
    return df.select(keep)


def _dumbbell(data: pl.DataFrame, row: str, *, facet: bool = False) -> alt.LayerChart:
    """Rule from current to recommended spend with a dot at each end (data left out to facet)."""
    base = alt.Chart()
    labels = unique_in_order(data[row])
    order = geos_national_first(labels) if row == "geo" else sorted(labels)
    y = alt.Y(f"{row}:N", title=None, sort=order)
    tooltip = [alt.Tooltip(f"{row}:N")] if row != "channel" else []
    tooltip += [
        alt.Tooltip("channel:N"),
        alt.Tooltip("current_spend:Q", title="current spend", format=",.0f"),
        alt.Tooltip("optimal_spend:Q", title="recommended spend", format=",.0f"),
        alt.Tooltip("relative_change:Q", title="change", format="+.1%"),
    ]
    rule = base.mark_rule(color="#9aa5b1", strokeWidth=2).encode(
        y=y, x=alt.X("current_spend:Q", title="spend"), x2=alt.X2("optimal_spend:Q"), tooltip=tooltip
    )
    points = (
        base.transform_fold(["current_spend", "optimal_spend"], as_=["plan", "value"])
        .transform_calculate(plan="datum.plan == 'current_spend' ? 'current' : 'optimal'")
        .mark_point(filled=True, size=70, opacity=1)
        .encode(
            y=y,
            x=alt.X("value:Q"),
            color=alt.Color(
                "plan:N",
                title=None,
                sort=PLANS,
                scale=alt.Scale(domain=PLANS, range=[CURRENT_COLOR, OPTIMAL_COLOR]),
                legend=alt.Legend(
                    orient="top", labelExpr=("datum.label == 'optimal' ? 'recommended' : 'current'")
                ),
            ),
            tooltip=tooltip,
        )
    )
    return alt.layer(rule, points) if facet else alt.layer(rule, points, data=inline_data(data))


def _lift_subtitle(summary: Mapping[str, Any] | None) -> str:
    if not summary:
        return "grey: current spend; blue: recommended spend"
    parts = []
    mean = summary.get("expected_lift_mean")
    low, high = summary.get("expected_lift_hdi_low"), summary.get("expected_lift_hdi_high")
    if is_finite(mean):
        text = f"expected extra KPI {mean:,.0f}"
        if is_finite(low) and is_finite(high):
            text += f" (HDI {low:,.0f} to {high:,.0f})"
        parts.append(text)
    if is_finite(summary.get("budget")):
        parts.append(f"budget {summary['budget']:,.0f}")
    return "; ".join(parts) or "grey: current spend; blue: recommended spend"


def budget_chart(
    allocation: pl.DataFrame,
    summary: Mapping[str, Any] | None = None,
    *,
    columns: int = 3,
) -> alt.VConcatChart | alt.LayerChart:
    """Current vs recommended spend: per channel, then per geo within each channel.

    ``allocation`` is ``Allocation.table``; ``summary`` (``Allocation.summary``)
    puts the expected lift and budget in the subtitle.
    """
    require_columns(allocation, ALLOCATION, "allocation")
    title = alt.Title("Budget: current vs recommended spend", subtitle=_lift_subtitle(summary))
    per_geo = "geo" in allocation.columns and bool((allocation["geo"] != NATIONAL).any())
    if not per_geo:
        data = _long(allocation, "channel")
        return _dumbbell(data, "channel").properties(width=560, height=alt.Step(26), title=title)
    geo_rows = allocation.filter(pl.col("geo") != NATIONAL)
    national = allocation.group_by("channel", maintain_order=True).agg(
        pl.col("current_spend").sum(), pl.col("optimal_spend").sum()
    )
    top = _dumbbell(_long(national, "channel"), "channel").properties(
        width=560, height=alt.Step(24), title="all geos"
    )
    channels = unique_in_order(geo_rows["channel"])
    geo_data = _long(geo_rows, "geo")
    grid = (
        _dumbbell(geo_data, "geo", facet=True)
        .properties(width=220, height=alt.Step(18))
        .facet(
            facet=alt.Facet("channel:N", title=None, sort=channels),
            columns=facet_columns(len(channels), columns),
            data=inline_data(geo_data),
        )
        .resolve_scale(x="independent")
    )
    return alt.vconcat(top, grid).properties(title=title)
