"""The sequential-refresh model: the new weeks only, the previous posterior as the prior.

Its data are the new weeks plus the ``max_lag - 1`` weeks before them, which enter
only as carryover input (the lag stack of each new week reaches back into them); the
KPI likelihood covers the new weeks. All scales are the parent's (frozen ``Scaling``:
KPI and media scales, control standardisation, trend origin and length, Fourier
phase), so the window's trend, seasonality and controls are the full panel's rows.

The parameters are the geo-level values of the parent's trace (``posterior_prior.py``):
``media_effect`` and ``baseline_geo`` carry no panel-wide normaliser, so for the same
values the window's KPI mean equals the full model's on the new weeks exactly
(tested to 1e-9). The normalisers of the full model (the ROI's spend and response
sums, the geo level's average media) stay those of the parent's weeks: they are
folded into the parent's posterior of these values.

``effect_shift`` (per channel, ``Normal(0, effect_shift_sd)``) multiplies every geo's
media effect by ``exp(effect_shift)`` on the new weeks only: a step change in
effectiveness at the refresh. With the curves' shape unchanged, a channel's ROI over
the new weeks is its ROI at the old effect times ``exp(effect_shift)``, so
P(that ROI fell by more than 10%) = P(effect_shift < log 0.9): the drift signal
``what_changed`` reports. A model with constant effects would average such a change
over all weeks instead. A ``full`` refresh fits the same step (``terms/effect_shift.py``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from geommm.formula.terms import ModelSpec
from geommm.model import expected
from geommm.model.design import ModelData
from geommm.model.posterior_prior import PosteriorPrior
from geommm.model.sampler_prior import SamplerPrior

#: Prior sd of ``effect_shift`` (log scale): 0.25 puts 95% of the prior between an
#: effectiveness x0.61 and x1.63 over one refresh period, wide enough for a 40% fall
#: to show within a quarter of weekly data, narrow enough that a channel the new
#: weeks say little about stays near "no change".
EFFECT_SHIFT_SD = 0.25
GEOMETRIES = ("whitened", "dense")


def weeks(data: ModelData, start: int, stop: int | None = None) -> ModelData:
    """``data`` cut to the weeks ``start:stop`` (scales unchanged)."""
    t = slice(start, data.n_times if stop is None else stop)
    smooth = None if data.smooth_basis is None else data.smooth_basis[t]
    return replace(
        data, times=data.times[t], kpi=data.kpi[:, t], media_input=data.media_input[:, t],
        spend=data.spend[:, t], controls=data.controls[:, t], fourier=data.fourier[t], trend=data.trend[t],
        smooth_basis=smooth,
    )


def window_data(data: ModelData, first_new: int) -> tuple[ModelData, int]:
    """``data`` cut to the weeks from ``first_new - (max_lag - 1)``; returns it and the
    number of carryover-only weeks at its start."""
    start = max(0, first_new - (data.max_lag - 1))
    return weeks(data, start), first_new - start


def window_mean(spec: ModelSpec, data: ModelData, n_before: int, params: dict, shift=None):
    """Expected scaled KPI ``(G, T_new)`` on the window's new weeks from geo-level
    ``params`` (numpy without a draw axis, or tensors); ``shift`` per channel multiplies
    the media effect by ``exp(shift)``. The lag stack of each new week reaches back
    into the carryover weeks, so no week before the window is needed."""
    transform = expected.media_transform(spec, data)
    lagged = data.lagged()[:, :, n_before:, :]  # (L, G, T_new, C): carryover included
    sat = transform.saturate(transform.adstock(lagged, params, n_before), params)
    beta = params["media_effect"]
    if shift is not None:
        xp = pt if isinstance(shift, pt.TensorVariable) else np
        beta = beta * xp.exp(shift)[None, :]
    mu = (beta[:, None, :] * sat).sum(axis=-1)
    for part in expected.baseline_components(params, weeks(data, n_before)).values():
        mu = mu + part
    return mu


def build_window_model(
    spec: ModelSpec,
    data: ModelData,
    n_before: int,
    prior: PosteriorPrior | SamplerPrior,
    *,
    likelihood: str = "normal",
    effect_shift_sd: float = EFFECT_SHIFT_SD,
    geometry: str = "whitened",
    store_mean: bool = False,
) -> pm.Model:
    """The window model (``data`` from :func:`window_data`). ``geometry="whitened"``
    samples ``z ~ N(0, I)`` with ``theta = mean + L z``; ``"dense"`` samples ``theta``
    from the correlated Gaussian directly (kept to measure the difference).
    ``effect_shift_sd=0`` leaves the shift out (constant effects)."""
    if geometry not in GEOMETRIES:
        raise ValueError(f"geometry must be one of {GEOMETRIES}, got {geometry!r}")
    coords = {
        "geo": list(data.geos), "channel": list(data.channels), "control": list(data.control_names),
        "fourier": list(data.fourier_names), "observed_time": data.times[n_before:],
        "posterior_dim": np.arange(prior.n_dim),
    }
    y = data.kpi_scaled[:, n_before:]
    with pm.Model(coords=coords) as model:
        if geometry == "whitened":
            z = pm.Normal("posterior_z", 0.0, 1.0, dims="posterior_dim")
            theta = pt.as_tensor(prior.mean) + pt.dot(pt.as_tensor(prior.chol), z)
        else:
            theta = pm.MvNormal("posterior_theta", mu=prior.mean, chol=prior.chol, dims="posterior_dim")
        params = {}
        for name, (value, dims) in prior.tensors(theta).items():
            for d in dims or ():
                if d not in model.coords:
                    model.add_coord(d, prior.coords[d])
            params[name] = pm.Deterministic(name, value, dims=dims or None)
        shift = None
        if effect_shift_sd > 0:
            shift = pm.Normal("effect_shift", 0.0, float(effect_shift_sd), dims="channel")
        mu = window_mean(spec, data, n_before, params, shift)
        if store_mean:
            pm.Deterministic("kpi_mean", mu, dims=("geo", "observed_time"))
        noise = params["noise_sd"][:, None]
        if likelihood == "studentt":
            pm.StudentT("kpi", nu=params["student_t_nu"], mu=mu, sigma=noise, observed=y, dims=("geo", "observed_time"))
        else:
            pm.Normal("kpi", mu=mu, sigma=noise, observed=y, dims=("geo", "observed_time"))
    return model
