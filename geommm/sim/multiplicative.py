"""A multiplicative market: the KPI is the exponential of geommm's additive terms.

``simulate(..., kpi="log")`` draws the additive market first (same seed, same spend,
media parameters, controls, seasonality, trend, noise sd) and then builds the KPI as ::

    log(y_gt / s_g) = mu_g + season_gt + trend_gt + controls_gt + sum_c e_gtc + eps_gt

where ``e_gtc = beta_gc hill(adstock(x_gtc / m_gc))`` is what the additive market's
channel adds in scaled units, now an effect on log KPI (media raise the KPI by a
factor ``exp(e)``), and ``mu_g`` makes each geo's mean KPI ``s_g``. It is the model a
``log(revenue) ~ ...`` formula fits. The truth is recorded in KPI units, by
counterfactual on the *mean* KPI (``exp(sd^2 / 2)`` included): a channel's contribution
is KPI with it minus KPI without it per geo-week, ROI sums that over the weeks and the
carryover tail (which holds the last week's non-media level) per unit spend, marginal
ROI moves the channel's spend by 1%, lift tests compare the test's spend with the
business-as-usual spend. Its own numpy code, as the rest of ``sim/``: the yardstick.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl

from geommm.errors import DataError
from geommm.sim.store import SimulatedPanel
from geommm.sim.truth import MediaParams, _response, contribution_frame

KPI_KINDS = ("additive", "log")
#: Seed offset of the log-scale noise (the additive market's draws stay as they were).
_NOISE_STREAM = 7919


def apply(sim: SimulatedPanel, kpi: str = "additive") -> SimulatedPanel:
    """``sim`` itself for ``kpi="additive"``; its multiplicative twin for ``kpi="log"``."""
    if kpi not in KPI_KINDS:
        raise DataError(f"simulate(kpi={kpi!r}): choose one of {KPI_KINDS}")
    if kpi == "additive":
        return sim
    truth, panel = sim.truth, sim.panel
    G, L = len(truth.geos), truth.max_lag
    T = panel.height // G
    inputs = _cube(panel, [truth.channel_inputs[c] for c in truth.channels], G, T)
    spend = _cube(panel, [truth.channel_spend[c] for c in truth.channels], G, T)
    params = truth.media_params
    other = _non_media(sim, G, T)
    effects = log_effects(inputs, params)  # (G, T + L - 1, C)
    eta = other + effects[:, :T].sum(axis=2)
    half_var = 0.5 * truth.noise_sd**2
    mu = -np.log(np.exp(eta).mean(axis=1)) - half_var  # each geo's mean KPI is s_g
    rng = np.random.default_rng([int(sim.settings.get("seed", 0)), _NOISE_STREAM])
    eps = truth.noise_sd[:, None] * rng.standard_normal((G, T))
    revenue = truth.kpi_scale[:, None] * np.exp(mu[:, None] + eta + eps)
    level = _level(truth.kpi_scale, mu, other, half_var, T + L - 1)  # mean KPI without media
    roi, mroi = _roi(level, inputs, spend, params)
    gain = (level * np.exp(effects.sum(axis=2)))[..., None] * -np.expm1(-effects)
    weeks = np.unique(panel["week"].to_numpy())
    new_truth = replace(
        truth, intercept=mu,
        roi=truth.roi.with_columns(roi=pl.Series(roi.ravel())),
        roi_national=truth.roi_national.with_columns(roi=pl.Series(_national(roi, spend))),
        marginal_roi=truth.marginal_roi.with_columns(marginal_roi=pl.Series(mroi.ravel())),
        marginal_roi_national=truth.marginal_roi_national.with_columns(
            marginal_roi=pl.Series(_national(mroi, 0.01 * spend))),
        contributions=contribution_frame(gain[:, :T], truth.geos, weeks, truth.channels),
        media_share=gain[:, :T].sum(axis=(0, 1)) / revenue.sum(),
    )
    lifts = _lifts(sim, level, inputs, params, weeks)
    return SimulatedPanel(
        panel.with_columns(revenue=pl.Series(revenue.ravel())), lifts, new_truth,
        sim.formula.replace("revenue ~", "log(revenue) ~", 1), {**sim.settings, "kpi": "log"},
    )


def log_effects(inputs: np.ndarray, p: MediaParams) -> np.ndarray:
    """(G, T + L - 1, C) each channel's effect on log KPI, carryover tail included."""
    pad = p.max_lag - 1
    gain = _response(inputs, p, pad) - _response(np.zeros_like(inputs), p, pad)
    if p.effect is not None:
        gain = gain * p.effect_factor(gain.shape[1])[None, :, :]
    return p.beta[:, None, :] * gain


