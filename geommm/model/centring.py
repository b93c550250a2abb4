"""How far to centre geo deviations (media effect per channel, mean KPI level), read from the data.

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

import warnings
from dataclasses import dataclass

import numpy as np

from geommm.formula.terms import ModelSpec
from geommm.media import channel_parameter_priors
from geommm.model import expected
from geommm.model.design import ModelData
from geommm.model.priors import PriorSet


def _prior_median(prior, n: int, seed: int = 0) -> np.ndarray:
    """Median of a (per-channel vectorised) prior, by simulation: any family works."""
    return np.median(prior.draw(4001, np.random.default_rng(seed)), axis=0) * np.ones(n)


def _prior_centre_params(data: ModelData, priors: PriorSet) -> dict:
    G, C = data.n_geos, data.n_channels
    med = {k: _prior_median(p, C) for k, p in priors.channel.items()}
    kinds = channel_parameter_priors()  # slope, peak_lag, ... of every registered kind
    return {
        "retention": np.broadcast_to(1.0 / (1.0 + np.exp(-med["retention_logit"])), (G, C)),
        "half_saturation": np.broadcast_to(np.exp(med["half_saturation_log"]), (G, C)),
        **{k: v for k, v in med.items() if k in kinds},
    }


@dataclass(frozen=True)
class _Fits:
    """The least-squares fits both weights read: one pooled, one per geo (numpy, once)."""

    raw: np.ndarray  # (G, T, C + K) regressors, media first
    pooled: np.ndarray  # (C + K,) coefficients shared by all geos (within-geo demeaned)
    per_geo: tuple | None  # (coef, se, noise2) of _per_geo_fits; None: too few weeks


def _fits(spec: ModelSpec, data: ModelData, priors: PriorSet) -> _Fits:
    G, T, _ = data.media_input.shape
    x = expected.media_transform(spec, data)(data.lagged(), _prior_centre_params(data, priors))
    parts = [x, np.broadcast_to(data.fourier, (G, T, data.fourier.shape[1])),
             np.broadcast_to(data.trend[:, None], (G, T, 1)) if spec.trend is not None else None,
             data.controls]
    raw = np.concatenate([p for p in parts if p is not None and p.shape[-1]], axis=-1)
    X = raw - raw.mean(axis=1, keepdims=True)
    y = data.kpi_scaled - data.kpi_scaled.mean(axis=1, keepdims=True)
    K = X.shape[-1]
    pooled, *_ = np.linalg.lstsq(X.reshape(G * T, K), y.reshape(-1), rcond=None)
    return _Fits(raw, pooled, _per_geo_fits(X, y) if T > K + 2 else None)


def _per_geo_fits(X: np.ndarray, y: np.ndarray):
    """One small least-squares fit per geo, batched over geos (numpy, before sampling):
    coefficients (G, K), their standard errors (G, K) and the residual variance (G,)."""
    _, T, K = X.shape
    xtx_inv = np.linalg.pinv(np.einsum("gtk,gtj->gkj", X, X))  # (G, K, K)
    coef = np.einsum("gkj,gtj,gt->gk", xtx_inv, X, y)
    resid = y - np.einsum("gtk,gk->gt", X, coef)
    noise2 = (resid**2).sum(axis=1) / (T - K)
    se = np.sqrt(np.maximum(np.diagonal(xtx_inv, axis1=1, axis2=2) * noise2[:, None], 0.0))
    return coef, se, noise2


def _spread(estimates: np.ndarray, s: np.ndarray, axis: int = 0) -> np.ndarray:
    """Method-of-moments spread beyond the noise: sqrt(var(estimates) - mean(s^2)), >= 0."""
    with np.errstate(invalid="ignore"):
        tau2 = np.nanvar(estimates, axis=axis) - np.nanmean(
            np.where(np.isfinite(s), s**2, np.nan), axis=axis)
    return np.sqrt(np.clip(np.nan_to_num(tau2, nan=0.0), 0.0, None))


def _weight(s: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Per-geo ``s^2 / (s^2 + tau^2)``; 1 (non-centred) where nothing pins a geo down."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isfinite(s), s**2 / (s**2 + tau**2), 1.0)


def _summarise(w: np.ndarray) -> np.ndarray:
    """Median over geos, rounded: one weight per parameter (the model is the same for any)."""
    return np.clip(np.round(np.nan_to_num(np.median(w, axis=0), nan=1.0), 2), 0.0, 1.0)


def geo_effect_evidence(spec: ModelSpec, data: ModelData, priors: PriorSet):
    """Per geo and channel: the data's standard error ``s`` of the relative media effect,
    and the spread ``tau`` (per channel) of the geo effects beyond that noise.

    A pooled least-squares fit gives each channel's national effect; one fit per geo
    gives the geo's own effect and its standard error (collinearity included). The
    spread is the method-of-moments estimate var(geo effects) - mean(s^2).
    """
    return _effect_evidence(data, _fits(spec, data, priors))


#: Fewest geos at which the weight caps the data's spread at the prior's median (below).
CAP_MIN_GEOS = 20


def _spread_for_weight(tau: np.ndarray, priors: PriorSet, n_geos: int) -> np.ndarray:
    """The spread the weight uses: from ``CAP_MIN_GEOS`` geos, the data's estimate capped
    at the prior's median spread; with fewer geos, the data's estimate.

    The moment estimate is an upper bound of the model's spread: geos differ in carryover
    and saturation too, and the least-squares fits, made at the prior centres, read those
    differences as differences in effect. Where the geo data are weak (s ~ 0.5-0.7) the
    bound is loose: on a 60-geo panel it was 0.70 for search (w 0.51) against a posterior
    spread of 0.34 (w 0.81), and search's spread mixed 4x slower than at w 0.81 (a
    funnel). With a handful of geos the estimate is mostly noise in both directions and
    the cap cut only one side of it: on a 5-geo panel it moved tv from w 0.28 to 0.70
    against a posterior spread of 0.51 (w ~ 0.5), and divergences rose from 3 to 13 in
    2,000 draws. Panels of 6-19 geos are not measured with the cap; they keep the old rule.
    """
    prior = priors.channel.get("effect_geo_sd")
    if prior is None or n_geos < CAP_MIN_GEOS:
        return tau
    return np.minimum(tau, _prior_median(prior, tau.size))


#: How many standard errors below its estimate the spread the weight is set for sits
#: (from ``CAP_MIN_GEOS`` geos; ``_neck_spread``).
NECK_SDS = 2.0


def _neck_spread(tau: np.ndarray, s: np.ndarray, n_geos: int) -> np.ndarray:
    """The spread at the low end of what the geos can tell (``NECK_SDS`` standard errors
    below the estimate, at least half of it): the weight is set for it.

    Why the low end: the sampler must reach small spreads, the neck of the funnel, where
    non-centred is right; at large spreads both forms mix. How low: the moment estimate
    of tau^2 from G geos has a standard error of about sqrt(2 / G) (tau^2 + s^2) (normal
    hierarchy), so a channel whose geo data are weak (large s) has a wide posterior of
    its spread and moves most, and a channel whose geos are pinned down hardly moves.
    Measured (docs/performance.md): search's spread, the slowest parameter at 60 and 100
    geos under weights 0.60 and 0.76, reached R-hat 1.00-1.01 at 0.86-0.93; its posterior
    spread (0.28 and 0.19) was below the estimate (0.32 and 0.33)."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a channel that no geo pins down
        s2 = np.nanmedian(np.where(np.isfinite(s), s**2, np.nan), axis=0)
    t2 = tau**2
    low = t2 - NECK_SDS * np.sqrt(2.0 / n_geos) * (t2 + np.nan_to_num(s2, nan=0.0))
    return np.sqrt(np.maximum(low, 0.25 * t2))


