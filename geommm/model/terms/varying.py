"""Time-varying media effectiveness: each varying channel's response times ``exp(f_c(t))``.

The path's variables (lengthscale and amplitude per varying channel, standard-normal
basis weights) are created here, and the saturated media the media effect and the
mean read are replaced by the time-weighted response: the time axis enters the graph
once, in this term, and every later term (ROI normalisation, the mean, the lift
cells through ``effect_multiplier``) sees it. A static model gets nothing from this
term (its graph and draws are unchanged). The formula of the path is ``time_path.py``,
shared with the posterior analysis.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from geommm.model.priors import Prior
from geommm.model.terms.context import TermContext
from geommm.model.time_path import layout_for, log_multiplier, spectral_weights


def _subset_rv(ctx: TermContext, name: str, idx: tuple[int, ...], dim: str):
    """The per-channel prior ``name`` for the channels ``idx`` only, over ``dim``."""
    prior = ctx.priors.channel[name]
    params = {k: np.asarray(v, dtype="float64") * np.ones(ctx.data.n_channels) for k, v in prior.params.items()}
    return Prior(prior.dist, **{k: v[list(idx)] for k, v in params.items()}).create(name, dims=dim)


def build(ctx: TermContext) -> dict[str, Any]:
    """``effect_path_coef`` (basis, varying channel) [and ``effect_path_geo_coef``], the
    ``effect_multiplier`` (G, T, C) and the time-weighted ``saturated`` media."""
    layout = layout_for(ctx.spec, ctx.data.n_times)
    if layout is None:
        return {}
    model = pm.modelcontext(None)
    channels = ctx.data.channels
    model.add_coord("effect_basis", np.arange(layout.n_basis))
    model.add_coord("varying_channel", [channels[i] for i in layout.varying])
    lengthscale = _subset_rv(ctx, "effect_path_lengthscale", layout.varying, "varying_channel")
    amplitude = _subset_rv(ctx, "effect_path_amplitude", layout.varying, "varying_channel")
    z = pm.Normal("effect_path_z", 0.0, 1.0, dims=("effect_basis", "varying_channel"))
    weights = spectral_weights(layout.frequencies, lengthscale, pt)  # (m, Cv)
    params = {"effect_path_coef": pm.Deterministic(
        "effect_path_coef", amplitude[None, :] * weights * z, dims=("effect_basis", "varying_channel"))}
    if layout.geo and ctx.pools_geos:
        model.add_coord("geo_varying_channel", [channels[i] for i in layout.geo])
        pos = [layout.varying.index(i) for i in layout.geo]
        geo_amp = _subset_rv(ctx, "effect_path_geo_amplitude", layout.geo, "geo_varying_channel")
        # zero-sum over geos: the national path is the geos' average path
        u = pm.ZeroSumNormal("effect_path_geo_z", sigma=1.0,
                             dims=("effect_basis", "geo_varying_channel", "geo"))
        coef = (geo_amp[None, :] * weights[:, pos])[:, :, None] * u  # (m, Cg, G)
        params["effect_path_geo_coef"] = pm.Deterministic(
            "effect_path_geo_coef", coef.transpose(2, 0, 1), dims=("geo", "effect_basis", "geo_varying_channel"))
    data = ctx.data
    multiplier = pt.exp(log_multiplier(params, layout, pt))  # (1 or G, T, C)
    multiplier = pt.broadcast_to(multiplier, (data.n_geos, data.n_times, data.n_channels))
    return {**params, "effect_multiplier": multiplier, "saturated": ctx.values["saturated"] * multiplier}
