"""Synthetic geo panels with known truth: the demo data and every parameter-recovery test.

The generator is exactly the model geommm fits, in the same scaled space::

    y_gt / s_g = mu_g + season_gt + trend_gt + sum_k gamma_gk z_gtk
                 + sum_c beta_gc * hill(adstock(x_gtc / m_gc)) + eps_gt

with ``m_gc`` the mean of the non-zero weeks of the channel's model input in the
final panel (as the model recomputes it), geometric adstock normalised over
``max_lag`` and the shared numpy/PyTensor transforms. Because the truth is the
model, a fit that misses it is a modelling bug, not a mismatch of definitions.

Lift tests happen *inside* the panel: business-as-usual (BAU) spend is drawn
first, heavy-ups and go-darks are applied to it, and the KPI is computed from
the resulting actual spend — the same situation the model's calibration term
assumes.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import scipy.signal

from geommm._atomic import atomic_path, write_text
from geommm.errors import DataError
from geommm.model.transforms import adstock, adstock_weights, hill

__all__ = [
    "MediaParams",
    "SimTruth",
    "SimulatedPanel",
    "simulate",
    "media_contributions",
    "incremental_kpi",
    "true_roi",
    "media_scale",
    "load",
    "load_from",
    "build_formula",
    "channel_names",
    "SEASON_PERIOD",
    "START_WEEK",
]

#: Weeks per year: the period of the yearly Fourier seasonality and of the trend unit.
SEASON_PERIOD = 52.18
#: First week of every simulated panel (a Monday).
START_WEEK = "2022-01-03"
#: KPI (revenue) per inhabitant per week: s_g = population_g * KPI_PER_CAPITA.
KPI_PER_CAPITA = 2.0
#: Channels that carry an exposure column used as the model input instead of spend.
EXPOSURE_CHANNELS = {"tv": "impressions"}


# ----------------------------------------------------------------------- channel book
@dataclass(frozen=True)
class _Profile:
    """Channel-level truth and buying pattern before per-seed jitter."""

    retention: float  # typical weekly carryover alpha
    half_saturation: float  # typical K in scaled units (1 = average active week)
    slope: float  # Hill slope n
    share: float  # target share of the KPI explained by the channel (national)
    roi: float  # target national ROI; sets the spend level (the response is scale-free)
    flight: str  # "national" (one buying plan), "geo" (per geo) or "always"
    on_weeks: tuple[int, int]  # range of burst lengths
    off_weeks: tuple[int, int]  # range of pause lengths
    off_level: float  # spend in pauses relative to bursts (0 = dark)


# S-shaped channels (slope > 1) get K well below their average active level, the
# steeper the lower, so that as in real budgets the next dollar earns less than the
# average one (marginal ROI < ROI; checked for 1800 geo-channels over 30 seeds).
# Spend per unit KPI is share / roi: tv spends ~10x what display does.
_PROFILES: dict[str, _Profile] = {
    "tv": _Profile(0.60, 0.45, 1.8, 0.100, 1.6, "national", (3, 8), (2, 8), 0.0),
    "search": _Profile(0.20, 1.00, 0.8, 0.070, 3.0, "national", (6, 12), (1, 3), 0.35),
    "social": _Profile(0.35, 0.70, 1.4, 0.045, 2.2, "geo", (4, 10), (3, 16), 0.0),
    "display": _Profile(0.30, 0.90, 1.1, 0.012, 2.4, "geo", (6, 16), (6, 26), 0.0),
    "radio": _Profile(0.50, 0.35, 2.5, 0.030, 1.4, "national", (4, 8), (4, 10), 0.0),
    "video": _Profile(0.45, 0.50, 1.5, 0.040, 1.9, "geo", (3, 6), (3, 8), 0.0),
    "ooh": _Profile(0.55, 0.85, 1.2, 0.020, 1.2, "geo", (4, 8), (4, 12), 0.0),
    "email": _Profile(0.15, 1.30, 0.9, 0.010, 6.0, "always", (1, 1), (1, 1), 1.0),
}
_EXTRA = _Profile(0.40, 0.80, 1.3, 0.020, 2.0, "geo", (3, 10), (2, 10), 0.0)
CHANNEL_NAMES = tuple(_PROFILES)

_TOTAL_SHARE = (0.15, 0.35)  # media explains this share of the KPI in total
_KAPPA, _OMEGA, _TAU = 0.3, 0.2, 0.3  # geo spread of logit alpha, log K, log beta


def channel_names(n_channels: int) -> list[str]:
    """``tv, search, social, ...`` cut to ``n_channels``; ``channel_08``... beyond the book."""
    return [
        CHANNEL_NAMES[i] if i < len(CHANNEL_NAMES) else f"channel_{i:02d}"
        for i in range(n_channels)
    ]


# ------------------------------------------------------------------ media maths (truth)
@dataclass(frozen=True)
class MediaParams:
    """Everything that maps a media input cube to KPI: enough to compute any ROI."""

    media_scale: np.ndarray  # (geo, channel) m_gc
    alpha: np.ndarray  # (geo, channel) geometric retention
    half_saturation: np.ndarray  # (geo, channel) K in scaled units
    slope: np.ndarray  # (channel,)
    beta: np.ndarray  # (geo, channel) effect in scaled KPI units
    kpi_scale: np.ndarray  # (geo,) s_g
    max_lag: int = 8


def media_scale(inputs: np.ndarray) -> np.ndarray:
    """``m_gc``: mean of the non-zero weeks of each geo-channel; 1.0 where it never runs."""
    inputs = np.asarray(inputs, dtype="float64")
    active = inputs > 0
    n_active = active.sum(axis=1)
    total = np.where(active, inputs, 0.0).sum(axis=1)
    return np.divide(total, n_active, out=np.ones_like(total), where=n_active > 0)


def _response(inputs: np.ndarray, p: MediaParams, pad: int = 0) -> np.ndarray:
    """Hill(adstock(x / m)), ``(geo, time + pad, channel)``; ``pad`` zero weeks catch carryover."""
    x = np.asarray(inputs, dtype="float64") / p.media_scale[:, None, :]
    if pad:
        x = np.concatenate([x, np.zeros((x.shape[0], pad, x.shape[2]))], axis=1)
    weights = adstock_weights("geometric", p.max_lag, alpha=p.alpha)
    return hill(adstock(x, weights), p.half_saturation[:, None, :], p.slope)


def media_contributions(inputs: np.ndarray, p: MediaParams, pad: int = 0) -> np.ndarray:
    """Noise-free KPI (original units) each channel adds: ``(geo, time, channel)``.

    The baseline is the response to zero input (the Hill log-floor makes it ~1e-8,
    not exactly 0), so contributions of a channel are exactly "KPI with it minus
    KPI without it".
    """
    gain = _response(inputs, p, pad) - _response(np.zeros_like(inputs), p, pad)
    return p.kpi_scale[:, None, None] * p.beta[:, None, :] * gain


def incremental_kpi(
    inputs: np.ndarray, p: MediaParams, low: float = 0.0, high: float = 1.0
) -> np.ndarray:
    """KPI(high * inputs) - KPI(low * inputs), ``(geo, channel)``, carryover past the end in."""
    pad = p.max_lag - 1
    up = _response(high * np.asarray(inputs, dtype="float64"), p, pad)
    down = _response(low * np.asarray(inputs, dtype="float64"), p, pad)
    return p.kpi_scale[:, None] * p.beta * (up - down).sum(axis=1)


def true_roi(
    inputs: np.ndarray,
    spend: np.ndarray,
    p: MediaParams,
    *,
    increase: float | None = None,
    national: bool = False,
) -> np.ndarray:
    """True ROI ``(geo, channel)``, or ``(channel,)`` if ``national``, from input and spend cubes.

    ROI compares the panel as observed with the channel switched off over the whole
    panel; with ``increase=0.01`` it is the marginal ROI of 1% more spend (inputs
    scale with spend). National figures sum KPI and spend over geos before dividing,
    so big geos weigh more. Geo-channels without spend get NaN.
    """
    if increase is None:
        gain = incremental_kpi(inputs, p, 0.0, 1.0)
        cost = np.asarray(spend, dtype="float64").sum(axis=1)
    else:
        gain = incremental_kpi(inputs, p, 1.0, 1.0 + increase)
        cost = increase * np.asarray(spend, dtype="float64").sum(axis=1)
    if national:
        gain, cost = gain.sum(axis=0), cost.sum(axis=0)
    return np.divide(gain, cost, out=np.full_like(gain, np.nan), where=cost > 0)


# ------------------------------------------------------------------------ result types
@dataclass
class SimTruth:
    """The parameters that generated a panel and the ROI / contributions they imply."""

    channels: list[str]
    geos: list[str]
    max_lag: int
    kpi_scale: np.ndarray  # (geo,)
    media_scale: np.ndarray  # (geo, channel)
    alpha: np.ndarray  # (geo, channel)
    half_saturation: np.ndarray  # (geo, channel)
    beta: np.ndarray  # (geo, channel)
    slope: np.ndarray  # (channel,)
    roi: pl.DataFrame  # geo, channel, spend, roi
    roi_national: pl.DataFrame  # channel, spend, roi
    marginal_roi: pl.DataFrame  # geo, channel, spend, marginal_roi
    marginal_roi_national: pl.DataFrame  # channel, spend, marginal_roi
    contributions: pl.DataFrame  # geo, week, channel, contribution (noise-free, KPI units)
    lift_bau: pl.DataFrame  # test_id, geo, week, spend, input: the spend the tests replaced
    channel_inputs: dict[str, str]
    channel_spend: dict[str, str]
    # non-media truth, all in scaled KPI units (KPI / s_g)
    intercept: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (geo,) mu_g
    control_coef: dict[str, np.ndarray] = field(default_factory=dict)  # name -> (geo,)
    season_coef: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # (geo, 4)
    season_period: float = SEASON_PERIOD
    trend_slope: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (geo,) per year
    noise_sd: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (geo,) sigma_g
    media_share: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (channel,)

    @property
    def media_params(self) -> MediaParams:
        return MediaParams(
            media_scale=self.media_scale,
            alpha=self.alpha,
            half_saturation=self.half_saturation,
            slope=self.slope,
            beta=self.beta,
            kpi_scale=self.kpi_scale,
            max_lag=self.max_lag,
        )


_TRUTH_TABLES = (
    "roi", "roi_national", "marginal_roi", "marginal_roi_national", "contributions", "lift_bau",
)


@dataclass
class SimulatedPanel:
    """A simulated panel, the lift tests run inside it, the truth and the matching formula."""

    panel: pl.DataFrame
    lift_tests: pl.DataFrame
    truth: SimTruth
    formula: str
    settings: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: str | os.PathLike) -> Path:
        """Write panel.parquet, lift_tests.csv, truth.json and truth_*.parquet, each atomically."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        _write_parquet(self.panel, out / "panel.parquet")
        with atomic_path(out / "lift_tests.csv") as tmp:
            self.lift_tests.write_csv(tmp)
        for name in _TRUTH_TABLES:
            _write_parquet(getattr(self.truth, name), out / f"truth_{name}.parquet")
        write_text(out / "truth.json", json.dumps(_truth_json(self), indent=1))
        for name in ("lift_tests.csv", "truth.json"):
            (out / name).chmod(0o644)
        return out


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, compression="zstd", statistics=False)
    path.chmod(0o644)  # atomic writes go through a private (0600) temp file


