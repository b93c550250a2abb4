"""KPI level: each geo's mean scaled KPI, partially pooled across geos.

The free parameter is the geo's *mean* level, not its baseline: media enter the mean
centred (``mean.py``), so level and media effects are nearly uncorrelated a
posteriori (an uncentred media term makes NUTS take ~2x more leapfrog steps). The
baseline (``baseline_geo``) follows as level minus the geo's average media.
"""

from __future__ import annotations

from typing import Any

import pytensor.tensor as pt

from geommm.model.terms.context import TermContext
from geommm.model.terms.pooling import partially_centred


def build(ctx: TermContext) -> dict[str, Any]:
    """``kpi_level`` (national) and, with ``(1 | geo)``, ``kpi_level_geo``; returns
    ``level_geo`` ``(G,)`` for the mean."""
    level = ctx.shared_rv("kpi_level")
    if ctx.spec.geo_intercept and ctx.pools_geos:
        sd = ctx.shared_rv("kpi_level_geo_sd")
        level_geo = partially_centred("kpi_level_geo", level, sd, ("geo",), float(ctx.level_centring))
    else:
        level_geo = level * pt.ones(ctx.data.n_geos)
    return {"level_geo": level_geo}
