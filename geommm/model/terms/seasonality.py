"""Seasonality: Fourier coefficients shared by the geos, each geo deviating a little.

The geo deviations sum to zero over geos (``ZeroSumNormal``), so the national
coefficient is the geos' average. With free deviations the national value and the
deviations' mean trade off along a ridge that no data point settles: at 60 geos the
national coefficient then had the lowest effective sample size of the fit (689 of
4,000 draws, R-hat 1.015; 4,425 zero-summed; docs/performance.md)."""

from __future__ import annotations

from typing import Any

import pymc as pm

from geommm.model.terms.context import TermContext


def build(ctx: TermContext) -> dict[str, Any]:
    """``season_geo`` ``(G, F)`` when the formula has ``fourier(...)``."""
    if not ctx.data.fourier.shape[1]:
        return {}
    coef = ctx.shared_rv("seasonality", dims="fourier")
    if ctx.pools_geos:
        sd = ctx.shared_rv("season_geo_sd")
        z = pm.ZeroSumNormal("season_geo_z", sigma=1.0, dims=("fourier", "geo"))  # sums over geos
        return {"season_geo": pm.Deterministic("season_geo", coef[None, :] + sd * z.T,
                                               dims=("geo", "fourier"))}
    return {"season_geo": pm.Deterministic("season_geo", coef[None, :], dims=("geo", "fourier"))}
