"""A known synergy of two channels added to a simulated panel, for ``synergy()``'s recovery.

In geo ``g`` and week ``t`` the KPI gains ``s_g * gamma_g * h_gta * h_gtb`` (``s_g`` the
geo's KPI scale, ``h`` the channel's true saturated adstocked media, in [0, 1)),
minus the geo's average of it: each geo's mean KPI, and so the model's KPI scale,
is unchanged, and ``gamma_g`` is directly the model's ``synergy_effect``. The
baseline (``truth.intercept``) moves down by the average.

The truth of every number a fit reports under synergy is recorded in
``settings["synergy"]`` (plain JSON, saved with the panel): the geo and national
coefficients, the interaction's KPI, and national ROI and marginal ROI per channel
as geommm defines them (``docs/synergy.md``): ROI = (own effect + half of each
interaction, carryover tail included) / spend; marginal ROI = change of the *total*
KPI when only that channel's spend rises 1%, per unit of that extra spend.

The panel's lift tests are replaced by an empty table: their true lift was computed
without the interaction (``settings["synergy"]["lift_tests_dropped"]`` says how many).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from geommm.sim.store import SimulatedPanel
from geommm.sim.truth import _response, incremental_kpi

__all__ = ["add_synergy"]


def add_synergy(sim: SimulatedPanel, options: dict | None = None) -> SimulatedPanel:
    """``sim`` with a synergy: ``options`` = ``{"first": "tv", "second": "search",
    "strength": 0.08, "geo_sd": 0.0, "seed": 0}`` (defaults shown); None or {} = ``sim``.

    ``strength`` is the national coefficient (weekly KPI as a share of the geo's mean
    with both channels saturated; may be negative), ``geo_sd`` the spread of the geo
    coefficients around it."""
    if not options:
        return sim
    unknown = sorted(set(options) - {"first", "second", "strength", "geo_sd", "seed"})
    if unknown:
        raise ValueError(f"synergy options {unknown} are unknown; use first, second, strength, geo_sd, seed")
    first, second = options.get("first", "tv"), options.get("second", "search")
    truth = sim.truth
    channels = list(truth.channels)
    for name in (first, second):
        if name not in channels:
            raise ValueError(f"synergy channel {name!r} is not simulated; channels are {channels}")
    if first == second:
        raise ValueError(f"synergy needs two different channels, got {first!r} twice")
    a, b = channels.index(first), channels.index(second)
    strength, geo_sd = float(options.get("strength", 0.08)), float(options.get("geo_sd", 0.0))
    rng = np.random.default_rng(int(options.get("seed", 0)))
    G = len(truth.geos)
    effect = strength + geo_sd * rng.standard_normal(G)

    frame = sim.panel.sort("geo", "week")
    T = frame.height // G
    p = truth.media_params
    inputs = np.stack([frame[truth.channel_inputs[c]].to_numpy().reshape(G, T) for c in channels], axis=-1)
    spend = np.stack([frame[truth.channel_spend[c]].to_numpy().reshape(G, T) for c in channels], axis=-1)

    def interaction(x: np.ndarray, pad: int = 0) -> np.ndarray:  # (G, T + pad), scaled KPI
        h = _response(x, p, pad)
        return effect[:, None] * h[..., a] * h[..., b]

    inter = interaction(inputs)
    shift = inter.mean(axis=1)
    revenue = frame["revenue"].to_numpy().reshape(G, T) + p.kpi_scale[:, None] * (inter - shift[:, None])
    panel = frame.with_columns(pl.Series("revenue", revenue.reshape(-1)))

    pad = p.max_lag - 1
    total = p.kpi_scale * interaction(inputs, pad).sum(axis=1)  # (G,) KPI units, tail in
    own = incremental_kpi(inputs, p)  # (G, C) each channel's own effect, tail in
    shares = own.copy()
    shares[:, a] += 0.5 * total
    shares[:, b] += 0.5 * total
    step = 0.01
    own_up = incremental_kpi(inputs, p, 1.0, 1.0 + step)
    marginal = own_up.copy()
    for c in (a, b):
        up = inputs.copy()
        up[..., c] *= 1.0 + step
        marginal[:, c] += p.kpi_scale * (interaction(up, pad) - interaction(inputs, pad)).sum(axis=1)
    cost = spend.sum(axis=1)  # (G, C)
    record = {
        "first": first, "second": second, "strength": strength, "geo_sd": geo_sd,
        "effect": effect.tolist(),
        "interaction_kpi": float(total.sum()),
        "roi_national": dict(zip(channels, (shares.sum(axis=0) / cost.sum(axis=0)).tolist())),
        "marginal_roi_national": dict(zip(channels, (marginal.sum(axis=0) / (step * cost.sum(axis=0))).tolist())),
        "lift_tests_dropped": int(sim.lift_tests["test_id"].n_unique()) if sim.lift_tests.height else 0,
    }
    return SimulatedPanel(
        panel=panel,
        lift_tests=sim.lift_tests.clear(),
        truth=replace(truth, intercept=truth.intercept - shift),
        formula=f"{sim.formula} + synergy({first}, {second})",
        settings={**sim.settings, "synergy": record},
    )