def _truth_json(result: SimulatedPanel) -> dict[str, Any]:
    truth: dict[str, Any] = {}
    for f in fields(SimTruth):
        if f.name in _TRUTH_TABLES:
            continue
        value = getattr(result.truth, f.name)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif f.name == "control_coef":
            value = {k: v.tolist() for k, v in value.items()}
        truth[f.name] = value
    return {"formula": result.formula, "settings": result.settings, "truth": truth}


LIFT_SCHEMA = {
    "test_id": pl.String,
    "channel": pl.String,
    "geos": pl.String,
    "start": pl.Date,
    "end": pl.Date,
    "measure_end": pl.Date,
    "spend_delta": pl.Float64,
    "lift": pl.Float64,
    "lift_se": pl.Float64,
    "true_lift": pl.Float64,
}


_PLAIN_FIELDS = ("channels", "geos", "channel_inputs", "channel_spend", "max_lag", "season_period")


def load(directory: str | os.PathLike) -> SimulatedPanel:
    """Read a panel written by :meth:`SimulatedPanel.save`."""
    root = Path(directory)
    return load_from(lambda name: (root / name).read_bytes())


def load_from(read: Callable[[str], bytes]) -> SimulatedPanel:
    """Load from any byte source (a directory, package resources): ``read(file_name) -> bytes``."""
    meta = json.loads(read("truth.json").decode("utf-8"))
    raw = meta["truth"]
    tables = {n: pl.read_parquet(io.BytesIO(read(f"truth_{n}.parquet"))) for n in _TRUTH_TABLES}
    values: dict[str, Any] = {}
    for f in fields(SimTruth):
        if f.name in tables:
            values[f.name] = tables[f.name]
        elif f.name == "control_coef":
            values[f.name] = {k: np.asarray(v, dtype="float64") for k, v in raw[f.name].items()}
        elif f.name in _PLAIN_FIELDS:
            values[f.name] = raw[f.name]
        else:
            values[f.name] = np.asarray(raw[f.name], dtype="float64")
    lifts = pl.read_csv(io.BytesIO(read("lift_tests.csv")), schema_overrides=LIFT_SCHEMA)
    return SimulatedPanel(
        panel=pl.read_parquet(io.BytesIO(read("panel.parquet"))),
        lift_tests=lifts.select(list(LIFT_SCHEMA)),
        truth=SimTruth(**values),
        formula=meta["formula"],
        settings=meta["settings"],
    )


