"""Media effect from ROI, with geos pooled towards equal media *effects*.

Each geo's contribution over the panel is fixed by its ROI: contribution_gc =
roi_c * rel_gc * spend_gc, where rel_gc is the geo's ROI relative to the channel
(spend-weighted mean 1, so roi_c is the national ROI). Then beta_gc =
contribution_gc / (kpi_scale_g * sum_t sat_gct): carryover and half-saturation
change the shape of the response, not its level, so they are nearly uncorrelated
with rel and roi a posteriori.

Geos are pooled towards equal effects (DESIGN: log beta_gc = b_c + tau_c z_gc), not
equal ROIs: a geo that spends twice as much per unit of KPI for the same effect has
half the ROI. So rel_gc is the geo's effect deviation (spread ``effect_geo_sd``)
times the ROI it would have at the channel's effect, kpi_scale_g * (active weeks) /
spend_gc (scaled media sum to the active weeks; shape-free, data only). Pooling
towards equal ROIs instead biased weakly identified channels low (on simulated
panels: display -14.6% -> -10.3% over 30 small panels, per-geo coverage 84.8% ->
88.3% over 10 of 20 geos; benchmarks/results/history.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from geommm.model.design import ModelData
from geommm.model.terms.context import TermContext


#: The name of the saturated media tensor (``model/sampler_prior.py`` finds the
#: reference weeks' response sums by it).
SATURATED = "saturated_media"


def equal_effect_geo_roi(data: ModelData) -> np.ndarray:
    """Per geo and channel, the ROI (up to a channel factor) that an equal media effect
    in scaled units would give: ``kpi_scale_g * sum_t (x_gt / m_gc) / spend_gc``, i.e.
    KPI scale times active weeks over spend. 0 where the channel never runs."""
    spend = data.spend.sum(axis=1)
    reach = data.media_scaled.sum(axis=1)
    active = (spend > 0) & (reach > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(active, data.kpi_scale[:, None] * reach / np.where(active, spend, 1.0), 0.0)


def build(ctx: TermContext) -> dict[str, Any]:
    """``roi`` (national, per channel) and ``media_effect`` ``(G, C)``."""
    data, sat = ctx.data, ctx.values["saturated"]
    if sat.name is None:  # the normalisers' input, found by name by model/sampler_prior.py
        sat.name = SATURATED
    G, C = data.n_geos, data.n_channels
    roi = ctx.channel_rv("roi")
    effect_geo_sd = ctx.channel_geo_sd("effect_geo_sd")
    spend_gc = data.spend.sum(axis=1)  # (G, C)
    spend_share = spend_gc / spend_gc.sum(axis=0, keepdims=True)
    equal_effect_roi = equal_effect_geo_roi(data)
    active = equal_effect_roi > 0  # the channel ran (spend and input) in the geo
    if effect_geo_sd is None:
        effect_dev = pt.ones((G, C))
    else:
        # Only relative geo effects matter (rel is normalised below), so the geo
        # deviations sum to zero: no flat direction for the sampler. Partially centred
        # per channel (centring.py): u ~ N(0, sd^(1-w)), log effect deviation = sd^w * u.
        w = np.asarray(ctx.geo_centring, dtype="float64")
        u = pm.ZeroSumNormal(
            "media_effect_geo_u", sigma=(effect_geo_sd ** (1.0 - w))[:, None], dims=("channel", "geo")
        )
        effect_dev = pt.exp((effect_geo_sd**w)[None, :] * u.T)
    rel = effect_dev * equal_effect_roi
    rel = rel / (spend_share * rel).sum(axis=0)[None, :]
    sat_total = sat.sum(axis=1)  # (G, C)
    safe_total = pt.switch(active, sat_total, 1.0)
    geo_beta = rel * roi[None, :] * spend_gc / (data.kpi_scale[:, None] * safe_total)
    # a channel never used in a geo: its effect there (for plans that would start it)
    # is the geo's effect deviation times the channel's national effect per unit response
    national_beta = roi * spend_gc.sum(axis=0) / (data.kpi_scale[:, None] * sat_total).sum(axis=0)
    beta = pt.switch(active, geo_beta, effect_dev * national_beta[None, :])
    return {"roi": roi, "media_effect": pm.Deterministic("media_effect", beta, dims=("geo", "channel"))}
