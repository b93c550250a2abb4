"""Controls: one coefficient per standardised control column, shared by the geos;
``(x | geo)`` controls add a geo deviation (non-centred)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from geommm.model.terms.context import TermContext


def build(ctx: TermContext) -> dict[str, Any]:
    """``control_geo`` ``(G, K)`` when the formula has controls."""
    data = ctx.data
    if not data.controls.shape[-1]:
        return {}
    coef = ctx.shared_rv("control_effect", dims="control")
    control_geo = pt.broadcast_to(coef[None, :], (data.n_geos, len(data.control_names)))
    idx = np.flatnonzero(data.geo_varying)
    if idx.size and ctx.pools_geos:
        sd = ctx.shared_rv("control_geo_sd", dims="geo_varying_control")
        z = pm.Normal("control_geo_z", 0.0, 1.0, dims=("geo", "geo_varying_control"))
        control_geo = pt.inc_subtensor(control_geo[:, idx], sd * z)
    return {"control_geo": pm.Deterministic("control_geo", control_geo, dims=("geo", "control"))}
