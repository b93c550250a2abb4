"""Model fit: actual KPI against the posterior prediction, per geo, holdout shaded.

The first thing anyone should look at: if the model cannot track the KPI
(especially in the holdout weeks it never saw) its ROIs mean little.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from geommm.analysis.tables import FITTED, NATIONAL
from geommm.report.charts._common import (
    DATE_AXIS,
    HDI_TITLE,
    dropdown,
    geos_national_first,
    inline_data,
    require_columns,
)
from geommm.report.theme import ACTUAL_COLOR, HOLDOUT_COLOR, MODEL_COLOR


def with_national(fitted: pl.DataFrame) -> pl.DataFrame:
    """Add national rows (sum over geos) when the table has none.

    Means add up exactly; HDIs do not (the HDI of a sum is not the sum of
    HDIs), so the derived national rows carry no band rather than a wrong one.
    """
    if (fitted["geo"] == NATIONAL).any():
        return fitted
    national = (
        fitted.group_by("time")
        .agg(
            pl.col("actual").sum(),
            pl.col("mean").sum(),
            pl.col("holdout").any(),
        )
        .with_columns(
            pl.lit(NATIONAL).alias("geo"),
            pl.lit(None, dtype=pl.Float64).alias("hdi_low"),
            pl.lit(None, dtype=pl.Float64).alias("hdi_high"),
        )
    )
    cols = list(FITTED)
    return pl.concat(
        [
            fitted.select(cols).with_columns(pl.col(c).cast(pl.Float64) for c in cols[2:6]),
            national.select(cols),
        ],
        how="vertical_relaxed",
    )


def _layers(time_title: str) -> list[alt.Chart]:
    """Holdout shading, HDI band, predicted mean line and actual line."""
    base = alt.Chart()
    x = alt.X("time:T", title=time_title, axis=DATE_AXIS)
    holdout = (
        base.transform_filter("datum.holdout")
        .mark_rect(color=HOLDOUT_COLOR, opacity=0.35)
        .encode(x=alt.X("min(time):T", title=time_title, axis=DATE_AXIS), x2=alt.X2("max(time):T"))
    )
    band = base.mark_area(color=MODEL_COLOR, opacity=0.25).encode(
        x=x, y=alt.Y("hdi_low:Q", title="KPI", scale=alt.Scale(zero=False)), y2="hdi_high:Q"
    )
    domain = ["actual", "mean"]
    legend = alt.Legend(
        title=None,
        orient="top",
        labelExpr="datum.label == 'mean' ? 'predicted (posterior mean)' : 'actual'",
    )
    lines = (
        base.transform_fold(["actual", "mean"], as_=["series", "value"])
        .mark_line(strokeWidth=1.6)
        .encode(
            x=x,
            y=alt.Y("value:Q", title="KPI", scale=alt.Scale(zero=False)),
            color=alt.Color(
                "series:N",
                scale=alt.Scale(domain=domain, range=[ACTUAL_COLOR, MODEL_COLOR]),
                legend=legend,
            ),
            strokeDash=alt.StrokeDash(
                "series:N", scale=alt.Scale(domain=domain, range=[[1, 0], [5, 2]]), legend=legend
            ),
            tooltip=[
                alt.Tooltip("geo:N"),
                alt.Tooltip("time:T"),
                alt.Tooltip("series:N"),
                alt.Tooltip("value:Q", format=",.4~g"),
            ],
        )
    )
    return [holdout, band, lines]


def fit_chart(
    fitted: pl.DataFrame,
    *,
    geo: str | None = None,
    small_multiples: bool = False,
    columns: int = 3,
    time_title: str = "week",
) -> alt.LayerChart | alt.FacetChart:
    """Actual vs predicted KPI over time with the HDI band and holdout weeks shaded.

    By default one panel with a geo drop-down (national first). With
    ``small_multiples=True`` every geo gets its own small panel instead, which
    makes a badly fitted region easy to spot.
    """
    require_columns(fitted, FITTED, "fitted")
    data = with_national(fitted).sort("geo", "time")
    geos = geos_national_first(data["geo"].unique())
    layers = _layers(time_title)
    if small_multiples:
        data = data.filter(pl.col("geo") != NATIONAL) if len(geos) > 1 else data
        chart = alt.layer(*layers, data=inline_data(data)).properties(width=230, height=140)
        return (
            chart.facet(
                facet=alt.Facet(
                    "geo:N", title=None, sort=geos_national_first(data["geo"].unique())
                ),
                columns=columns,
            )
            .resolve_scale(y="independent")
            .properties(
                title=alt.Title("Model fit by geo", subtitle=f"band: {HDI_TITLE}; shaded: holdout")
            )
        )
    param = dropdown("fit_geo", geos, "Geo:", value=geo)
    layers = [layer.transform_filter(alt.datum.geo == param) for layer in layers]
    return (
        alt.layer(*layers, data=inline_data(data))
        .add_params(param)
        .properties(
            width=720,
            height=300,
            title=alt.Title(
                "Model fit: actual vs predicted KPI",
                subtitle=f"band: {HDI_TITLE}; shaded weeks: holdout (not used for fitting)",
            ),
        )
    )
