"""Treatments (``treatment(...)``): a non-media lever's effect against its counterfactual level.

One coefficient per lever, shared by the geos, on the lever's move from its
``baseline`` in panel standard deviations: ``treatment_effect_r * (x - b_r) / sd_r``
(``model/nonmedia.py``). The coefficient is in KPI-scale units per sd of the lever,
like a control's; only the reference point differs, which is what makes its
contribution the incremental KPI against the lever held at ``b_r``.
"""

from __future__ import annotations

from typing import Any

import pymc as pm

from geommm.model.terms.context import TermContext


def build(ctx: TermContext) -> dict[str, Any]:
    """``treatment_effect`` (R,) and ``treatment_mean`` (G,), the levers' average part of
    the KPI per week, which the mean centres on."""
    treatment = ctx.data.treatment
    if treatment is None:
        return {}
    pm.modelcontext(None).add_coord("treatment", list(treatment.names))
    coef = ctx.priors.terms["treatment_effect"].create("treatment_effect", dims="treatment")
    mean = (coef[None, :] * treatment.delta.mean(axis=1)).sum(axis=-1)  # (G,)
    return {"treatment_effect": coef, "treatment_mean": mean}
