"""How well a channel's ROI came back from the simulated markets: ratios, score, verdict.

The verdict reads one number per channel (geo-channel, pair), its **score**, the
posterior's spread of log ROI over the prior's, as a full NUTS fit's contraction
does (``benchmarks/bench_preflight.py``). Two estimates of it come from the markets:

- **width ratio**: the fast fit's own posterior sd, root mean square over the
  markets (the markets' truths are drawn from the prior, so this is the expected
  posterior sd under the prior);
- **error ratio**: root mean square of (estimate - truth), over the prior's sd. For
  a calibrated posterior the expected squared error of its mean *is* its expected
  variance, so this estimates the same number, but from n squared errors (with 3
  markets, +-40% by chance alone).

So the width decides, and the errors check it, as in simulation-based calibration's
pairing of posterior contraction with posterior z-scores (Betancourt 2018,
"Calibrating model-based inferences and decisions"; Schad, Betancourt & Vasishth
2021): z = error / the market's own posterior sd. When the markets' mean z^2 is
beyond chance (the 95% point of chi^2 with n degrees of freedom, over n) the fast
fit's intervals are too narrow for its errors, and the score is the larger of the
two ratios. Without draws (``map``) only the error ratio exists.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import chi2

#: Score below which a channel is identified by the design (the posterior sd at most
#: half the prior's: the data carry three times the prior's information).
IDENTIFIED = 0.5
#: Score from which a channel is not identified (~1/sqrt(2): the data carry no more
#: than the prior does).
NOT_IDENTIFIED = 0.7
#: Level of the check that the fast fit's intervals cover its errors.
CALIBRATION_LEVEL = 0.95


def z2_limit(n: int) -> float:
    """Largest mean z^2 over ``n`` markets that chance explains (chi^2_n quantile / n)."""
    return float(chi2.ppf(CALIBRATION_LEVEL, n) / n) if n >= 1 else float("nan")


def worst(error_ratio: float, width_ratio: float = float("nan")) -> float:
    """The larger of the two ratios, ignoring a missing one (NaN if both are)."""
    known = [x for x in (error_ratio, width_ratio) if np.isfinite(x)]
    return max(known) if known else float("nan")


def score_of(error_ratio: float, width_ratio: float = float("nan"), calibrated: bool = False) -> float:
    """The number a verdict reads: the width ratio when the fast fit's intervals are
    calibrated (its errors within chance of its widths), else the larger ratio."""
    if calibrated and np.isfinite(width_ratio):
        return float(width_ratio)
    return worst(error_ratio, width_ratio)


def verdict(error_ratio: float, width_ratio: float = float("nan"), calibrated: bool = False) -> str:
    """identified / weak / not identified from :func:`score_of`."""
    score = score_of(error_ratio, width_ratio, calibrated)
    if not np.isfinite(score):
        return "not identified"
    if score < IDENTIFIED:
        return "identified"
    return "weak" if score < NOT_IDENTIFIED else "not identified"


def pair_contraction(log_roi: np.ndarray, prior_sd: np.ndarray) -> float:
    """Posterior sd over prior sd along the least narrowed direction of two log ROIs.

    ``log_roi`` is (D, 2) draws, ``prior_sd`` the two ROI priors' sds of log ROI (the
    priors are independent). The square root of the largest eigenvalue of the
    posterior covariance in prior-whitened coordinates: at least each channel's own
    ratio, and near 1 when the data fix a combination (their sum) but not the split."""
    keep = np.isfinite(log_roi).all(axis=1)
    if keep.sum() < 3:
        return float("nan")
    cov = np.cov(log_roi[keep] / np.asarray(prior_sd, dtype=float)[None, :], rowvar=False)
    return float(np.sqrt(max(np.linalg.eigvalsh(cov)[-1], 0.0)))


def rms(x: np.ndarray, axis: int = 0) -> np.ndarray:
    """Root mean square, ignoring NaN (all-NaN cells stay NaN, quietly)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.sqrt(np.nanmean(np.square(x), axis=axis))


def pair_width(est: list[np.ndarray], i: int, j: int, prior_sd: np.ndarray) -> float:
    """Root mean square over markets of :func:`pair_contraction` of channels ``i``, ``j``."""
    if est[0].shape[0] < 3:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = [pair_contraction(np.log(np.where(e[:, [i, j]] > 0, e[:, [i, j]], np.nan)),
                                   prior_sd[[i, j]]) for e in est]
    return float(rms(np.asarray(ratios))) if np.isfinite(ratios).any() else float("nan")


def market_scores(est: list[np.ndarray], true: np.ndarray, prior_sd: np.ndarray):
    """Per cell (the trailing axes): bias, error ratio, width ratio and whether the fast
    fit is calibrated, from the markets' ROI draws.

    ``est`` is a list over markets of (D, ...) draws, ``true`` (S, ...); cells without
    spend are NaN throughout and stay NaN (and count as not calibrated)."""
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN cells (no spend)
        log_est = [np.log(np.where(e > 0, e, np.nan)) for e in est]
        point = np.stack([np.nanmean(e, axis=0) for e in log_est])  # (S, ...)
        err = point - np.log(np.where(true > 0, true, np.nan))
        bias = np.exp(np.nanmean(err, axis=0)) - 1.0
        error_ratio = rms(err) / prior_sd
        calibrated = np.zeros(np.shape(error_ratio), dtype=bool)
        width_ratio = np.full_like(error_ratio, np.nan)
        if est[0].shape[0] > 1:
            sd = np.stack([np.nanstd(e, axis=0) for e in log_est])  # (S, ...)
            width_ratio = rms(sd) / prior_sd
            z2 = (err / sd) ** 2
            n = np.isfinite(z2).sum(axis=0)
            limit = np.vectorize(z2_limit, otypes=[float])(n)
            calibrated = (n > 0) & (np.nanmean(z2, axis=0) <= limit)
    return bias, error_ratio, width_ratio, calibrated
