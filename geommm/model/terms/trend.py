"""Trend: a linear change over the panel, its slope partially pooled across geos."""

from __future__ import annotations

from typing import Any

import pymc as pm
import pytensor.tensor as pt

from geommm.model.terms.context import TermContext
from geommm.model.terms.pooling import pooled


def build(ctx: TermContext) -> dict[str, Any]:
    """``trend_geo`` ``(G,)`` when the formula has ``trend()``."""
    if ctx.spec.trend is None:
        return {}
    slope = ctx.shared_rv("trend")
    if ctx.pools_geos:
        sd = ctx.shared_rv("trend_geo_sd")
        return {"trend_geo": pooled("trend_geo", slope, sd, ("geo",))}
    return {"trend_geo": pm.Deterministic("trend_geo", slope * pt.ones(ctx.data.n_geos), dims="geo")}
