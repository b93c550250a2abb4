"""Organic media (``organic(...)``): paid media's carryover and saturation, no spend.

The response shape is the media term's (geo-pooled retention and half-saturation,
the kinds' own per-term parameters such as the Hill slope), prefixed ``organic_``.
With no spend there is no ROI to put a prior on, so the effect is parameterised by
``organic_share``: the share of the KPI the term explains over the fitted weeks
(summed over geos). Geos are pooled towards equal effects in scaled units (a zero-sum
log deviation with spread ``organic_effect_geo_sd``), as for paid media; the share
then fixes the level: carryover and half-saturation change the shape, not the size,
which keeps them nearly uncorrelated with it a posteriori.
"""

from __future__ import annotations

from typing import Any

import pymc as pm
import pytensor.tensor as pt

from geommm.model.terms.context import TermContext
from geommm.model.terms.pooling import pooled


def build(ctx: TermContext) -> dict[str, Any]:
    """``organic_effect`` (G, O), the shape parameters, ``organic_saturated`` (G, T, O) and
    ``organic_mean`` (G,), the terms' average per week, which the mean centres on."""
    organic = ctx.data.organic
    if organic is None:
        return {}
    pm.modelcontext(None).add_coord("organic", list(organic.names))
    terms = ctx.priors.terms

    def rv(name: str):
        return terms[name].create(name, dims="organic")

    def geo_sd(name: str):
        return rv(name) if ctx.pools_geos else None

    transform = organic.transform
    params: dict[str, Any] = {"retention": pooled(
        "organic_retention", rv("organic_retention_logit"), geo_sd("organic_retention_geo_sd"),
        ("geo", "organic"), link=pm.math.sigmoid)}
    if transform.uses_half_saturation():
        params["half_saturation"] = pooled(
            "organic_half_saturation", rv("organic_half_saturation_log"),
            geo_sd("organic_half_saturation_geo_sd"), ("geo", "organic"), link=pt.exp)
    for name in transform.channel_parameters():
        params[name] = rv(f"organic_{name}")
    sat = transform(organic.lagged(), params)  # (G, T, O)
    share = rv("organic_share")
    effect_sd = geo_sd("organic_effect_geo_sd")
    if effect_sd is None:
        dev = pt.ones((ctx.data.n_geos, len(organic.names)))
    else:
        u = pm.ZeroSumNormal("organic_effect_geo_z", sigma=1.0, dims=("organic", "geo"))
        dev = pt.exp(effect_sd[None, :] * u.T)
    kpi = ctx.data.kpi
    per_unit = (dev * ctx.data.kpi_scale[:, None] * sat.sum(axis=1)).sum(axis=0)  # (O,)
    effect = pm.Deterministic(
        "organic_effect", share[None, :] * dev * float(kpi.sum()) / per_unit, dims=("geo", "organic"))
    out = {f"organic_{k}": v for k, v in params.items()}
    mean = (effect * sat.mean(axis=1)).sum(axis=-1)
    return {**out, "organic_share": share, "organic_effect": effect, "organic_saturated": sat,
            "organic_mean": mean}
