"""Prior vs posterior per parameter: how far the data moved each belief.

Each panel is zoomed on the posterior, not on the prior: a wide prior (an ROI
prior reaching 20) would otherwise squash the posterior into a spike at one
edge. The panel spans the posterior and the prior's central 90%, but at most
a few posterior widths either side, so the posterior always fills a readable
part of it; the prior's tails beyond are cut. A fit with a single point per
parameter (MAP) has no posterior density: the point is drawn as a line.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import polars as pl

from geommm.analysis.tables import PRIOR_POSTERIOR
from geommm.report.charts._common import (
    facet_columns,
    facet_width,
    inline_data,
    require_columns,
    unique_in_order,
)
from geommm.report.theme import MODEL_COLOR

SOURCES = ["prior", "posterior"]
#: How far (in posterior widths) a panel may reach beyond the posterior to show the prior.
REACH = 3.0
#: The prior's central interval a panel tries to show.
PRIOR_CENTRAL = (0.05, 0.95)
_COLUMNS = ("parameter", "source", "kind", "value", "density")


def _bandwidth(values: np.ndarray) -> float:
    """Scott's rule; a tiny width for draws with no spread."""
    sd = float(np.std(values))
    if sd > 0:
        return 1.06 * sd * values.size ** (-0.2)
    return max(abs(float(values[0])), 1.0) * 1e-3


