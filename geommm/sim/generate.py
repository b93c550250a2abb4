"""The generator: a geo x week panel drawn from geommm's own model, with its truth.

The panel is exactly the model geommm fits, in the same scaled space::

    y_gt / s_g = mu_g + season_gt + trend_gt + sum_k gamma_gk z_gtk
                 + sum_c beta_gc * hill(adstock(x_gtc / m_gc)) + eps_gt

with ``m_gc`` the mean of the non-zero weeks of the channel's model input in the
final panel (as the model recomputes it) and geometric adstock normalised over
``max_lag``. Because the truth is the model, a fit that misses it is a modelling
bug, not a mismatch of definitions. Spend and media inputs are rounded to 32 significant
bits before the truth is computed from them (sim/precision.py); the panel's and lift
tests' other floats are rounded last, which moves each by at most 2.3e-10 of itself.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl
import scipy.signal

from geommm.errors import DataError
from geommm.sim.lift import apply_tests, designed_tests, lift_bau_frame, lift_table, place_lift_tests
from geommm.sim.profiles import (
    EXPOSURE_CHANNELS,
    GEO_SPREAD_EFFECT,
    GEO_SPREAD_HALF_SATURATION,
    GEO_SPREAD_RETENTION,
    KPI_PER_CAPITA,
    SEASON_PERIOD,
    START_WEEK,
    TOTAL_MEDIA_SHARE,
    channel_names,
    check_channel_names,
    profiles_for,
)
from geommm.sim.nonmedia import add_terms
from geommm.sim.precision import SIGNIFICANT_BITS, check_bits, round_bits, round_floats
from geommm.sim.reach_frequency import add_reach_frequency
from geommm.sim.store import SimulatedPanel
from geommm.sim.synergy import add_synergy
from geommm.sim import multiplicative
from geommm.sim.drift import drift_factor, step_factor
from geommm.sim.truth import (
    MediaParams,
    SimTruth,
    contribution_frame,
    media_contributions,
    media_scale,
    roi_tables,
    true_roi,
)

__all__ = ["simulate", "build_formula"]


def simulate(
    n_geos: int = 10,
    n_weeks: int = 104,
    n_channels: int = 4,
    seed: int = 0,
    *,
    collinear: bool | str = True,
    max_lag: int = 8,
    noise: float = 0.05,
    n_lift_tests: int = 4,
    lift_noise: float = 0.15,
    trend: bool = True,
    seasonality: bool = True,
    lift_design: list[dict] | None = None,
    effect_change: dict[str, tuple[int, float]] | None = None,
    effect_drift: dict[str, Any] | None = None,
    channels: list[str] | None = None,
    profiles: dict[str, dict] | None = None, synergy: dict | None = None, kpi: str = "additive",
    organic: dict | None = None, treatment: dict | None = None,  # sim/nonmedia.py
    reach_frequency: dict | None = None,  # + an R&F channel with known truth: sim/reach_frequency.py
    significant_bits: int | None = SIGNIFICANT_BITS,
) -> SimulatedPanel:
    """Simulate a geo x week panel from geommm's own model, with lift tests and the true ROI.

    ``noise`` is the residual sd relative to the geo's KPI scale (0.05 = ~5%);
    ``lift_noise`` the lift tests' standard error relative to the true lift;
    ``collinear`` makes tv and search follow one national buying plan (bursts and
    pauses together, each geo's weekly spend still its own); ``collinear="strict"``
    also gives them the same burst sizes and the same week-to-week changes in every
    geo, so only the geos' spend levels tell them apart: the panel alone cannot.
    ``lift_design`` plans the experiments instead of placing ``n_lift_tests`` at random
    (which is then ignored): a list of ``{"channel": "tv", "geos": ["geo_00", ...],
    "start": week index, "weeks": length, "multiplier": 0 (go-dark) or e.g. 2.0
    (heavy-up), "post": weeks measured after the end (default 4)}`` — to see what a
    planned test program would teach the model.
    ``effect_change={"tv": (week, factor)}``: from week index ``week`` on, the channel's
    response is ``factor`` times what it was (0.6 = effectiveness falls 40%), so drift
    between fits is testable; the truth's ROI tables include it. The same seed draws
    the same random numbers with or without it.
    ``effect_drift={"tv": {"amplitude": 0.3, "period": 104, "phase": 0.0}}`` (or a
    callable of the week index array returning the multiplier): the channel's response
    drifts smoothly, ``exp(amplitude * sin(2 pi week / period + phase))``, its log
    centred over the panel's weeks so ``truth.effect`` is the path a
    ``media(..., varying=True)`` model estimates; same seed, same random numbers.
    ``channels`` picks channels from the book by name (e.g. ``["tv", "search", "email"]``
    for a small always-on channel); it replaces ``n_channels``. ``profiles`` changes a
    channel's book values, e.g. ``{"email": {"share": 0.03}}`` (fields of its profile:
    retention, half_saturation, slope, share, roi, flight, on_weeks, off_weeks, off_level,
    weekly_noise). ``synergy={"first": "tv", "second": "search", "strength": 0.08}``:
    sim/synergy.py. ``kpi="log"``: a multiplicative market, sim/multiplicative.py.
    ``significant_bits``: every float rounded so a seed gives one panel on every CPU
    (sim/precision.py); ``None`` keeps the raw floats.
    """
    if channels is not None:
        channels = check_channel_names(channels)
        n_channels = len(channels)
    _check_args(n_geos, n_weeks, n_channels, max_lag, noise, n_lift_tests, lift_noise, collinear)
    check_bits(significant_bits)
    rng = np.random.default_rng(seed)
    settings = dict(
        n_geos=n_geos, n_weeks=n_weeks, n_channels=n_channels, seed=seed, collinear=collinear,
        max_lag=max_lag, noise=noise, n_lift_tests=n_lift_tests, lift_noise=lift_noise,
        trend=trend, seasonality=seasonality,
    )
    if channels is None:
        channels = channel_names(n_channels)
    else:
        settings["channels"] = list(channels)
    if profiles:
        settings["profiles"] = {  # as JSON keeps them: a saved panel reloads equal settings
            k: {f: list(x) if isinstance(x, tuple) else x for f, x in v.items()}
            for k, v in profiles.items()
        }
    profiles = profiles_for(channels, profiles)
    geos = [f"geo_{g:02d}" for g in range(n_geos)]
    weeks = np.datetime64(START_WEEK) + 7 * np.arange(n_weeks)

    population = _population(rng, n_geos)
    kpi_scale = population * KPI_PER_CAPITA
    bau_spend = _bau_spend(rng, profiles, kpi_scale, n_weeks, collinear, channels)  # relative levels
    per_spend = _input_per_spend(rng, channels, n_geos, n_weeks)
    if lift_design is None:
        tests = place_lift_tests(rng, bau_spend, channels, max_lag, n_lift_tests)
    else:
        tests = designed_tests(lift_design, channels, geos, n_weeks, max_lag, bau_spend)
        settings["n_lift_tests"] = len(tests)
        settings["lift_design"] = [dict(d) for d in lift_design]
    spend = apply_tests(bau_spend, tests)
    params = _media_params(rng, profiles, spend * per_spend, kpi_scale, max_lag)
    # the response only sees x / m, so one factor per channel sets ROI without changing it
    target_roi = np.array([p.roi for p in profiles]) * np.exp(0.2 * rng.standard_normal(n_channels))
    level = true_roi(spend * per_spend, spend, params, national=True) / target_roi
    level = np.where(np.isfinite(level) & (level > 0), level, 1.0)
    bau_spend, spend = round_bits(bau_spend * level, significant_bits), round_bits(spend * level, significant_bits)
    inputs = round_bits(spend * per_spend, significant_bits)  # the panel's own numbers
    params = replace(params, media_scale=media_scale(inputs))  # m as the model recomputes it
    if effect_change:
        params = replace(params, effect=step_factor(effect_change, channels, n_weeks))
        settings["effect_change"] = {k: list(v) for k, v in effect_change.items()}
    if effect_drift:
        drift = drift_factor(effect_drift, channels, n_weeks)
        params = replace(params, effect=drift if params.effect is None else params.effect * drift)
        settings["effect_drift"] = {k: v for k, v in effect_drift.items() if isinstance(v, dict)}
    gain = media_contributions(inputs, params)  # (geo, time, channel) KPI units
    shares = gain.sum(axis=(0, 1)) / (kpi_scale.sum() * n_weeks)

    base = _baseline(rng, n_geos, n_weeks, trend, seasonality)
    other = base["season"] + base["trend"] + base["controls"]  # (geo, time), scaled
    scaled_media = gain.sum(axis=2) / kpi_scale[:, None]
    intercept = 1.0 - (other + scaled_media).mean(axis=1)  # noise-free mean KPI = s_g
    noise_sd = noise * np.exp(0.15 * rng.standard_normal(n_geos))
    eps = noise_sd[:, None] * rng.standard_normal((n_geos, n_weeks))
    revenue = kpi_scale[:, None] * (intercept[:, None] + other + scaled_media + eps)

    lifts = lift_table(rng, tests, bau_spend, spend, per_spend, params, channels, geos, weeks,
                       lift_noise, significant_bits)
    inputs_names = {c: f"{c}_{EXPOSURE_CHANNELS[c]}" if c in EXPOSURE_CHANNELS else f"{c}_spend"
                    for c in channels}
    spend_names = {c: f"{c}_spend" for c in channels}
    panel = _panel_frame(geos, weeks, revenue, base, population, channels, spend, inputs,
                         inputs_names)
    truth = SimTruth(
        channels=channels, geos=geos, max_lag=max_lag, kpi_scale=kpi_scale,
        media_scale=params.media_scale, alpha=params.alpha,
        half_saturation=params.half_saturation, beta=params.beta, slope=params.slope,
        **roi_tables(inputs, spend, params, channels, geos),
        contributions=contribution_frame(gain, geos, weeks, channels),
        lift_bau=lift_bau_frame(tests, bau_spend, per_spend, geos, weeks, significant_bits),
        channel_inputs=inputs_names, channel_spend=spend_names,
        intercept=intercept, control_coef=base["coef"], season_coef=base["season_coef"],
        trend_slope=base["trend_slope"], noise_sd=noise_sd, media_share=shares,
        effect=params.effect,
    )
    formula = build_formula(channels, inputs_names, spend_names, trend, seasonality, max_lag)
    if significant_bits is not None:
        settings["significant_bits"] = int(significant_bits)
    result = add_synergy(add_terms(SimulatedPanel(panel, lifts, truth, formula, settings), organic, treatment), synergy)
    result = multiplicative.apply(add_reach_frequency(result, reach_frequency), kpi)
    return replace(result, panel=round_floats(result.panel, significant_bits),
                   lift_tests=round_floats(result.lift_tests, significant_bits))


def _check_args(n_geos, n_weeks, n_channels, max_lag, noise, n_lift_tests, lift_noise,
                collinear=True) -> None:
    problems = []
    if n_geos < 1:
        problems.append(f"n_geos={n_geos} (need at least 1)")
    if n_channels < 1:
        problems.append(f"n_channels={n_channels} (need at least 1)")
    if max_lag < 1:
        problems.append(f"max_lag={max_lag} (need at least 1)")
    if n_weeks < 8:
        problems.append(f"n_weeks={n_weeks} (need at least 8)")
    if noise < 0 or lift_noise < 0:
        problems.append(f"noise={noise}, lift_noise={lift_noise} (must be >= 0)")
    if n_lift_tests < 0:
        problems.append(f"n_lift_tests={n_lift_tests} (must be >= 0)")
    if collinear not in (True, False, "strict"):
        problems.append(f"collinear={collinear!r} (True, False or 'strict')")
    if problems:
        raise DataError("simulate() got invalid settings: " + "; ".join(problems))


def build_formula(
    channels: list[str],
    inputs_names: dict[str, str],
    spend_names: dict[str, str],
    trend: bool = True,
    seasonality: bool = True,
    max_lag: int = 8,
) -> str:
    """The geommm formula whose model is exactly the generator."""
    terms = ["price_index", "promo"]
    if seasonality:
        terms.append(f"fourier({SEASON_PERIOD:g}, 2)")
    if trend:
        terms.append("trend()")
    terms += ["(1 | geo)", "(price_index | geo)", "(promo | geo)"]
    lag = "" if max_lag == 8 else f", max_lag={max_lag}"
    for c in channels:
        spend = "" if inputs_names[c] == spend_names[c] else f", spend={spend_names[c]}"
        terms.append(f"media({inputs_names[c]}{spend}, name='{c}'{lag})")
    return "revenue ~ " + " + ".join(terms)


def _population(rng: np.random.Generator, n_geos: int) -> np.ndarray:
    """Log-normal geo sizes stretched so the largest is ~10x the smallest."""
    z = rng.standard_normal(n_geos)
    span = z.max() - z.min()
    log_size = (z - z.min()) / span * np.log(10.0) if span > 0 else np.zeros(n_geos)
    return np.round(250_000 * np.exp(log_size)).astype("int64")


def _flights(rng, n_rows, n_weeks, on_weeks, off_weeks) -> tuple[np.ndarray, np.ndarray]:
    """Alternating bursts and pauses: on flags and burst amplitudes, each ``(row, channel, week)``.

    Run lengths are drawn up front and turned into a run index by counting run ends,
    so no loop over rows or weeks is needed.
    """
    on_lo, on_hi = np.array(on_weeks).T
    off_lo, off_hi = np.array(off_weeks).T
    n_ch = len(on_lo)
    phase_max = int((on_hi + off_hi).max())
    horizon = n_weeks + phase_max
    n_pairs = horizon // 2 + 1  # every run is at least one week long
    on = rng.integers(on_lo[:, None], on_hi[:, None] + 1, size=(n_rows, n_ch, n_pairs))
    off = rng.integers(off_lo[:, None], off_hi[:, None] + 1, size=(n_rows, n_ch, n_pairs))
    runs = np.stack([on, off], axis=-1).reshape(n_rows, n_ch, 2 * n_pairs)
    ends = np.minimum(np.cumsum(runs, axis=-1), horizon)  # horizon = overflow bin
    marks = np.zeros((n_rows, n_ch, horizon + 1), dtype="int64")
    np.put_along_axis(marks, ends, 1, axis=-1)
    run_index = np.cumsum(marks, axis=-1)[..., :horizon]
    phase = rng.integers(0, on_hi + off_hi, size=(n_rows, n_ch))  # start mid-cycle
    week = phase[..., None] + np.arange(n_weeks)
    run_now = np.take_along_axis(run_index, week, axis=-1)
    amplitude = rng.lognormal(-0.045, 0.3, size=runs.shape)  # mean ~1 per burst
    return run_now % 2 == 0, np.take_along_axis(amplitude, run_now, axis=-1)


def _bau_spend(rng, profiles, kpi_scale, n_weeks, collinear, names=None) -> np.ndarray:
    """Business-as-usual weekly spend ``(geo, time, channel)`` up to one level per channel.

    Flighted (bursts and pauses, national or per geo), proportional to geo size times
    a geo's media propensity, with weekly noise; never negative.
    """
    n_geos, n_ch = len(kpi_scale), len(profiles)
    off_level = np.array([p.off_level for p in profiles])
    is_on, amp = _flights(rng, n_geos + 1, n_weeks, [p.on_weeks for p in profiles],
                          [p.off_weeks for p in profiles])
    national = np.array([p.flight == "national" for p in profiles])
    always = np.array([p.flight == "always" for p in profiles])
    names = channel_names(n_ch) if names is None else names  # same order as profiles
    propensity = np.exp(0.3 * rng.standard_normal((n_geos, n_ch)))  # geo media intensity
    wobble = np.array([p.weekly_noise for p in profiles])
    weekly = rng.lognormal(-0.02, wobble, size=(n_geos, n_weeks, n_ch))
    pair = collinear and "tv" in names and "search" in names
    if pair:
        tv, search = names.index("tv"), names.index("search")
        # search bursts when the national TV plan does, with half its burst sizes
        is_on[0, search] = is_on[0, tv]
        amp[0, search] = np.sqrt(amp[0, tv] * amp[0, search])
    # row 0 is the national plan; rows 1.. are each geo's own plan
    pick = national[None, :, None]
    is_on = np.where(pick, is_on[:1], is_on[1:])
    amp = np.where(pick, amp[:1], amp[1:])
    is_on = is_on | always[None, :, None]
    level = np.where(is_on, 1.0, off_level[None, :, None]) * amp
    if pair and collinear == "strict":
        # one plan: search's weekly spend in a geo is a fixed multiple of tv's
        level[:, search], weekly[..., search] = level[:, tv], weekly[..., tv]
    return kpi_scale[:, None, None] * propensity[:, None, :] * np.moveaxis(level, 1, 2) * weekly


def _input_per_spend(rng, channels, n_geos, n_weeks) -> np.ndarray:
    """Model input per unit of spend: 1 for spend, impressions per $ for exposure channels.

    Impressions cost a per-geo price with a little weekly noise, so the two differ.
    """
    ratio = np.ones((n_geos, n_weeks, len(channels)))
    for c, name in enumerate(channels):
        if name in EXPOSURE_CHANNELS:
            cost_per_impression = 0.012 * np.exp(0.2 * rng.standard_normal(n_geos))
            weekly = np.exp(0.05 * rng.standard_normal((n_geos, n_weeks)))
            ratio[:, :, c] = weekly / cost_per_impression[:, None]
    return ratio


def _media_params(rng, profiles, inputs, kpi_scale, max_lag) -> MediaParams:
    """Draw per-geo adstock, saturation and effect; calibrate effects to the target media shares."""
    n_geos, n_weeks, n_ch = inputs.shape
    z = rng.standard_normal((3, n_geos, n_ch))
    logit = np.log([p.retention / (1 - p.retention) for p in profiles])
    logit = logit + 0.2 * rng.standard_normal(n_ch)
    alpha = 1.0 / (1.0 + np.exp(-(logit + GEO_SPREAD_RETENTION * z[0])))
    log_k = np.log([p.half_saturation for p in profiles]) + 0.1 * rng.standard_normal(n_ch)
    half_saturation = np.exp(log_k + GEO_SPREAD_HALF_SATURATION * z[1])
    slope = np.array([p.slope for p in profiles], dtype="float64")
    share = np.array([p.share for p in profiles]) * np.exp(0.15 * rng.standard_normal(n_ch))
    share *= np.clip(share.sum(), *TOTAL_MEDIA_SHARE) / share.sum()
    spread = np.exp(GEO_SPREAD_EFFECT * z[2])
    unit = MediaParams(media_scale(inputs), alpha, half_saturation, slope, spread,
                       kpi_scale, max_lag)
    # KPI share with b_c = 0, then pick b_c so the channel explains its target share
    unit_share = media_contributions(inputs, unit).sum(axis=(0, 1)) / (kpi_scale.sum() * n_weeks)
    beta = spread * (share / np.maximum(unit_share, 1e-300))
    return MediaParams(unit.media_scale, alpha, half_saturation, slope, beta, kpi_scale, max_lag)


def _baseline(rng, n_geos, n_weeks, trend, seasonality) -> dict[str, Any]:
    """Controls, seasonality and trend in scaled KPI units, with their coefficients."""
    t = np.arange(n_weeks, dtype="float64")
    # price: national and local slow AR(1) wander around 1
    shocks = 0.02 * rng.standard_normal((n_geos + 1, n_weeks))
    wander = scipy.signal.lfilter([1.0], [1.0, -0.9], shocks, axis=1)
    price = 1.0 + wander[:1] + wander[1:]
    promo = ((rng.random(n_weeks) < 0.08)[None, :] | (rng.random((n_geos, n_weeks)) < 0.04))
    promo = promo.astype("int64")
    coef = {
        "price_index": -0.6 + 0.12 * rng.standard_normal(n_geos),
        "promo": 0.08 + 0.02 * rng.standard_normal(n_geos),
    }
    controls = coef["price_index"][:, None] * price + coef["promo"][:, None] * promo
    # yearly Fourier order 2: a shared shape scaled by a geo amplitude
    phase = rng.uniform(0, 2 * np.pi, 2)
    shared = np.array([0.08 * np.cos(phase[0]), 0.08 * np.sin(phase[0]),
                       0.03 * np.cos(phase[1]), 0.03 * np.sin(phase[1])])
    season_coef = np.exp(0.3 * rng.standard_normal(n_geos))[:, None] * shared
    if not seasonality:
        season_coef = np.zeros_like(season_coef)
    angle = 2 * np.pi * t / SEASON_PERIOD
    features = np.stack([np.sin(angle), np.cos(angle), np.sin(2 * angle), np.cos(2 * angle)])
    season = season_coef @ features
    # mild linear growth of 2-5% a year, centred so it does not move the mean
    trend_slope = np.clip(0.035 + 0.008 * rng.standard_normal(n_geos), 0.02, 0.05)
    if not trend:
        trend_slope = np.zeros(n_geos)
    trend_part = trend_slope[:, None] * (t - t.mean()) / SEASON_PERIOD
    return dict(price=price, promo=promo, coef=coef, controls=controls, season=season,
                season_coef=season_coef, trend=trend_part, trend_slope=trend_slope)


def _panel_frame(geos, weeks, revenue, base, population, channels, spend, inputs,
                 inputs_names) -> pl.DataFrame:
    """The panel as the model reads it: one row per geo-week, KPI, controls, inputs, spend."""
    n_geos, n_weeks = revenue.shape
    cols: dict[str, Any] = {
        "geo": np.repeat(np.array(geos), n_weeks),
        "week": np.tile(weeks, n_geos),
        "revenue": revenue.ravel(),
        "price_index": base["price"].ravel(),
        "promo": base["promo"].ravel(),
        "population": np.repeat(population, n_weeks),
    }
    for c, name in enumerate(channels):
        if inputs_names[name] != f"{name}_spend":
            cols[inputs_names[name]] = inputs[:, :, c].ravel()
        cols[f"{name}_spend"] = spend[:, :, c].ravel()
    return pl.DataFrame(cols)
