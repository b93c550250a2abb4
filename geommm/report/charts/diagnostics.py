"""Can the numbers be trusted? Sampler convergence and how much the data moved the priors.

R-hat above 1.01 or an effective sample size (ESS) under 400 means the
posterior summaries may be off (Vehtari et al. 2021); a posterior that sits
exactly on its prior means the data said little about that parameter.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import polars as pl

from geommm.analysis.tables import PRIOR_POSTERIOR, SUMMARY
from geommm.report.charts._common import inline_data, require_columns, unique_in_order
from geommm.report.theme import BAD_COLOR, ESS_LIMIT, GOOD_COLOR, MODEL_COLOR, R_HAT_LIMIT

SOURCES = ["prior", "posterior"]


def _threshold(value: float) -> alt.Chart:
    return (
        alt.Chart(alt.InlineData(values=[{"x": value}]))
        .mark_rule(color=BAD_COLOR, strokeDash=[4, 3])
        .encode(x="x:Q")
    )


def _status_color() -> alt.Color:
    return alt.Color(
        "status:N",
        title=None,
        sort=["ok", "check"],
        scale=alt.Scale(domain=["ok", "check"], range=[GOOD_COLOR, BAD_COLOR]),
        legend=alt.Legend(orient="top"),
    )


def diagnostics_chart(
    summary: pl.DataFrame, *, worst: int = 25
) -> alt.HConcatChart | alt.LayerChart | alt.Chart:
    """R-hat and bulk/tail ESS of the ``worst`` parameters, with the 1.01 and 400 rules drawn.

    Feed ``fit.summary()``. Only the worst parameters are listed so a model
    with hundreds of geo-level parameters still gives a readable chart. A
    panel whose statistic is missing throughout (one chain, ADVI, MAP) is left out.
    """
    require_columns(summary, SUMMARY, "summary")
    total = summary.height
    summary = summary.with_columns(
        pl.col(c).cast(pl.Float64).fill_nan(None) for c in ("r_hat", "ess_bulk", "ess_tail")
    )
    rhat = (
        summary.select("parameter", "r_hat")
        .drop_nulls()
        .sort("r_hat", descending=True)
        .head(worst)
        .with_columns(
            pl.when(pl.col("r_hat") > R_HAT_LIMIT)
            .then(pl.lit("check"))
            .otherwise(pl.lit("ok"))
            .alias("status")
        )
    )
    ess = (
        summary.select("parameter", "ess_bulk", "ess_tail")
        .with_columns(pl.min_horizontal("ess_bulk", "ess_tail").alias("ess_min"))
        .drop_nulls("ess_min")
        .sort("ess_min")
        .head(worst)
        .unpivot(
            index=["parameter", "ess_min"],
            on=["ess_bulk", "ess_tail"],
            variable_name="kind",
            value_name="ess",
        )
        .with_columns(
            pl.col("kind").str.replace("ess_", ""),
            pl.when(pl.col("ess") < ESS_LIMIT)
            .then(pl.lit("check"))
            .otherwise(pl.lit("ok"))
            .alias("status"),
        )
    )
    rhat_chart = alt.layer(
        _threshold(R_HAT_LIMIT),
        alt.Chart(inline_data(rhat))
        .mark_point(filled=True, size=55, opacity=1)
        .encode(
            y=alt.Y("parameter:N", sort=rhat["parameter"].to_list(), title=None),
            x=alt.X("r_hat:Q", title=f"R-hat (rule: {R_HAT_LIMIT})", scale=alt.Scale(zero=False)),
            color=_status_color(),
            tooltip=[
                alt.Tooltip("parameter:N"),
                alt.Tooltip("r_hat:Q", title="R-hat", format=".3f"),
            ],
        ),
    ).properties(width=300, height=alt.Step(16), title="highest R-hat")
    ess_order = ess.sort("ess_min")["parameter"].unique(maintain_order=True).to_list()
    ess_chart = alt.layer(
        _threshold(ESS_LIMIT),
        alt.Chart(inline_data(ess))
        .mark_point(filled=True, size=55, opacity=1)
        .encode(
            y=alt.Y("parameter:N", sort=ess_order, title=None),
            x=alt.X(
                "ess:Q",
                title=f"effective sample size (rule: {ESS_LIMIT})",
                scale=alt.Scale(type="log"),
                axis=alt.Axis(labelOverlap="greedy"),
            ),
            color=_status_color(),
            shape=alt.Shape("kind:N", title="ESS", legend=alt.Legend(orient="top")),
            tooltip=[
                alt.Tooltip("parameter:N"),
                alt.Tooltip("kind:N", title="ESS kind"),
                alt.Tooltip("ess:Q", title="ESS", format=",.0f"),
            ],
        ),
    ).properties(width=300, height=alt.Step(16), title="lowest ESS")
    title = alt.Title(
        "Sampler convergence",
        subtitle=f"worst {min(worst, total)} of {total} parameters; "
        "red points break the rule of thumb",
    )
    panels = [c for c, d in ((rhat_chart, rhat), (ess_chart, ess)) if d.height]
    if not panels:
        return _no_statistics()
    if len(panels) == 1:
        return panels[0].properties(title=title)
    return (
        alt.hconcat(*panels)
        .resolve_scale(color="independent", shape="independent")
        .properties(title=title)
    )


def _no_statistics() -> alt.Chart:
    """Placeholder saying why there is nothing to plot, rather than an empty frame."""
    text = "No R-hat or ESS available (a single chain, ADVI or MAP fit has none)."
    return (
        alt.Chart(alt.InlineData(values=[{"text": text}]))
        .mark_text(align="left", fontSize=13, color="#52606d")
        .encode(text="text:N", x=alt.value(0), y=alt.value(10))
        .properties(width=500, height=20, title="Sampler convergence")
    )


def _density(values: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian kernel density on a grid over the values' own range (Scott's bandwidth).

    Done here rather than with Vega's density transform, which spans one
    shared range across all parameters and so squashes most of the panels.
    """
    sd = float(np.std(values))
    h = 1.06 * sd * values.size ** (-0.2) if sd > 0 else max(abs(float(values[0])), 1.0) * 1e-3
    grid = np.linspace(values.min() - 2 * h, values.max() + 2 * h, steps)
    z = (grid[:, None] - values[None, :]) / h
    return grid, np.exp(-0.5 * z**2).sum(axis=1) / (values.size * h * np.sqrt(2 * np.pi))


