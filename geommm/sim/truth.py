"""The truth behind a simulated panel: media parameters and the KPI, ROI, contributions they imply.

The simulator is the yardstick of every recovery test, so its forward maths lives
here on its own, in plain numpy, rather than borrowing the model's transforms: a
change to the model cannot silently move the truth it is judged against. The
definitions are the model's (geometric adstock normalised over ``max_lag`` lags,
Hill saturation with a log floor), written out again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import scipy.special

from geommm.sim.profiles import SEASON_PERIOD

__all__ = [
    "MediaParams",
    "SimTruth",
    "media_scale",
    "media_contributions",
    "incremental_kpi",
    "true_roi",
]

#: Added to adstocked media before taking logs, as the model does: keeps the Hill
#: curve finite in dark weeks, also for slopes below 1.
_LOG_FLOOR = 1e-9


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
    #: (time, channel) multiplier of each week's response (``effect_change``); None = 1
    effect: np.ndarray | None = None

    def effect_factor(self, n_times: int) -> np.ndarray:
        """(time, channel) response multiplier, extended with the last week's past the panel."""
        if self.effect is None:
            return np.ones((n_times, len(self.slope)))
        f = np.asarray(self.effect, dtype="float64")
        if n_times > f.shape[0]:
            f = np.concatenate([f, np.repeat(f[-1:], n_times - f.shape[0], axis=0)])
        return f[:n_times]


def media_scale(inputs: np.ndarray) -> np.ndarray:
    """``m_gc``: mean of the non-zero weeks of each geo-channel; 1.0 where it never runs."""
    inputs = np.asarray(inputs, dtype="float64")
    active = inputs > 0
    n_active = active.sum(axis=1)
    total = np.where(active, inputs, 0.0).sum(axis=1)
    return np.divide(total, n_active, out=np.ones_like(total), where=n_active > 0)


def _geometric_adstock(x: np.ndarray, alpha: np.ndarray, max_lag: int) -> np.ndarray:
    """Carryover of ``x`` ``(geo, time, channel)``: ``sum_l w_l x_{t-l}`` with ``w_l ∝ alpha^l``.

    The weights over lags ``0..max_lag-1`` sum to 1, so adstock moves spend in time
    without creating any; weeks before the first one count as zero.
    """
    raw = np.asarray(alpha, dtype="float64")[..., None] ** np.arange(max_lag, dtype="float64")
    weights = raw / raw.sum(axis=-1, keepdims=True)  # (geo, channel, lag)
    n_weeks = x.shape[-2]
    # time is the fastest axis in memory (as in the model's lag stack): later sums over
    # geos and weeks then add in the same order, so the truth stays the same to the bit
    out = np.moveaxis(np.zeros((*x.shape[:-2], x.shape[-1], n_weeks)), -1, -2)
    for lag in range(min(max_lag, n_weeks)):  # lag by lag, in order, as the model adds them
        out[..., lag:, :] += weights[..., lag][..., None, :] * x[..., : n_weeks - lag, :]
    return out


def _hill(x: np.ndarray, half_saturation: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """``x^n / (x^n + K^n)`` as ``sigmoid(n (log(x + floor) - log K))``: finite at ``x = 0``."""
    return scipy.special.expit(slope * (np.log(x + _LOG_FLOOR) - np.log(half_saturation)))


def _response(inputs: np.ndarray, p: MediaParams, pad: int = 0) -> np.ndarray:
    """Hill(adstock(x / m)), ``(geo, time + pad, channel)``; ``pad`` zero weeks catch carryover."""
    x = np.asarray(inputs, dtype="float64") / p.media_scale[:, None, :]
    if pad:
        x = np.concatenate([x, np.zeros((x.shape[0], pad, x.shape[2]))], axis=1)
    return _hill(_geometric_adstock(x, p.alpha, p.max_lag), p.half_saturation[:, None, :],
                 p.slope)


def media_contributions(inputs: np.ndarray, p: MediaParams, pad: int = 0) -> np.ndarray:
    """Noise-free KPI (original units) each channel adds: ``(geo, time, channel)``.

    The baseline is the response to zero input (the Hill log-floor makes it ~1e-8,
    not exactly 0), so contributions of a channel are exactly "KPI with it minus
    KPI without it".
    """
    gain = _response(inputs, p, pad) - _response(np.zeros_like(inputs), p, pad)
    if p.effect is not None:
        gain = gain * p.effect_factor(gain.shape[1])[None, :, :]
    return p.kpi_scale[:, None, None] * p.beta[:, None, :] * gain


def incremental_kpi(
    inputs: np.ndarray, p: MediaParams, low: float = 0.0, high: float = 1.0
) -> np.ndarray:
    """KPI(high * inputs) - KPI(low * inputs), ``(geo, channel)``, carryover past the end in."""
    pad = p.max_lag - 1
    up = _response(high * np.asarray(inputs, dtype="float64"), p, pad)
    down = _response(low * np.asarray(inputs, dtype="float64"), p, pad)
    diff = up - down
    if p.effect is not None:
        diff = diff * p.effect_factor(diff.shape[1])[None, :, :]
    return p.kpi_scale[:, None] * p.beta * diff.sum(axis=1)


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
    effect: np.ndarray | None = None  # (time, channel) response multiplier (effect_change)

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
            effect=self.effect,
        )


def roi_tables(
    inputs: np.ndarray, spend: np.ndarray, p: MediaParams, channels: list[str], geos: list[str]
) -> dict[str, pl.DataFrame]:
    """The four true-ROI tables of :class:`SimTruth` (by geo and national, average and marginal)."""
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


def contribution_frame(
    gain: np.ndarray, geos: list[str], weeks: np.ndarray, channels: list[str]
) -> pl.DataFrame:
    """Long table ``geo, week, channel, contribution`` from a ``(geo, time, channel)`` cube."""
    n_geos, n_weeks, n_ch = gain.shape
    return pl.DataFrame({
        "geo": np.repeat(np.array(geos), n_weeks * n_ch),
        "week": np.tile(np.repeat(weeks, n_ch), n_geos),
        "channel": np.tile(np.array(channels), n_geos * n_weeks),
        "contribution": gain.ravel(),
    })