def _kde(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of ``values`` at ``grid``.

    Done here rather than with Vega's density transform, which spans one
    shared range across all parameters and so squashes most of the panels.
    """
    h = _bandwidth(values)
    z = (grid[:, None] - values[None, :]) / h
    return np.exp(-0.5 * z**2).sum(axis=1) / (values.size * h * np.sqrt(2 * np.pi))


def _trimmed(values: pl.Series, max_draws: int) -> np.ndarray:
    """Finite draws without the extreme 1%, thinned to at most ``max_draws``."""
    x = values.drop_nulls().drop_nans().to_numpy().astype(float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return x
    lo, hi = np.quantile(x, [0.005, 0.995])
    x = x[(x >= lo) & (x <= hi)]
    return x[:: max(1, -(-x.size // max_draws))]


def panel_window(prior: np.ndarray, posterior: np.ndarray) -> tuple[float, float]:
    """The x range of one parameter's panel (see the module docstring)."""
    if posterior.size == 0:
        return float(prior.min()), float(prior.max())
    p_lo, p_hi = float(posterior.min()), float(posterior.max())
    width = p_hi - p_lo
    if width > 0:
        lo, hi = p_lo - width / 2, p_hi + width / 2
        if prior.size:
            q_lo, q_hi = (float(q) for q in np.quantile(prior, PRIOR_CENTRAL))
            lo = max(min(lo, q_lo), p_lo - REACH * width)
            hi = min(max(hi, q_hi), p_hi + REACH * width)
        return lo, hi
    # a point (MAP): show it against the prior's central part
    lo, hi = p_lo, p_hi
    if prior.size:
        q_lo, q_hi = (float(q) for q in np.quantile(prior, PRIOR_CENTRAL))
        lo, hi = min(lo, q_lo), max(hi, q_hi)
    pad = 0.05 * (hi - lo) if hi > lo else max(abs(p_lo), 1.0) * 0.1
    return lo - pad, hi + pad


def density_table(draws: pl.DataFrame, *, max_draws: int = 2000, steps: int = 100) -> pl.DataFrame:
    """``parameter, source, kind, value, density``: the curves of each parameter's panel.

    ``kind`` is "curve" for a density (``steps`` points over the panel) and
    "point" for a posterior that is a single value (one row, density null).
    The extreme 1% of draws is cut first; curves are cut to :func:`panel_window`.
    """
    parts = []
    for (name,), group in draws.group_by("parameter", maintain_order=True):
        by_source = {
            str(src): _trimmed(g["value"], max_draws)
            for (src,), g in group.group_by("source", maintain_order=True)
        }
        prior = by_source.get("prior", np.empty(0))
        posterior = by_source.get("posterior", np.empty(0))
        if prior.size == 0 and posterior.size == 0:
            continue
        lo, hi = panel_window(prior, posterior)
        window = np.linspace(lo, hi, steps)
        for source, values in by_source.items():
            if values.size == 0:
                continue
            if source == "posterior" and np.ptp(values) == 0:
                rows = {"kind": ["point"], "value": [float(values[0])], "density": [None]}
            else:
                h = _bandwidth(values)
                own = np.linspace(values.min() - 2 * h, values.max() + 2 * h, steps)
                grid = window if source == "prior" else own[(own >= lo) & (own <= hi)]
                rows = {"kind": "curve", "value": grid, "density": _kde(values, grid)}
            parts.append(
                pl.DataFrame({"parameter": str(name), "source": source, **rows}).select(_COLUMNS)
            )
    if not parts:
        return pl.DataFrame(
            schema={
                "parameter": pl.String,
                "source": pl.String,
                "kind": pl.String,
                "value": pl.Float64,
                "density": pl.Float64,
            }
        )
    return pl.concat(parts, how="vertical_relaxed")


def prior_posterior_chart(
    draws: pl.DataFrame,
    *,
    parameters: list[str] | None = None,
    max_draws: int = 2000,
    columns: int = 4,
) -> alt.FacetChart:
    """Prior and posterior density per parameter, each panel on its own x and y scale.

    ``draws`` is a long table ``parameter, source ("prior"|"posterior"), value``.
    Densities are computed here (kernel density, ``max_draws`` draws per curve)
    and only the curves go into the chart; ``columns`` is the most panels per
    row (fewer when that leaves no empty cell).
    """
    require_columns(draws, PRIOR_POSTERIOR, "prior_posterior")
    if parameters is not None:
        draws = draws.filter(pl.col("parameter").is_in(parameters))
    data = density_table(draws.with_columns(pl.col("value").cast(pl.Float64)), max_draws=max_draws)
    names = unique_in_order(data["parameter"])
    color = alt.Color(
        "source:N",
        title=None,
        sort=SOURCES,
        scale=alt.Scale(domain=SOURCES, range=["#9aa5b1", MODEL_COLOR]),
        legend=alt.Legend(orient="top"),
    )
    x = alt.X("value:Q", title=None, scale=alt.Scale(zero=False, nice=False))
    has_points = bool((data["kind"] == "point").any())
    layers = []
    if (data["kind"] == "curve").any() or not has_points:
        layers.append(
            alt.Chart()
            .transform_filter(alt.datum.kind == "curve")
            .mark_area(opacity=0.45)
            .encode(
                x=x,
                y=alt.Y(
                    "density:Q",
                    title="density",
                    stack=None,
                    axis=alt.Axis(labels=False, ticks=False),
                ),
                color=color,
            )
        )
    if has_points:
        layers.append(
            alt.Chart()
            .transform_filter(alt.datum.kind == "point")
            .mark_rule(strokeWidth=2.5)
            .encode(x=x, color=color, tooltip=[alt.Tooltip("value:Q", title="point estimate")])
        )
    n_columns = facet_columns(len(names), columns)
    chart = alt.layer(*layers).properties(width=facet_width(n_columns, axis_px=45), height=120)
    points = " (a line: the fit has a single point)" if has_points else ""
    return (
        chart.facet(
            facet=alt.Facet("parameter:N", title=None, sort=names),
            columns=n_columns,
            data=inline_data(data),
        )
        .resolve_scale(x="independent", y="independent")
        .properties(
            title=alt.Title(
                "Prior vs posterior",
                subtitle=[
                    f"grey: what the model assumed; blue: what it learned{points}",
                    "each panel is zoomed on the posterior and the prior's central 90%",
                ],
            )
        )
    )

