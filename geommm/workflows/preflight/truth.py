"""Known "true" markets on the user's own design: effects from the priors, KPI from the model.

Each simulated market keeps the user's spend, controls and calendar. Its media
parameters (carryover, saturation, per-geo effects) are one draw of the model's
own prior (PyMC's prior predictive of the model the user built, so every
deterministic is computed exactly as in the fit); its channels' national ROIs are
set on a grid of prior quantiles (each channel its own random order), so even
three markets span the prior rather than three random points of it. The
baseline (seasonality, trend, controls) is the least-squares fit of the user's
own KPI, each geo's level makes its mean scaled KPI 1, and the noise is each
geo's residual noise level. The KPI is then the model's forward function
(:class:`~geommm.analysis.forward.ForwardModel`) over these parameters as
"draws", plus noise; lift tests, if any, get the lift the truth implies plus
noise at their own standard error.

Channels whose spend is a fixed multiple of another's in every geo (the
``fixed_multiple`` data check) get that channel's carryover and curve in every
market: their spend cannot split them, and markets with curves drawn apart would
credit the design with a split that only a difference in curves the data need not
have could make (on the strictly collinear scenario of ``geommm.sim.identification``
a full NUTS fit leaves the pair at 0.88 of the prior's width).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from geommm.analysis.forward import ForwardModel
from geommm.analysis.roi import roi_samples
from geommm.errors import PriorError
from geommm.analysis.log_kpi import lift_level
from geommm.model.lift import implied_lift
from geommm.workflows.preflight.design import Design

#: Draws used to read a prior's centre and spread on the log-ROI scale.
_PRIOR_DRAWS = 4000


@dataclass(frozen=True)
class TrueMarkets:
    """``S`` simulated markets: their parameters, KPI and lifts, and their true ROI."""

    draws: dict[str, np.ndarray]  # model parameters with a leading market axis (S, ...)
    kpi: np.ndarray  # (S, G, T) simulated KPI, original units
    lift: np.ndarray | None  # (S, N) simulated measured lift per test
    roi: np.ndarray  # (S, C) true national ROI
    roi_geo: np.ndarray  # (S, G, C) true ROI per geo (NaN where the channel never runs)
    log_roi_centre: np.ndarray  # (C,) where the markets' log ROIs are centred
    log_roi_prior_sd: np.ndarray  # (C,) the ROI prior's spread on the log scale


def roi_prior_log_moments(design: Design, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per channel, mean and sd of log ROI under the ROI prior in force (any family)."""
    draws = design.priors.channel["roi"].draw(_PRIOR_DRAWS, np.random.default_rng(seed))
    draws = np.broadcast_to(draws, (_PRIOR_DRAWS, len(design.channels)))
    log = np.log(np.clip(draws, 1e-12, None))
    return log.mean(axis=0), log.std(axis=0)


def quantile_grid(n: int, n_channels: int, rng: np.random.Generator) -> np.ndarray:
    """(n, C) standard-normal quantiles at the middle of n equal-probability bins, in a
    random order per channel, rescaled to a root mean square of 1 (for n >= 2)."""
    z = ndtri((np.arange(n) + 0.5) / n)
    if n >= 2:
        z = z / np.sqrt(np.mean(z**2))
    return np.stack([rng.permutation(z) for _ in range(n_channels)], axis=1)


def _stated_centres(design: Design, roi: float | Mapping[str, float] | None,
                    prior_centre: np.ndarray) -> np.ndarray:
    if roi is None:
        return prior_centre
    if isinstance(roi, Mapping):
        unknown = sorted(set(roi) - set(design.channels))
        if unknown:
            raise PriorError(f"roi: unknown channel(s) {unknown}; channels are {list(design.channels)}")
        values = [roi.get(c) for c in design.channels]
    else:
        values = [roi] * len(design.channels)
    centre = prior_centre.copy()
    for c, value in enumerate(values):
        if value is None:
            continue
        if not float(value) > 0:
            raise PriorError(f"roi for {design.channels[c]!r} must be positive, got {value!r}")
        centre[c] = np.log(float(value))
    return centre


def _media_draws(model, n: int, seed: int) -> dict[str, np.ndarray]:
    """One prior draw of every media parameter per market, from the model's own graph."""
    import pymc as pm

    from geommm.analysis.draws import MODEL_PARAMETERS

    wanted = [v for v in MODEL_PARAMETERS if v not in
              ("baseline_geo", "season_geo", "trend_geo", "control_geo", "noise_sd", "student_t_nu")]
    pm_model = model.model
    names = [v for v in wanted if v in pm_model.named_vars]
    with pm_model:
        # a handful of draws: PyTensor's Python evaluation, not a C compile (seconds,
        # and a BLAS warning on pip installs); the draws come from the same generator
        prior = pm.sample_prior_predictive(
            draws=n, var_names=names, random_seed=seed, compile_kwargs={"mode": "FAST_COMPILE"},
        ).prior
    return {k: prior[k].values.reshape(n, *prior[k].shape[2:]) for k in names}


