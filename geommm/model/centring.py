"""How far to centre each channel's geo deviations of the media effect, read from the data.

A geo deviation ``d_g ~ Normal(0, sd)`` can be sampled centred (``d_g`` itself) or
non-centred (``z_g = d_g / sd``). Non-centred is right when the data say little
about each geo (the deviations follow the prior); centred is right when every geo's
effect is pinned down by its own data: then ``z_g * sd`` is fixed and ``z_g`` and
``sd`` form a curved ridge that NUTS crosses slowly (measured: effective sample size
18 for a strongly identified channel on a 20-geo panel). Partial centring samples
``u_g ~ Normal(0, sd^(1-w))`` with ``d_g = sd^w * u_g``; for a normal hierarchy the
posterior of ``u`` is least correlated with ``sd`` at ``w = s^2 / (s^2 + tau^2)``,
where ``s`` is the data's standard error of ``d_g`` and ``tau`` the typical spread
(Papaspiliopoulos, Roberts & Skold 2003; Gorinova, Moore & Hoffman 2020).

``s`` is estimated before sampling with one pooled least-squares fit: scaled KPI on
the media (adstocked and saturated at the prior centres), controls, seasonality and
trend, with geo fixed effects. It only steers the sampler's geometry; the model and
its posterior are the same for every ``w``.
"""

from __future__ import annotations

import numpy as np

from geommm.formula.terms import ModelSpec
from geommm.model import mean as mean_fn
from geommm.model.design import ModelData
from geommm.model.priors import PriorSet


def _prior_median(prior, n: int, seed: int = 0) -> np.ndarray:
    """Median of a (per-channel vectorised) prior, by simulation: any family works."""
    return np.median(prior.draw(4001, np.random.default_rng(seed)), axis=0) * np.ones(n)


def _prior_centre_params(data: ModelData, priors: PriorSet) -> dict:
    G, C = data.n_geos, data.n_channels
    med = {k: _prior_median(p, C) for k, p in priors.channel.items()}
    return {
        "retention": np.broadcast_to(1.0 / (1.0 + np.exp(-med["retention_logit"])), (G, C)),
        "half_saturation": np.broadcast_to(np.exp(med["half_saturation_log"]), (G, C)),
        "slope": med["slope"],
        "peak_lag": med["peak_lag"],
        "weibull_shape": med["weibull_shape"],
    }


def _design(spec: ModelSpec, data: ModelData, priors: PriorSet) -> tuple[np.ndarray, np.ndarray]:
    """Within-geo demeaned regressors (G, T, C + K), media first, and scaled KPI (G, T)."""
    G, T, _ = data.media_input.shape
    x = mean_fn.media_saturation(
        spec.media, _prior_centre_params(data, priors), data.lagged(), data.lag_mask
    )
    parts = [x, np.broadcast_to(data.fourier, (G, T, data.fourier.shape[1])),
             np.broadcast_to(data.trend[:, None], (G, T, 1)) if spec.trend is not None else None,
             data.controls]
    X = np.concatenate([p for p in parts if p is not None and p.shape[-1]], axis=-1)
    y = data.kpi_scaled
    return X - X.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)


def geo_effect_evidence(spec: ModelSpec, data: ModelData, priors: PriorSet):
    """Per geo and channel: the data's standard error ``s`` of the relative media effect,
    and the spread ``tau`` (per channel) of the geo effects beyond that noise.

    A pooled least-squares fit gives each channel's national effect; one fit per geo
    gives the geo's own effect and its standard error (collinearity included). The
    spread is the method-of-moments estimate var(geo effects) - mean(s^2).
    """
    G, T, C = data.media_input.shape
    X, y = _design(spec, data, priors)
    K = X.shape[-1]
    national, *_ = np.linalg.lstsq(X.reshape(G * T, K), y.reshape(-1), rcond=None)
    national = national[:C]
    # s = inf (then w = 1, non-centred) where nothing pins the geos down: too few
    # weeks per geo, or a channel without a positive national effect in the data
    s = np.full((G, C), np.inf)
    rel = np.full((G, C), np.nan)
    ok = national > 0
    if T > K + 2:
        # one small least-squares fit per geo, batched over geos (numpy, before sampling)
        xtx_inv = np.linalg.pinv(np.einsum("gtk,gtj->gkj", X, X))  # (G, K, K)
        coef = np.einsum("gkj,gtj,gt->gk", xtx_inv, X, y)
        resid = y - np.einsum("gtk,gk->gt", X, coef)
        noise2 = (resid**2).sum(axis=1) / (T - K)
        se = np.sqrt(np.maximum(np.diagonal(xtx_inv, axis1=1, axis2=2)[:, :C] * noise2[:, None], 0.0))
        s[:, ok] = se[:, ok] / national[ok]
        rel[:, ok] = coef[:, :C][:, ok] / national[ok] - 1.0
    with np.errstate(invalid="ignore"):
        tau2 = np.nanvar(rel, axis=0) - np.nanmean(np.where(np.isfinite(s), s**2, np.nan), axis=0)
    tau = np.sqrt(np.clip(np.nan_to_num(tau2, nan=0.0), 0.0, None))
    return s, tau


def geo_effect_centring(spec: ModelSpec, data: ModelData, priors: PriorSet) -> np.ndarray:
    """Per-channel ``w`` in [0, 1] (1 = non-centred) for the geo deviations of log ROI.

    Only the media effect is partially centred: it is the one geo parameter the data
    often pin down per geo. Carryover and half-saturation per geo are weakly identified
    and stay non-centred (partially centring them made the 40-geo panel mix worse).
    """
    if data.n_geos < 2:
        return np.ones(data.n_channels)
    s, tau = geo_effect_evidence(spec, data, priors)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(np.isfinite(s), s**2 / (s**2 + tau[None, :] ** 2), 1.0)
    w = np.nan_to_num(np.median(w, axis=0), nan=1.0)
    return np.clip(np.round(w, 2), 0.0, 1.0)
