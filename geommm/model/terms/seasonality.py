"""Seasonality: Fourier coefficients shared by the geos, each geo deviating a little."""

from __future__ import annotations

from typing import Any

import pymc as pm

from geommm.model.terms.context import TermContext
from geommm.model.terms.pooling import pooled


def build(ctx: TermContext) -> dict[str, Any]:
    """``season_geo`` ``(G, F)`` when the formula has ``fourier(...)``."""
    if not ctx.data.fourier.shape[1]:
        return {}
    coef = ctx.shared_rv("seasonality", dims="fourier")
    if ctx.pools_geos:
        sd = ctx.shared_rv("season_geo_sd")
        return {"season_geo": pooled("season_geo", coef, sd, ("geo", "fourier"))}
    return {"season_geo": pm.Deterministic("season_geo", coef[None, :], dims=("geo", "fourier"))}