# ------------------------------------------------------------------------ generation
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
    """
    _check_args(n_geos, n_weeks, n_channels, max_lag, noise, n_lift_tests, lift_noise, collinear)
    rng = np.random.default_rng(seed)
    settings = dict(
        n_geos=n_geos, n_weeks=n_weeks, n_channels=n_channels, seed=seed, collinear=collinear,
        max_lag=max_lag, noise=noise, n_lift_tests=n_lift_tests, lift_noise=lift_noise,
        trend=trend, seasonality=seasonality,
    )
    channels = channel_names(n_channels)
    profiles = [_PROFILES.get(c, _EXTRA) for c in channels]
    geos = [f"geo_{g:02d}" for g in range(n_geos)]
    weeks = np.datetime64(START_WEEK) + 7 * np.arange(n_weeks)

    population = _population(rng, n_geos)
    kpi_scale = population * KPI_PER_CAPITA
    bau_spend = _bau_spend(rng, profiles, kpi_scale, n_weeks, collinear)  # relative levels
    per_spend = _input_per_spend(rng, channels, n_geos, n_weeks)
    if lift_design is None:
        tests = _place_lift_tests(rng, bau_spend, channels, max_lag, n_lift_tests)
    else:
        tests = _designed_tests(lift_design, channels, geos, n_weeks, max_lag, bau_spend)
        settings["n_lift_tests"] = len(tests)
        settings["lift_design"] = [dict(d) for d in lift_design]
    spend = _apply_tests(bau_spend, tests)
    params = _media_params(rng, profiles, spend * per_spend, kpi_scale, max_lag)
    # the response only sees x / m, so one factor per channel sets ROI without changing it
    target_roi = np.array([p.roi for p in profiles]) * np.exp(0.2 * rng.standard_normal(n_channels))
    level = true_roi(spend * per_spend, spend, params, national=True) / target_roi
    level = np.where(np.isfinite(level) & (level > 0), level, 1.0)
    bau_spend, spend = bau_spend * level, spend * level
    inputs = spend * per_spend
    params = replace(params, media_scale=media_scale(inputs))  # m as the model recomputes it
    gain = media_contributions(inputs, params)  # (geo, time, channel) KPI units
    shares = gain.sum(axis=(0, 1)) / (kpi_scale.sum() * n_weeks)

    base = _baseline(rng, n_geos, n_weeks, trend, seasonality)
    other = base["season"] + base["trend"] + base["controls"]  # (geo, time), scaled
    scaled_media = gain.sum(axis=2) / kpi_scale[:, None]
    intercept = 1.0 - (other + scaled_media).mean(axis=1)  # noise-free mean KPI = s_g
    noise_sd = noise * np.exp(0.15 * rng.standard_normal(n_geos))
    eps = noise_sd[:, None] * rng.standard_normal((n_geos, n_weeks))
    revenue = kpi_scale[:, None] * (intercept[:, None] + other + scaled_media + eps)

    lift_table = _lift_table(rng, tests, bau_spend, spend, per_spend, params, channels, geos,
                             weeks, lift_noise)
    inputs_names = {c: f"{c}_{EXPOSURE_CHANNELS[c]}" if c in EXPOSURE_CHANNELS else f"{c}_spend"
                    for c in channels}
    spend_names = {c: f"{c}_spend" for c in channels}
    panel = _panel_frame(geos, weeks, revenue, base, population, channels, spend, inputs,
                         inputs_names)
    truth = SimTruth(
        channels=channels, geos=geos, max_lag=max_lag, kpi_scale=kpi_scale,
        media_scale=params.media_scale, alpha=params.alpha,
        half_saturation=params.half_saturation, beta=params.beta, slope=params.slope,
        **_roi_tables(inputs, spend, params, channels, geos),
        contributions=_contribution_frame(gain, geos, weeks, channels),
        lift_bau=_lift_bau_frame(tests, bau_spend, per_spend, geos, weeks),
        channel_inputs=inputs_names, channel_spend=spend_names,
        intercept=intercept, control_coef=base["coef"], season_coef=base["season_coef"],
        trend_slope=base["trend_slope"], noise_sd=noise_sd, media_share=shares,
    )
    formula = build_formula(channels, inputs_names, spend_names, trend, seasonality, max_lag)
    return SimulatedPanel(panel, lift_table, truth, formula, settings)


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


def build_formula(channels, inputs_names, spend_names, trend=True, seasonality=True,
                  max_lag=8) -> str:
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


def _bau_spend(rng, profiles, kpi_scale, n_weeks, collinear) -> np.ndarray:
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
    names = channel_names(n_ch)  # same order as profiles
    propensity = np.exp(0.3 * rng.standard_normal((n_geos, n_ch)))  # geo media intensity
    weekly = rng.lognormal(-0.02, 0.2, size=(n_geos, n_weeks, n_ch))
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
    alpha = 1.0 / (1.0 + np.exp(-(logit + _KAPPA * z[0])))
    log_k = np.log([p.half_saturation for p in profiles]) + 0.1 * rng.standard_normal(n_ch)
    half_saturation = np.exp(log_k + _OMEGA * z[1])
    slope = np.array([p.slope for p in profiles], dtype="float64")
    share = np.array([p.share for p in profiles]) * np.exp(0.15 * rng.standard_normal(n_ch))
    share *= np.clip(share.sum(), *_TOTAL_SHARE) / share.sum()
    spread = np.exp(_TAU * z[2])
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


# ------------------------------------------------------------------------- lift tests
@dataclass(frozen=True)
class _Test:
    channel: int
    geos: tuple[int, ...]
    start: int
    end: int  # inclusive
    measure_end: int  # inclusive
    multiplier: float  # 0 for a go-dark


def _place_lift_tests(rng, bau, channels, max_lag, n_tests, post=4) -> list[_Test]:
    """Heavy-ups and go-darks on weeks the channel is live, never overlapping on a geo-channel.

    Tests alternate heavy-up / go-dark and multi- / single-geo cells, rotate over the
    channels, and keep each test's own carryover out of every other test's window on
    the same geo-channel, so each lift is attributable to one test.
    """
    n_geos, n_weeks, n_ch = bau.shape
    if n_tests and n_weeks < 8 + post + 2:
        raise DataError(
            f"n_weeks={n_weeks} is too short for lift tests; use >= 14 weeks or n_lift_tests=0"
        )
    tests: list[_Test] = []
    busy: list[tuple[int, int, int, int]] = []  # (geo, channel, first, last) weeks touched
    for i in range(n_tests):
        kind_up = i % 2 == 0
        multi = i % 4 in (0, 3) and n_geos > 1
        for attempt in range(2000):
            # the channel this test is meant for first; any channel if it never fits
            c = i % n_ch if attempt < 500 else int(rng.integers(n_ch))
            size = int(rng.integers(2, 4)) if multi else 1
            cell = rng.choice(n_geos, size=min(size, n_geos), replace=False)
            geos = tuple(sorted(cell.tolist()))
            length = int(rng.integers(4, 9))
            start = int(rng.integers(1, n_weeks - length - post + 1))
            end, measure_end = start + length - 1, start + length - 1 + post
            last = max(measure_end, end + max_lag - 1)
            live = (bau[list(geos), start:end + 1, c] > 0).mean(axis=1)
            clash = any(g in geos and cc == c and not (last < a or start > b)
                        for g, cc, a, b in busy)
            if live.min() >= 0.75 and not clash:
                break
        else:
            raise DataError(
                f"could not place {n_tests} non-overlapping lift tests in {n_weeks} weeks; "
                "use fewer tests or more weeks"
            )
        mult = float(rng.uniform(1.5, 3.0)) if kind_up else 0.0
        tests.append(_Test(c, geos, start, end, measure_end, mult))
        busy += [(g, c, start, last) for g in geos]
    return tests


def _designed_tests(design, channels, geos, n_weeks, max_lag, bau) -> list[_Test]:
    """Planned tests, checked: known channel and geos, inside the panel, no overlap, and
    the channel live in the window (a go-dark in a pause would measure nothing)."""
    tests: list[_Test] = []
    busy: list[tuple[int, int, int, int]] = []
    for i, d in enumerate(design):
        where = f"lift_design[{i}]"
        unknown = set(d) - {"channel", "geos", "start", "weeks", "multiplier", "post"}
        if unknown:
            raise DataError(f"{where}: unknown key(s) {sorted(unknown)}")
        if d.get("channel") not in channels:
            raise DataError(f"{where}: channel {d.get('channel')!r} is not one of {list(channels)}")
        missing = [g for g in d.get("geos", []) if g not in geos]
        if missing or not d.get("geos"):
            raise DataError(f"{where}: geos {missing or d.get('geos')!r} are not in the panel {geos[:3]}...")
        start, length, post = int(d.get("start", -1)), int(d.get("weeks", 0)), int(d.get("post", 4))
        mult = float(d.get("multiplier", -1))
        if start < 0 or length < 1 or post < 0 or start + length + post > n_weeks:
            raise DataError(f"{where}: weeks {start}..{start + length + post - 1} fall outside "
                            f"the panel's 0..{n_weeks - 1} (start, weeks and post must fit)")
        if mult < 0 or mult == 1.0:
            raise DataError(f"{where}: multiplier {mult} must be 0 (go-dark) or positive and not 1")
        c = channels.index(d["channel"])
        cell = tuple(sorted(geos.index(g) for g in d["geos"]))
        end, measure_end = start + length - 1, start + length - 1 + post
        last = max(measure_end, end + max_lag - 1)
        if any(g in cell and cc == c and not (last < a or start > b) for g, cc, a, b in busy):
            raise DataError(f"{where}: overlaps another test of {d['channel']} in the same geo "
                            "within its carryover; move it so each lift has one cause")
        dark = [geos[g] for g in cell if not (bau[g, start:end + 1, c] > 0).any()]
        if dark:
            raise DataError(f"{where}: {d['channel']} has no spend in {dark} in weeks "
                            f"{start}..{end} (a pause in its plan); move the test")
        tests.append(_Test(c, cell, start, end, measure_end, mult))
        busy += [(g, c, start, last) for g in cell]
    return tests


def _apply_tests(bau: np.ndarray, tests: list[_Test]) -> np.ndarray:
    """Actual spend: BAU with each test's heavy-up or go-dark applied in its window."""
    spend = bau.copy()
    for t in tests:
        spend[list(t.geos), t.start:t.end + 1, t.channel] *= t.multiplier
    return spend


