"""Model fit: actual KPI against the posterior prediction, per geo, holdout shaded.

The first thing anyone should look at: if the model cannot track the KPI
(especially in the holdout weeks it never saw) its ROIs mean little.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from geommm.analysis.tables import FITTED, NATIONAL
from geommm.report.charts._common import (
    HDI_TITLE,
    date_axis,
    dropdown,
    facet_columns,
    facet_has_gaps,
    facet_width,
    geos_national_first,
    inline_data,
    require_columns,
    time_scale,
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


def _band_edge(edge: str) -> str:
    """Vega expression: the HDI edge, or the mean where the row has none (derived national rows).

    A layer whose field is null on every row of the shown geo makes Vega log
    "Infinite extent" and draw nothing; a zero-height band at the mean draws
    nothing either but keeps the scale well defined.
    """
    return f"isValid(datum.{edge}) && isFinite(datum.{edge}) ? datum.{edge} : datum.mean"


def _layers(
    time_title: str,
    kpi_name: str,
    scale: alt.Scale,
    axis: alt.Axis,
    *,
    band: bool,
    holdout: bool,
) -> list[alt.Chart]:
    """Holdout shading and HDI band (each only when there is one), predicted mean and actual."""
    base = alt.Chart()
    x = alt.X("time:T", title=time_title, axis=axis)  # the domain is set once, below
    y_scale = alt.Scale(zero=False)
    layers = []
    if holdout:
        layers.append(
            base.transform_filter("datum.holdout")
            .mark_rect(color=HOLDOUT_COLOR, opacity=0.35)
            .encode(
                x=alt.X("min(time):T", title=time_title, axis=axis),
                x2=alt.X2("max(time):T"),
            )
        )
    if band:
        layers.append(
            base.transform_calculate(band_low=_band_edge("hdi_low"), band_high=_band_edge("hdi_high"))
            .mark_area(color=MODEL_COLOR, opacity=0.25)
            .encode(x=x, y=alt.Y("band_low:Q", title=kpi_name, scale=y_scale), y2=alt.Y2("band_high:Q"))
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
            y=alt.Y("value:Q", title=kpi_name, scale=y_scale),
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
    lines = lines.encode(x=alt.X("time:T", title=time_title, axis=axis, scale=scale))
    return [*layers, lines]


def _has_band(data: pl.DataFrame) -> bool:
    """Some row has an HDI wider than a point (a MAP fit's 'HDI' is the point itself)."""
    width = (pl.col("hdi_high") - pl.col("hdi_low")).fill_nan(None)
    return bool(data.select((width > 0).any()).item())


def fit_subtitle(
    data: pl.DataFrame, *, band: bool, holdout: bool, hdi_prob: float, national: bool
) -> str:
    """What the chart draws, and nothing it does not: band and shading only when present."""
    parts = []
    if band:
        text = f"band: {hdi_prob:.0%} {HDI_TITLE}"
        national_rows = data.filter(pl.col("geo") == NATIONAL)
        if national and national_rows.height and not _has_band(national_rows):
            text += " for each geo; none for the national sum"
        parts.append(text)
    else:
        parts.append("no band: the prediction has no interval (e.g. a MAP fit)")
    if holdout:
        parts.append("shaded weeks: holdout (not used for fitting)")
    return "; ".join(parts)


def fit_chart(
    fitted: pl.DataFrame,
    *,
    geo: str | None = None,
    small_multiples: bool = False,
    columns: int = 4,
    time_title: str = "week",
    kpi_name: str = "KPI",
    hdi_prob: float = 0.9,
) -> alt.LayerChart | alt.FacetChart:
    """Actual vs predicted KPI over time, with the HDI band and holdout weeks when there are any.

    By default one panel with a geo drop-down (national first). With
    ``small_multiples=True`` every geo gets its own small panel instead, which
    makes a badly fitted region easy to spot; ``columns`` is then the most panels
    per row (fewer when that leaves no empty cell). ``kpi_name`` titles the y axis;
    ``hdi_prob`` is the probability of the table's HDI, for the subtitle.
    """
    require_columns(fitted, FITTED, "fitted")
    data = with_national(fitted).sort("geo", "time")
    geos = geos_national_first(data["geo"].unique())
    if small_multiples:
        data = data.filter(pl.col("geo") != NATIONAL) if len(geos) > 1 else data
    band, holdout = _has_band(data), bool(data["holdout"].any())
    subtitle = fit_subtitle(
        data, band=band, holdout=holdout, hdi_prob=hdi_prob, national=not small_multiples
    )
    panels = geos_national_first(data["geo"].unique())
    n_columns = facet_columns(len(panels), columns)
    width = facet_width(n_columns) if small_multiples else 720
    axis, scale = date_axis(data["time"], width), time_scale(data["time"])
    layers = _layers(time_title, kpi_name, scale, axis, band=band, holdout=holdout)
    if small_multiples:
        chart = alt.layer(*layers, data=inline_data(data)).properties(width=width, height=130)
        grid = chart.facet(
            facet=alt.Facet("geo:N", title=None, sort=panels), columns=n_columns
        ).resolve_scale(y="independent")
        if facet_has_gaps(len(panels), n_columns):  # own axes: none hangs under an empty cell
            grid = grid.resolve_axis(x="independent")
        return grid.properties(title=alt.Title("Model fit by geo", subtitle=subtitle))
    param = dropdown("fit_geo", geos, "Geo:", value=geo)
    layers = [layer.transform_filter(alt.datum.geo == param) for layer in layers]
    return (
        alt.layer(*layers, data=inline_data(data))
        .add_params(param)
        .properties(
            width=width,
            height=300,
            title=alt.Title(f"Model fit: actual vs predicted {kpi_name}", subtitle=subtitle),
        )
    )