def _baseline_draws(design: Design, n: int) -> dict[str, np.ndarray]:
    """Seasonality, trend and controls from the least-squares fit of the user's KPI."""
    data, ls = design.data, design.least_squares
    G, C = data.n_geos, data.n_channels
    coef = ls.pooled[C:]
    F = data.fourier.shape[1]
    out = {"noise_sd": np.broadcast_to(ls.noise_sd, (n, G)).copy()}
    i = 0
    if F:
        out["season_geo"] = np.broadcast_to(coef[i:i + F], (n, G, F)).copy()
        i += F
    if design.spec.trend is not None:
        out["trend_geo"] = np.full((n, G), coef[i])
        i += 1
    K = data.controls.shape[-1]
    if K:
        out["control_geo"] = np.broadcast_to(coef[i:i + K], (n, G, K)).copy()
    out["baseline_geo"] = np.zeros((n, G))
    return out


def tied_pairs(design: Design) -> list[tuple[int, int]]:
    """Channel pairs (i, j) whose spend is a fixed multiple in every geo (as the
    ``fixed_multiple`` check finds them)."""
    from geommm.workflows.preflight.collinearity import fixed_multiple_pairs

    return [(i, j) for i, j, _ in fixed_multiple_pairs(design.spend)]


def _tie_curves(draws: dict[str, np.ndarray], pairs: list[tuple[int, int]],
                n_channels: int) -> bool:
    """Give channel j channel i's carryover and curve parameters, in place (True if any)."""
    from geommm.media import channel_parameter_priors

    names = ("retention", "half_saturation", *channel_parameter_priors())
    curve = [k for k in names if k in draws and draws[k].shape[-1] == n_channels]
    for i, j in pairs:
        for k in curve:
            draws[k][..., j] = draws[k][..., i]
    return bool(pairs)


def simulate_markets(
    design: Design, model, n_sims: int, roi: float | Mapping[str, float] | None = None,
    seed: int = 0,
) -> TrueMarkets:
    """``n_sims`` markets on the user's design (``model`` is its built ``GeoMMM``)."""
    rng = np.random.default_rng(seed)
    prior_centre, prior_sd = roi_prior_log_moments(design, seed)
    centre = _stated_centres(design, roi, prior_centre)
    draws = _media_draws(model, n_sims, seed)
    target = np.exp(centre + prior_sd * quantile_grid(n_sims, len(design.channels), rng))
    if _tie_curves(draws, tied_pairs(design), len(design.channels)):  # the ROI the tied curves give
        draws["roi"] = roi_samples(ForwardModel(design.spec, design.data, draws), by="channel")[0]
    # the media effect is linear in the channel's ROI (build.py), so rescaling it sets the ROI
    draws["media_effect"] = draws["media_effect"] * (target / draws["roi"])[:, None, :]
    draws["roi"] = target
    draws.update(_baseline_draws(design, n_sims))
    data = design.data
    forward = ForwardModel(design.spec, data, draws)
    scaled = forward.expected_kpi() / data.kpi_scale[None, :, None]
    if forward.log_kpi:  # log(KPI) ~ ...: the baseline multiplies, log-normal noise
        draws["baseline_geo"] = draws["baseline_geo"] - np.log(scaled.mean(axis=2))
    else:
        draws["baseline_geo"] = 1.0 - scaled.mean(axis=2)  # each geo's mean scaled KPI is 1
    forward = forward.with_draws(draws)
    noise = rng.standard_normal(scaled.shape) * draws["noise_sd"][:, :, None]
    if forward.log_kpi:
        kpi = forward.expected_kpi() * np.exp(noise - 0.5 * draws["noise_sd"][:, :, None] ** 2)
    else:
        kpi = forward.expected_kpi() + noise * data.kpi_scale[None, :, None]
    lift = None
    cells = model.lift_cells
    if cells is not None and cells.n_tests:
        adstocked = forward.transform.adstock(data.lagged(), draws)
        implied = implied_lift(cells, forward.transform, draws, adstocked, data.kpi_scale, lift_level(forward))
        lift = implied + rng.standard_normal(implied.shape) * cells.lift_se
    national, _ = roi_samples(forward, by="channel")
    per_geo, _ = roi_samples(forward, by="geo")
    return TrueMarkets(draws, kpi, lift, national, per_geo, centre, prior_sd)
