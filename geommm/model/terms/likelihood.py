"""Likelihood of the observed scaled KPI: Normal, or StudentT for outlier weeks."""

from __future__ import annotations

from typing import Any

import pymc as pm

from geommm.model.terms.context import TermContext

LIKELIHOODS = ("normal", "studentt")


def build(ctx: TermContext) -> dict[str, Any]:
    """Observed ``kpi`` ``(G, T)`` around ``mu`` with a per-geo ``noise_sd``."""
    noise = ctx.shared_rv("noise_sd", dims="geo")
    mu, y = ctx.values["mu"], ctx.data.kpi_scaled
    dims = ("geo", "time")
    if ctx.observed_weeks is not None:  # a sequential refresh: the earlier weeks are in the prior
        mu, y, dims = mu[:, ctx.observed_weeks], y[:, ctx.observed_weeks], ("geo", "observed_time")
    if ctx.likelihood == "normal":
        pm.Normal("kpi", mu=mu, sigma=noise[:, None], observed=y, dims=dims)
        return {"noise_sd": noise}
    nu = ctx.shared_rv("student_t_nu")
    pm.StudentT("kpi", nu=nu, mu=mu, sigma=noise[:, None], observed=y, dims=dims)
    return {"noise_sd": noise, "student_t_nu": nu}