def _effect_evidence(data: ModelData, fits: _Fits):
    G, _, C = data.media_input.shape
    national = fits.pooled[:C]
    # s = inf (then w = 1, non-centred) where nothing pins the geos down: too few
    # weeks per geo, or a channel without a positive national effect in the data
    s = np.full((G, C), np.inf)
    rel = np.full((G, C), np.nan)
    ok = national > 0
    if fits.per_geo is not None:
        coef, se, _ = fits.per_geo
        s[:, ok] = se[:, :C][:, ok] / national[ok]
        rel[:, ok] = coef[:, :C][:, ok] / national[ok] - 1.0
    return s, _spread(rel, s)


def geo_effect_centring(spec: ModelSpec, data: ModelData, priors: PriorSet) -> np.ndarray:
    """Per-channel ``w`` in [0, 1] (1 = non-centred) for the geo deviations of log ROI.

    Only the media effect is partially centred: it is the one geo parameter the data
    often pin down per geo. Carryover and half-saturation per geo are weakly identified
    and stay non-centred (partially centring them made the 40-geo panel mix worse).
    """
    return centring_weights(spec, data, priors)[0]


def geo_level_centring(spec: ModelSpec, data: ModelData, priors: PriorSet) -> float:
    """1 (non-centred) or 0 (centred) for the geo deviations of the mean KPI level.

    Every geo's mean level is pinned down by all of its weeks (standard error ~ noise /
    sqrt(weeks)), often more tightly than the geos differ; non-centred, the national
    level then mixes slowly (measured on the 20-geo Meridian panel, 4 x 1000 draws: its
    effective sample size was 844, correlated -0.4 with every geo's deviation; 1030
    with w = 0.25 from the formula used for the media effect; 2635 fully centred).
    So the rule of thumb: centred when the data pin the geos down more tightly than
    they differ (median s^2 / (s^2 + tau^2) < 0.5), else non-centred.
    """
    return centring_weights(spec, data, priors)[1]


def centring_weights(spec: ModelSpec, data: ModelData, priors: PriorSet) -> tuple[np.ndarray, float]:
    """Both weights from one set of fits: per-channel ``w`` of the media effect (see
    ``geo_effect_centring``) and 0 or 1 for the geo KPI levels (``geo_level_centring``)."""
    G, T, C = data.media_input.shape
    if G < 2:
        return np.ones(C), 1.0
    fits = _fits(spec, data, priors)
    s, tau = _effect_evidence(data, fits)
    spread = _spread_for_weight(tau, priors, G)
    if G >= CAP_MIN_GEOS:  # below, the moment spread is mostly noise (as for the cap)
        spread = _neck_spread(spread, s, G)
    effect_w = _summarise(_weight(s, spread[None, :]))
    if fits.per_geo is None:
        return effect_w, 1.0
    # the model's level is the geo mean of the KPI less the geo means of the non-media
    # terms (media enter centred), with the shared coefficients of the pooled fit
    level = data.kpi_scaled.mean(axis=1) - fits.raw[..., C:].mean(axis=1) @ fits.pooled[C:]
    s_level = np.sqrt(fits.per_geo[2] / T)
    level_w = float(_summarise(_weight(s_level, _spread(level, s_level))))
    return effect_w, (0.0 if level_w < 0.5 else 1.0)
