"""A refresh's step change in effectiveness: every channel's response times ``exp(shift_c)``
from the refresh's first new week on.

A ``full`` refresh fits the same question a sequential one asks (``model/window.py``):
did a channel's effectiveness move at the refresh? ``effect_shift`` (per channel,
``Normal(0, sd)``) multiplies the saturated media of the new weeks, before the media
effect is normalised, as a time-varying channel's path does (``varying.py``). So
``roi`` stays the national ROI over all weeks (the new ones at their shifted
effectiveness), ``media_effect`` is the effect before the step, and the lift cells and
the posterior analysis (``ForwardModel.shift_from``) read the step through
``effect_multiplier``. Without a shift (a first fit, or ``effect_shift_sd=0``) this term
adds nothing: the graph and a seeded fit's draws are unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from geommm.model.terms.context import TermContext


def build(ctx: TermContext) -> dict[str, Any]:
    """``effect_shift`` ``(C,)``, the composed ``effect_multiplier`` ``(G, T, C)`` and the
    stepped ``saturated`` media (when ``ctx.effect_shift`` is set)."""
    if ctx.effect_shift is None:
        return {}
    first, sd = ctx.effect_shift
    data = ctx.data
    if not 0 < first < data.n_times:
        raise ValueError(f"the step's first week {first} is not inside the panel's {data.n_times} weeks")
    shift = pm.Normal("effect_shift", 0.0, float(sd), dims="channel")
    step = (np.arange(data.n_times) >= first).astype("float64")
    multiplier = pt.exp(shift[None, None, :] * step[None, :, None])  # (1, T, C)
    multiplier = pt.broadcast_to(multiplier, (data.n_geos, data.n_times, data.n_channels))
    before = ctx.values.get("effect_multiplier")
    combined = multiplier if before is None else before * multiplier
    return {"effect_shift": shift, "effect_multiplier": combined, "saturated": ctx.values["saturated"] * multiplier}
