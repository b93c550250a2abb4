"""Smooth baseline over time (``smooth(time)``): a national path plus pooled geo deviations.

The same Hilbert-space Gaussian-process basis as the media effectiveness path
(``time_path.py``), centred over the fitted weeks so the path has mean zero there and
the geo levels keep their meaning. An alternative to ``trend()`` for a KPI whose level
wanders rather than climbs; the trace stores the coefficients (``smooth_coef``, and
``smooth_geo_coef`` with several geos) and ``expected.py`` turns them into the path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm

from geommm.model.terms.context import TermContext
from geommm.model.time_path import basis_at, spectral_weights


def build(ctx: TermContext) -> dict[str, Any]:
    """``smooth_coef`` (basis,) and ``smooth_geo_coef`` (geo, basis) with ``smooth(time)``."""
    term = ctx.spec.smooth
    if term is None:
        return {}
    data = ctx.data
    freq = basis_at(np.zeros(1), data.n_train_weeks or data.n_times, term.basis)[1]
    pm.modelcontext(None).add_coord("smooth_basis", np.arange(term.basis))
    lengthscale = ctx.shared_rv("smooth_lengthscale")
    amplitude = ctx.shared_rv("smooth_amplitude")
    weights = spectral_weights(freq, lengthscale[None], pm.math)[:, 0]  # (m,)
    z = pm.Normal("smooth_z", 0.0, 1.0, dims="smooth_basis")
    out = {"smooth_coef": pm.Deterministic("smooth_coef", amplitude * weights * z, dims="smooth_basis")}
    if ctx.pools_geos:
        geo_amplitude = ctx.shared_rv("smooth_geo_amplitude")
        u = pm.ZeroSumNormal("smooth_geo_z", sigma=1.0, dims=("smooth_basis", "geo"))
        out["smooth_geo_coef"] = pm.Deterministic(
            "smooth_geo_coef", (geo_amplitude * weights[:, None] * u).T, dims=("geo", "smooth_basis"))
    return out
