"""The KPI per geo: is there anything to explain, and is it clean?

A geo whose KPI never moves gives the model nothing to explain; a geo whose mean
KPI is not positive cannot be scaled (the model divides each geo's KPI by its
mean). Outliers and level shifts are read off the residuals of one least-squares
fit of the KPI on every term of the formula (media at the prior centres), so
seasonality, trend, promotions and media bursts are not mistaken for them.

Thresholds:

- ``constant`` (blocking): the KPI's standard deviation in a geo is 0.
- ``kpi_scale`` (blocking): the KPI's mean in a geo is <= 0 and no ``population``
  column scales it instead.
- ``near_constant`` (warning): coefficient of variation below ``NEAR_CONSTANT_CV``.
- ``outliers`` (warning): weeks whose residual lies beyond ``OUTLIER_Z`` robust
  standard deviations (1.4826 x median absolute deviation).
- ``level_shift`` (warning): a step in a geo's KPI, both sides at least
  ``MIN_SEGMENT`` weeks long, that the formula's terms do not explain: tested as one
  more regressor next to them, of more than ``LEVEL_SHIFT_SIZE`` noise standard
  deviations with a t statistic above ``LEVEL_SHIFT_T``.
"""

from __future__ import annotations

import numpy as np

from geommm.workflows.preflight.design import Design
from geommm.workflows.preflight.findings import Finding, fmt

#: Coefficient of variation (sd / |mean|) of a geo's weekly KPI below which it is near-constant.
NEAR_CONSTANT_CV = 1e-3
#: Robust z-score of a residual beyond which the week is an outlier.
OUTLIER_Z = 6.0
#: Fewest weeks on each side of a level shift.
MIN_SEGMENT = 8
#: A level shift's size in noise standard deviations, at least.
LEVEL_SHIFT_SIZE = 2.0
#: A level shift's t statistic (difference of means over its standard error), at least.
LEVEL_SHIFT_T = 6.0


def check(design: Design) -> list[Finding]:
    """Constant, unscalable, near-constant, outlying and shifting KPI, per geo."""
    out = _constant_and_scale(design)
    if design.data is not None and not any(f.severity == "blocking" for f in out):
        out += _outliers(design) + _level_shifts(design)
    return out


def _constant_and_scale(design: Design) -> list[Finding]:
    kpi, name, out = design.kpi, design.spec.response, []
    mean, sd = kpi.mean(axis=1), kpi.std(axis=1)
    for g, geo in enumerate(design.geos):
        scale = max(abs(mean[g]), np.finfo(float).tiny)
        if sd[g] <= 1e-12 * scale:
            out.append(Finding(
                "blocking", "kpi_constant",
                f"KPI {name!r} is constant ({fmt(mean[g])}) in every week of geo {geo!r} "
                "(standard deviation 0): there is nothing for media to explain there; "
                "check the data or drop the geo.",
                value=float(sd[g]), threshold=0.0, geo=geo,
            ))
        elif sd[g] / scale < NEAR_CONSTANT_CV:
            out.append(Finding(
                "warning", "kpi_near_constant",
                f"KPI {name!r} barely moves in geo {geo!r} (coefficient of variation "
                f"{fmt(sd[g] / scale)} < {fmt(NEAR_CONSTANT_CV)}): check that it is not a "
                "filled-in or rounded series.",
                value=float(sd[g] / scale), threshold=NEAR_CONSTANT_CV, geo=geo,
            ))
        if design.population is None and not mean[g] > 0:
            out.append(Finding(
                "blocking", "kpi_scale",
                f"KPI {name!r} has mean {fmt(mean[g])} <= 0 in geo {geo!r}; the model scales "
                "each geo by its mean KPI, so it needs a positive mean (or pass "
                "population=... to scale by population).",
                value=float(mean[g]), threshold=0.0, geo=geo,
            ))
    return out


def robust_sd(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """1.4826 x median absolute deviation: the sd of normal noise, unmoved by outliers."""
    med = np.median(x, axis=axis, keepdims=True)
    return 1.4826 * np.median(np.abs(x - med), axis=axis)


def _outliers(design: Design) -> list[Finding]:
    resid = design.least_squares.residuals
    scale = robust_sd(resid)
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(resid - np.median(resid, axis=1, keepdims=True)) / scale[:, None]
    times = design.data.times
    for g, geo in enumerate(design.geos):
        if not scale[g] > 0:
            continue
        weeks = np.flatnonzero(z[g] > OUTLIER_Z)
        if weeks.size:
            worst = weeks[np.argmax(z[g, weeks])]
            out.append(Finding(
                "warning", "kpi_outliers",
                f"geo {geo!r}: {weeks.size} week(s) of KPI lie far from what the formula "
                f"explains (worst {times[worst]}, {fmt(z[g, worst])} robust sd > "
                f"{fmt(OUTLIER_Z)}); check them for data errors, or add a control (a dummy "
                "for the event) so they do not pull the media effects.",
                value=float(z[g, worst]), threshold=OUTLIER_Z, geo=geo,
            ))
    return out


def level_shift(y: np.ndarray, X: np.ndarray, min_segment: int = MIN_SEGMENT):
    """The strongest step in one geo's KPI that the formula's terms do not explain:
    (first week after it, size in noise sd, t statistic), or None when the geo has too
    few weeks. Each candidate step is tested as one more regressor next to the
    formula's terms (intercept, media, seasonality, trend, controls), so a trend or a
    season is not mistaken for a step."""
    T = y.shape[0]
    A = np.column_stack([np.ones(T), X])
    dof = T - A.shape[1] - 1
    if T < 2 * min_segment + 1 or dof < min_segment:
        return None
    Q = np.linalg.qr(A)[0]
    resid = y - Q @ (Q.T @ y)
    k = np.arange(min_segment, T - min_segment + 1)
    steps = (np.arange(T)[:, None] >= k[None, :]).astype("float64")
    steps -= Q @ (Q.T @ steps)  # what the formula's terms cannot mimic
    norm2 = (steps**2).sum(axis=0)
    ok = norm2 > 1e-9
    if not ok.any():
        return None
    coef = np.where(ok, steps.T @ resid / np.where(ok, norm2, 1.0), 0.0)
    sigma = np.sqrt(np.maximum(resid @ resid - coef**2 * norm2, 1e-300) / dof)
    t = coef * np.sqrt(norm2) / sigma
    i = int(np.argmax(np.abs(t)))
    return int(k[i]), float(coef[i] / sigma[i]), float(t[i])


def _level_shifts(design: Design) -> list[Finding]:
    base, _ = design.baseline_terms
    X = np.concatenate([design.saturated, base], axis=-1)
    y = design.data.kpi_scaled
    times = design.data.times
    out = []
    for g, geo in enumerate(design.geos):
        found = level_shift(y[g], X[g])
        if found is None:
            continue
        week, size, t = found
        if abs(t) > LEVEL_SHIFT_T and abs(size) > LEVEL_SHIFT_SIZE:
            direction = "up" if size > 0 else "down"
            out.append(Finding(
                "warning", "kpi_level_shift",
                f"geo {geo!r}: the KPI steps {direction} by {fmt(abs(size))} noise sd from "
                f"{times[week]} on, beyond what the formula explains (t = {fmt(abs(t))} > "
                f"{fmt(LEVEL_SHIFT_T)}); a store opening, a tracking change or a lost "
                "account? Add a step control from that week, or start the panel after it.",
                value=abs(t), threshold=LEVEL_SHIFT_T, geo=geo,
            ))
    return out
