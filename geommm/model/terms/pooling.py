"""Partial pooling across geos: a national value plus a geo deviation.

Non-centred (``centre + sd * z``) keeps NUTS out of funnels; the partially centred
form lets the data decide per parameter how far to centre (``centring.py``).
"""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt


def pooled(name: str, center, sd, dims: tuple[str, ...], link=None):
    """Non-centred partial pooling: ``link(center + sd * z)`` with ``z ~ Normal(0, 1)``.

    With one geo (``sd is None``) there is nothing to pool: the value is the centre.
    """
    if sd is None:
        model = pm.modelcontext(None)
        shape = tuple(len(model.coords[d]) for d in dims)
        value = pt.broadcast_to(center, shape)
    else:
        z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dims)
        value = center + sd * z
    return pm.Deterministic(name, link(value) if link is not None else value, dims=dims)


def partially_centred(name: str, center, sd, dims: tuple[str, ...], w: float):
    """``center + geo deviation`` with the deviation partially centred (weight ``w``,
    1 = non-centred, 0 = centred): ``u ~ Normal((1 - w) center, sd^(1 - w))`` and
    value = ``center + sd^w (u - (1 - w) center)`` (Gorinova, Moore & Hoffman 2020).
    The model is the same for every ``w``; only the sampler's coordinates change."""
    u = pm.Normal(f"{name}_u", (1.0 - w) * center, sd ** (1.0 - w), dims=dims)
    return pm.Deterministic(name, center + sd**w * (u - (1.0 - w) * center), dims=dims)
