"""Media response shape: carryover and saturation parameters, then the media transform.

Retention and half-saturation are pooled per geo and channel (non-centred, on the
logit and log scales); the kinds' own per-channel parameters (``slope`` for Hill,
``peak_lag`` for delayed adstock, ...) come from the :class:`MediaTransform`. Adstock
is one weighted sum over the precomputed lag stack: no loop over geos or weeks.
"""

from __future__ import annotations

from typing import Any

import pymc as pm
import pytensor.tensor as pt

from geommm.model.terms import reach_frequency
from geommm.model.terms.context import TermContext
from geommm.model.terms.pooling import pooled


def build(ctx: TermContext) -> dict[str, Any]:
    """The media parameters (trace names) plus ``adstocked`` and ``saturated`` media
    ``(G, T, C)`` in scaled units, for the media effect and the lift tests."""
    transform = ctx.transform
    params: dict[str, Any] = {}
    params["retention"] = pooled(
        "retention", ctx.channel_rv("retention_logit"), ctx.channel_geo_sd("retention_geo_sd"),
        ("geo", "channel"), link=pm.math.sigmoid,
    )
    if transform.uses_half_saturation():
        params["half_saturation"] = pooled(
            "half_saturation", ctx.channel_rv("half_saturation_log"),
            ctx.channel_geo_sd("half_saturation_geo_sd"), ("geo", "channel"), link=pt.exp,
        )
    for name in transform.channel_parameters():  # e.g. slope (Hill), peak_lag (delayed)
        params[name] = ctx.channel_rv(name)
    params.update(reach_frequency.parameters(ctx))  # R&F channels' frequency curve, if any
    adstocked = transform.adstock(ctx.data.lagged(), params)
    saturated = transform.saturate(adstocked, params)
    return {**params, "adstocked": adstocked, "saturated": saturated}
