"""A reach & frequency channel with known truth, added to a simulated panel.

``simulate(..., reach_frequency={...})`` calls :func:`add_reach_frequency` last: the
other channels, the baseline and the lift tests are drawn exactly as without it (its
random numbers come from their own stream), then this channel's reach, frequency and
spend columns are added and its true contribution is added to the KPI.

The truth keeps its own forward code (the yardstick, not the model's transform)::

    contribution_gt = kpi_scale_g * beta_g * sum_l w_l * (r_g,t-l / m_g) * Hill(f_g,t-l; K, n)

with geometric weights ``w_l ∝ retention^l`` over ``max_lag`` weeks, ``m_g`` the mean
reach of the geo's weeks with reach (the model's media scale), and spend = cost per
impression (per geo) x reach x frequency. ``beta`` is set so the national ROI equals
``roi``; the truth is stored in ``settings["reach_frequency_truth"]``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl

from geommm.sim.precision import round_bits

#: Defaults of the simulated R&F channel (override any of them in the options dict).
RF_DEFAULTS: dict[str, Any] = {
    "name": "video", "roi": 2.0, "half_frequency": 2.5, "slope": 2.5, "retention": 0.4,
    "share": 0.08, "on_share": 0.75, "mean_frequency": 3.5,
}


def optimal_frequency(half: float, slope: float) -> float:
    """The frequency of highest ROI at fixed reach when cost follows impressions:
    argmax Hill(f) / f = K (n - 1)^(1/n) for n > 1, else the lowest frequency, 1."""
    return float(max(1.0, half * (slope - 1.0) ** (1.0 / slope))) if slope > 1 else 1.0


def add_reach_frequency(result, options: dict[str, Any] | None):
    """``result`` (a SimulatedPanel) with one R&F channel more: columns ``<name>_reach``,
    ``<name>_frequency``, ``<name>_spend``, its contribution in the KPI, the formula's
    term and the truth in ``settings``. ``result`` itself without options."""
    if options is None:
        return result
    opts = {**RF_DEFAULTS, **dict(options)}
    unknown = sorted(set(opts) - set(RF_DEFAULTS))
    if unknown:
        raise ValueError(f"reach_frequency: unknown option(s) {unknown}; allowed: {sorted(RF_DEFAULTS)}")
    settings = result.settings
    rng = np.random.default_rng([int(settings.get("seed", 0)), 23])
    panel, name, max_lag = result.panel, str(opts["name"]), int(settings.get("max_lag", 8))
    geos = list(result.truth.geos)
    G, T = len(geos), panel.height // len(geos)
    population = panel["population"].to_numpy().reshape(G, T)[:, 0]
    kpi_scale = np.asarray(result.truth.kpi_scale, dtype="float64")

    on = rng.uniform(size=(G, T)) < float(opts["on_share"])
    bits = settings.get("significant_bits")  # the panel's numbers, before the truth (sim/precision.py)
    reach = round_bits(np.where(on, population[:, None] * rng.uniform(0.02, 0.2, (G, T)), 0.0), bits)
    spread = rng.gamma(2.0, (float(opts["mean_frequency"]) - 1.0) / 2.0, (G, T))
    frequency = round_bits(np.where(on, 1.0 + spread, 0.0), bits)
    impressions = reach * frequency
    # cost per impression: spend makes ``share`` of the KPI at the target ROI
    cpi = np.exp(0.2 * rng.standard_normal(G))
    cpi *= float(opts["share"]) * (kpi_scale.sum() * T) / (float(opts["roi"]) * (cpi[:, None] * impressions).sum())
    spend = round_bits(cpi[:, None] * impressions, bits)

    scale = np.where(on.any(axis=1), reach.sum(axis=1) / np.maximum(on.sum(axis=1), 1), 1.0)
    curve = np.where(on, _hill(frequency, float(opts["half_frequency"]), float(opts["slope"])), 0.0)
    driver = reach / scale[:, None] * curve
    carried = _geometric(np.concatenate([driver, np.zeros((G, max_lag - 1))], axis=1),
                         float(opts["retention"]), max_lag)  # tail weeks: ROI counts them
    beta = np.exp(0.1 * rng.standard_normal(G))
    unit = kpi_scale[:, None] * beta[:, None] * carried  # contribution at level 1
    level = float(opts["roi"]) * spend.sum() / unit.sum()
    contribution = level * unit
    roi_geo = contribution.sum(axis=1) / np.where(spend.sum(axis=1) > 0, spend.sum(axis=1), np.nan)

    frame = panel.with_columns(
        (pl.col("revenue") + pl.Series(contribution[:, :T].ravel())).alias("revenue"),
        pl.Series(f"{name}_reach", reach.ravel()),
        pl.Series(f"{name}_frequency", frequency.ravel()),
        pl.Series(f"{name}_spend", spend.ravel()),
    )
    lag = "" if max_lag == 8 else f", max_lag={max_lag}"
    term = (f"media(reach={name}_reach, frequency={name}_frequency, spend={name}_spend, "
            f"name='{name}'{lag})")
    truth = {
        "channel": name, "roi": float(opts["roi"]), "roi_geo": dict(zip(geos, roi_geo.tolist())),
        "half_frequency": float(opts["half_frequency"]), "slope": float(opts["slope"]),
        "retention": float(opts["retention"]), "beta": (level * beta).tolist(),
        "optimal_frequency": optimal_frequency(float(opts["half_frequency"]), float(opts["slope"])),
        "contribution": contribution[:, :T].sum(axis=1).tolist(),
    }
    new_settings = {**settings, "reach_frequency": dict(options), "reach_frequency_truth": truth}
    return replace(result, panel=frame, formula=f"{result.formula} + {term}", settings=new_settings)


def _hill(f: np.ndarray, half: float, slope: float) -> np.ndarray:
    """``f^n / (f^n + K^n)`` (0 at f = 0)."""
    fn = np.power(np.maximum(f, 0.0), slope)
    return fn / (fn + half**slope)


def _geometric(x: np.ndarray, retention: float, max_lag: int) -> np.ndarray:
    """Carryover over the last axis: ``sum_l w_l x_{t-l}``, weights ∝ retention^l, sum 1."""
    w = retention ** np.arange(max_lag, dtype="float64")
    w /= w.sum()
    out = np.zeros_like(x)
    for lag in range(min(max_lag, x.shape[-1])):
        out[..., lag:] += w[lag] * x[..., : x.shape[-1] - lag]
    return out
