"""Can the numbers be trusted? Sampler convergence and how much the data moved the priors.

R-hat above 1.01 or an effective sample size (ESS) under 400 means the
posterior summaries may be off (Vehtari et al. 2021); a posterior that sits
exactly on its prior means the data said little about that parameter.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import polars as pl

from geommm.analysis.tables import SUMMARY
from geommm.report.charts._common import inline_data, require_columns
from geommm.report.charts.priors import density_table, prior_posterior_chart
from geommm.report.theme import BAD_COLOR, ESS_LIMIT, GOOD_COLOR, R_HAT_LIMIT

__all__ = ["density_table", "diagnostics_chart", "log_ticks", "prior_posterior_chart"]


def _threshold(value: float) -> alt.Chart:
    return (
        alt.Chart(alt.InlineData(values=[{"x": value}]))
        .mark_rule(color=BAD_COLOR, strokeDash=[4, 3])
        .encode(x=alt.X("x:Q"))
    )


def _status_color() -> alt.Color:
    return alt.Color(
        "status:N",
        title=None,
        sort=["ok", "check"],
        scale=alt.Scale(domain=["ok", "check"], range=[GOOD_COLOR, BAD_COLOR]),
        legend=alt.Legend(orient="top"),
    )


def log_ticks(values: list[float], *, include: float | None = None) -> list[float]:
    """Tick values 1-2-5 x 10^k spanning ``values`` (and ``include``), for a log axis.

    Vega's own log ticks put 300 and 400 next to each other with no gap
    ("300400"); a 1-2-5 ladder is at least 0.3 decades apart, and its ends
    make the axis domain so no decade is left empty.
    """
    finite = [v for v in values if v > 0 and np.isfinite(v)]
    if include is not None:
        finite.append(include)
    if not finite:
        return [1.0, 10.0]
    lo, hi = min(finite), max(finite)
    ladder = [m * 10.0**k for k in range(int(np.floor(np.log10(lo))) - 1, int(np.ceil(np.log10(hi))) + 1)
              for m in (1, 2, 5)]
    start = max(v for v in ladder if v <= lo)
    stop = min(v for v in ladder if v >= hi)
    ticks = [v for v in ladder if start <= v <= stop]
    return ticks if len(ticks) > 1 else [start, start * 2]


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
    ticks = log_ticks(ess["ess"].drop_nulls().to_list(), include=ESS_LIMIT)
    ess_chart = alt.layer(
        _threshold(ESS_LIMIT),
        alt.Chart(inline_data(ess))
        .mark_point(filled=True, size=55, opacity=1)
        .encode(
            y=alt.Y("parameter:N", sort=ess_order, title=None),
            x=alt.X(
                "ess:Q",
                title=f"effective sample size (rule: {ESS_LIMIT})",
                scale=alt.Scale(type="log", domain=[ticks[0], ticks[-1]], nice=False),
                axis=alt.Axis(values=ticks, format=",d", labelOverlap="greedy", labelSeparation=6),
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
        .encode(text=alt.Text("text:N"), x=alt.value(0), y=alt.value(10))
        .properties(width=500, height=20, title="Sampler convergence")
    )