def _lift_table(rng, tests, bau, spend, per_spend, p, channels, geos, weeks, noise) -> pl.DataFrame:
    """True lift = noise-free KPI(actual) - KPI(actual with the test undone), start..measure_end.

    Tests never touch the same geo-channel within each other's carryover, so "the test
    undone" is the business-as-usual spend. The standard error is ``noise * |true lift|``.
    """
    rows = []
    actual = media_contributions(spend * per_spend, p)
    for i, t in enumerate(tests):
        g, c = list(t.geos), t.channel
        window = slice(t.start, t.end + 1)
        undone = spend.copy()
        undone[g, window, c] = bau[g, window, c]
        without = media_contributions(undone * per_spend, p)
        diff = (actual - without)[g, t.start:t.measure_end + 1, c]
        true_lift = float(diff.sum())
        se = noise * abs(true_lift)
        rows.append(dict(
            test_id=f"lift_{i + 1:02d}", channel=channels[c], geos=";".join(geos[j] for j in g),
            start=weeks[t.start].item(), end=weeks[t.end].item(),
            measure_end=weeks[t.measure_end].item(),
            spend_delta=float((spend[g, window, c] - bau[g, window, c]).sum()),
            lift=true_lift + se * float(rng.standard_normal()), lift_se=se, true_lift=true_lift,
        ))
    return pl.DataFrame(rows, schema=LIFT_SCHEMA)