def _cube(panel: pl.DataFrame, columns: list[str], G: int, T: int) -> np.ndarray:
    frame = panel.sort("geo", "week")
    return np.stack([frame[c].to_numpy().astype("float64").reshape(G, T) for c in columns], axis=-1)


def _non_media(sim: SimulatedPanel, G: int, T: int) -> np.ndarray:
    """(G, T) controls + seasonality + trend in scaled units, as the additive market had them."""
    truth, frame = sim.truth, sim.panel.sort("geo", "week")
    t = np.arange(T, dtype="float64")
    out = np.zeros((G, T))
    for name, coef in truth.control_coef.items():
        out += np.asarray(coef)[:, None] * frame[name].to_numpy().astype("float64").reshape(G, T)
    angle = 2 * np.pi * t / truth.season_period
    features = np.stack([np.sin(angle), np.cos(angle), np.sin(2 * angle), np.cos(2 * angle)])
    out += truth.season_coef @ features
    return out + truth.trend_slope[:, None] * (t - t.mean()) / truth.season_period


def _level(kpi_scale, mu, other, half_var, n_weeks: int) -> np.ndarray:
    """(G, n_weeks) mean KPI with no media; weeks past the panel hold its last week's."""
    idx = np.minimum(np.arange(n_weeks), other.shape[1] - 1)
    return kpi_scale[:, None] * np.exp(mu[:, None] + other[:, idx] + half_var[:, None])


def _roi(level, inputs, spend, p: MediaParams) -> tuple[np.ndarray, np.ndarray]:
    """(G, C) ROI and marginal ROI (1% more spend of one channel, the others as observed)."""
    e1 = log_effects(inputs, p)
    total = level * np.exp(e1.sum(axis=2))
    gain = (total[..., None] * -np.expm1(-e1)).sum(axis=1)
    up = log_effects(1.01 * inputs, p)
    extra = (total[..., None] * np.expm1(up - e1)).sum(axis=1)
    cost = spend.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(cost > 0, gain / cost, np.nan), np.where(cost > 0, extra / (0.01 * cost), np.nan)


def _national(per_geo: np.ndarray, spend: np.ndarray) -> np.ndarray:
    cost = spend.sum(axis=1)
    return np.nansum(per_geo * cost, axis=0) / cost.sum(axis=0)


def _lifts(sim: SimulatedPanel, level, inputs, p: MediaParams, weeks) -> pl.DataFrame:
    """The additive market's tests, their true lift recomputed on the multiplicative KPI
    (same standardised measurement error, same relative standard error)."""
    lifts, bau = sim.lift_tests, sim.truth.lift_bau
    if lifts.height == 0:
        return lifts
    geos, channels = sim.truth.geos, sim.truth.channels
    T = inputs.shape[1]
    actual = log_effects(inputs, p)
    kpi_actual = level * np.exp(actual.sum(axis=2))
    rows = []
    for row in lifts.iter_rows(named=True):
        c = channels.index(row["channel"])
        undone = inputs.copy()
        for b in bau.filter(pl.col("test_id") == row["test_id"]).iter_rows(named=True):
            undone[geos.index(b["geo"]), int(np.searchsorted(weeks, np.datetime64(b["week"], "D"))), c] = b["input"]
        kpi_without = level * np.exp(log_effects(undone, p).sum(axis=2))
        g = [geos.index(x) for x in row["geos"].split(";")]
        window = (weeks >= np.datetime64(row["start"], "D")) & (weeks <= np.datetime64(row["measure_end"], "D"))
        true_lift = float((kpi_actual - kpi_without)[np.ix_(g, np.flatnonzero(window[:T]))].sum())
        z = (row["lift"] - row["true_lift"]) / row["lift_se"] if row["lift_se"] > 0 else 0.0
        se = row["lift_se"] / abs(row["true_lift"]) * abs(true_lift) if row["true_lift"] else 0.0
        rows.append({**row, "lift": true_lift + se * z, "lift_se": se, "true_lift": true_lift})
    return pl.DataFrame(rows, schema=lifts.schema)