def density_table(draws: pl.DataFrame, *, max_draws: int = 2000, steps: int = 100) -> pl.DataFrame:
    """``parameter, source, value, density`` curves; the extreme 1% of draws is cut first."""
    parts = []
    for (name, source), group in draws.group_by("parameter", "source", maintain_order=True):
        values = group["value"].drop_nulls().drop_nans().to_numpy().astype(float)
        if values.size == 0:
            continue
        lo, hi = np.quantile(values, [0.005, 0.995])
        values = values[(values >= lo) & (values <= hi)]
        values = values[:: max(1, -(-values.size // max_draws))]
        grid, dens = _density(values, steps)
        parts.append(
            pl.DataFrame(
                {"parameter": str(name), "source": str(source), "value": grid, "density": dens}
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={
                "parameter": pl.String,
                "source": pl.String,
                "value": pl.Float64,
                "density": pl.Float64,
            }
        )
    return pl.concat(parts)


def prior_posterior_chart(
    draws: pl.DataFrame,
    *,
    parameters: list[str] | None = None,
    max_draws: int = 2000,
    columns: int = 3,
) -> alt.FacetChart:
    """Prior and posterior density per parameter: how far the data moved each belief.

    ``draws`` is a long table ``parameter, source ("prior"|"posterior"), value``.
    Densities are computed here (kernel density, ``max_draws`` draws per
    curve) after cutting the extreme 1% so a heavy-tailed prior does not
    flatten the picture; only the curves go into the chart.
    """
    require_columns(draws, PRIOR_POSTERIOR, "prior_posterior")
    if parameters is not None:
        draws = draws.filter(pl.col("parameter").is_in(parameters))
    data = density_table(draws.with_columns(pl.col("value").cast(pl.Float64)), max_draws=max_draws)
    names = unique_in_order(data["parameter"])
    chart = (
        alt.Chart()
        .mark_area(opacity=0.45)
        .encode(
            x=alt.X("value:Q", title=None),
            y=alt.Y(
                "density:Q", title="density", stack=None, axis=alt.Axis(labels=False, ticks=False)
            ),
            color=alt.Color(
                "source:N",
                title=None,
                sort=SOURCES,
                scale=alt.Scale(domain=SOURCES, range=["#9aa5b1", MODEL_COLOR]),
                legend=alt.Legend(orient="top"),
            ),
        )
        .properties(width=230, height=130)
    )
    return (
        chart.facet(
            facet=alt.Facet("parameter:N", title=None, sort=names),
            columns=columns,
            data=inline_data(data),
        )
        .resolve_scale(x="independent", y="independent")
        .properties(
            title=alt.Title(
                "Prior vs posterior", subtitle="grey: what the model assumed; blue: what it learned"
            )
        )
    )