# ---------------------------------------------------------------------- output tables
def _panel_frame(geos, weeks, revenue, base, population, channels, spend, inputs,
                 inputs_names) -> pl.DataFrame:
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


def _contribution_frame(gain, geos, weeks, channels) -> pl.DataFrame:
    n_geos, n_weeks, n_ch = gain.shape
    return pl.DataFrame({
        "geo": np.repeat(np.array(geos), n_weeks * n_ch),
        "week": np.tile(np.repeat(weeks, n_ch), n_geos),
        "channel": np.tile(np.array(channels), n_geos * n_weeks),
        "contribution": gain.ravel(),
    })


def _lift_bau_frame(tests, bau, per_spend, geos, weeks) -> pl.DataFrame:
    """Business-as-usual spend and input of every test geo-week: each test's counterfactual."""
    rows = [
        (f"lift_{i + 1:02d}", geos[g], weeks[w].item(), float(bau[g, w, t.channel]),
         float(bau[g, w, t.channel] * per_spend[g, w, t.channel]))
        for i, t in enumerate(tests) for g in t.geos for w in range(t.start, t.end + 1)
    ]
    schema = {"test_id": pl.String, "geo": pl.String, "week": pl.Date, "spend": pl.Float64,
              "input": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _roi_tables(inputs, spend, p, channels, geos) -> dict[str, pl.DataFrame]:
    n_geos, n_ch = len(geos), len(channels)
    total = spend.sum(axis=1)
    by_geo = {
        "geo": np.repeat(np.array(geos), n_ch),
        "channel": np.tile(np.array(channels), n_geos),
        "spend": total.ravel(),
    }
    national = {"channel": np.array(channels), "spend": total.sum(axis=0)}
    roi = true_roi(inputs, spend, p)
    mroi = true_roi(inputs, spend, p, increase=0.01)
    return {
        "roi": pl.DataFrame({**by_geo, "roi": roi.ravel()}),
        "roi_national": pl.DataFrame(
            {**national, "roi": true_roi(inputs, spend, p, national=True)}
        ),
        "marginal_roi": pl.DataFrame({**by_geo, "marginal_roi": mroi.ravel()}),
        "marginal_roi_national": pl.DataFrame(
            {**national, "marginal_roi": true_roi(inputs, spend, p, increase=0.01, national=True)}
        ),
    }
