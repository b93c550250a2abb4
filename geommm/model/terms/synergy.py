"""``synergy(a, b)``: the pair's pooled coefficients and its (G, T) interaction for the mean.

Runs after the media effect, so it creates its variables after every earlier term's
(a formula without synergy builds exactly the graph it built before). The maths is
``model/synergy.py``, shared with the posterior analysis.
"""

from __future__ import annotations

from typing import Any

import pymc as pm
import pytensor.tensor as pt

from geommm.model.synergy import interaction, pair_indices, pair_labels
from geommm.model.terms.context import TermContext


def build(ctx: TermContext) -> dict[str, Any]:
    """``synergy`` (national, per pair), ``synergy_effect`` (geo, pair) and the summed
    interaction ``synergy_kpi`` (G, T) the mean adds."""
    if not ctx.spec.synergy:
        return {}
    pm.modelcontext(None).add_coord("synergy_pair", pair_labels(ctx.spec))
    national = ctx.shared_rv("synergy", dims="synergy_pair")
    if ctx.pools_geos:
        sd = ctx.shared_rv("synergy_geo_sd")
        z = pm.Normal("synergy_geo_z", 0.0, 1.0, dims=("geo", "synergy_pair"))
        value = national[None, :] + sd * z
    else:
        value = pt.broadcast_to(national[None, :], (1, len(ctx.spec.synergy)))
    effect = pm.Deterministic("synergy_effect", value, dims=("geo", "synergy_pair"))
    firsts, seconds = pair_indices(ctx.spec, ctx.data.channels)
    kpi = interaction(effect, ctx.values["saturated"], firsts, seconds).sum(axis=-1)
    # the lift cells (model/lift.py) read the pairs to move the interaction with a tested channel
    return {"synergy_effect": effect, "synergy_kpi": kpi, "synergy_pairs": (firsts, seconds)}
