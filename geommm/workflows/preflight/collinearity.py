"""Collinearity: can the panel tell the channels apart?

Two channels bought together (TV and search flighted on one national plan) move
the KPI together, and the panel then pins down their sum, not the split. This is
measured on the media after carryover at the prior centres, as the model sees
them: the correlation of each pair over weeks within every geo (the geos' own
timing is what separates channels) and of the national weekly totals, the
variance inflation of each channel given the other channels and the baseline
terms (seasonality, trend, controls; geo means removed), and pairs whose spend is
a fixed multiple of each other in every geo, which no amount of data separates.

None of these stop a fit: a lift test or an ROI prior can still split the pair.

Thresholds:

- ``correlated_pair`` (warning): median over geos of the within-geo correlation of
  two channels at or above ``PAIR_CORRELATION``; (info) the national weekly totals
  correlate at or above it while the geos still differ.
- ``variance_inflation`` (warning): VIF at or above ``VIF_WARNING``; (info) at or
  above ``VIF_INFO``.
- ``fixed_multiple`` (warning): in every geo, in at least ``FIXED_MULTIPLE_SHARE`` of
  the weeks either channel runs, both run and the ratio of their spend is within
  ``FIXED_MULTIPLE_TOLERANCE`` of the geo's median ratio (lift-test weeks aside, one
  is a fixed multiple of the other).
"""

from __future__ import annotations

import itertools

import numpy as np

from geommm.workflows.preflight.design import Design
from geommm.workflows.preflight.findings import Finding, fmt, share

#: Within-geo correlation of two channels' media after carryover (median over geos).
PAIR_CORRELATION = 0.9
#: Variance inflation factor of a channel given the other channels and the baseline terms.
VIF_WARNING = 10.0
VIF_INFO = 5.0
#: One channel's spend is "a fixed multiple" of another's in a week when their ratio is
#: within this relative distance of the geo's median ratio ...
FIXED_MULTIPLE_TOLERANCE = 0.05
#: ... and it is so in at least this share of the weeks either runs, in every geo.
FIXED_MULTIPLE_SHARE = 0.75

_REMEDY = (
    "a Geo-Lift test on one of them (heavy-up or go-dark in a few geos) or an ROI prior "
    "from past tests splits them; so does buying them on different weeks in some geos"
)


def check(design: Design) -> list[Finding]:
    """Correlated pairs, variance inflation and fixed multiples of spend."""
    if design.data is None or len(design.channels) < 1:
        return []
    out = _fixed_multiples(design)
    out += _pairs(design, skip={f.channel for f in out})
    out += _variance_inflation(design)
    return out


def within_geo_correlation(x: np.ndarray) -> np.ndarray:
    """(G, C, C) correlation over weeks within each geo of ``x`` (G, T, C); NaN where flat."""
    d = x - x.mean(axis=1, keepdims=True)
    cov = np.einsum("gtc,gtd->gcd", d, d)
    sd = np.sqrt(np.einsum("gcc->gc", cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        return cov / (sd[:, :, None] * sd[:, None, :])


def _pairs(design: Design, skip: set[str]) -> list[Finding]:
    a = design.adstocked
    within = within_geo_correlation(a)
    national = a * design.data.media_scale[:, None, :]  # back to input units, then summed
    nat = within_geo_correlation(national.sum(axis=0)[None])[0]
    out = []
    C = len(design.channels)
    for i, j in itertools.combinations(range(C), 2):
        ci, cj = design.channels[i], design.channels[j]
        if f"{ci}+{cj}" in skip:  # already reported as a fixed multiple
            continue
        r = within[:, i, j]
        r = r[np.isfinite(r)]
        if r.size == 0:
            continue
        med = float(np.median(r))
        n_high = int((r >= PAIR_CORRELATION).sum())
        if med >= PAIR_CORRELATION:
            out.append(Finding(
                "warning", "correlated_pair",
                f"channels {ci!r} and {cj!r} move together week by week in {n_high} of "
                f"{r.size} geos (median correlation after carryover {fmt(med)} >= "
                f"{fmt(PAIR_CORRELATION)}): the panel pins down their sum better than the "
                f"split; {_REMEDY}.",
                value=med, threshold=PAIR_CORRELATION, channel=f"{ci}+{cj}",
            ))
        elif np.isfinite(nat[i, j]) and nat[i, j] >= PAIR_CORRELATION:
            out.append(Finding(
                "info", "correlated_pair",
                f"channels {ci!r} and {cj!r} move together nationally (correlation "
                f"{fmt(nat[i, j])}) but less within geos (median {fmt(med)}): the geos' own "
                "timing is what tells them apart.",
                value=float(nat[i, j]), threshold=PAIR_CORRELATION, channel=f"{ci}+{cj}",
            ))
    return out


def variance_inflation(design: Design) -> np.ndarray:
    """(C,) VIF of each channel's media after carryover given the other channels and
    the baseline terms, geo means removed (pooled over geo-weeks); inf when exact."""
    base, _ = design.baseline_terms
    X = np.concatenate([design.adstocked, base], axis=-1)
    X = X - X.mean(axis=1, keepdims=True)
    X = X.reshape(-1, X.shape[-1])
    C = len(design.channels)
    vif = np.full(C, np.nan)
    for c in range(C):
        y, rest = X[:, c], np.delete(X, c, axis=1)
        total = float(y @ y)
        if not total > 0:
            continue
        if rest.shape[1]:
            coef = np.linalg.lstsq(rest, y, rcond=None)[0]
            resid = y - rest @ coef
        else:
            resid = y
        left = float(resid @ resid) / total
        vif[c] = np.inf if left <= 1e-12 else 1.0 / left
    return vif


def _variance_inflation(design: Design) -> list[Finding]:
    out = []
    for c, v in enumerate(variance_inflation(design)):
        channel = design.channels[c]
        if np.isnan(v):
            continue
        if v >= VIF_WARNING:
            sev, cut, what = "warning", VIF_WARNING, "much of its movement is explained"
        elif v >= VIF_INFO:
            sev, cut, what = "info", VIF_INFO, "part of its movement is explained"
        else:
            continue
        value = float(v) if np.isfinite(v) else float("inf")
        out.append(Finding(
            sev, "variance_inflation",
            f"channel {channel!r}: {what} by the other channels, seasonality, trend and "
            f"controls (variance inflation {fmt(value)} >= {fmt(cut)}), so its effect is "
            f"estimated from what is left; {_REMEDY}.",
            value=value, threshold=cut, channel=channel,
        ))
    return out


def fixed_multiple_share(spend: np.ndarray, i: int, j: int) -> np.ndarray:
    """(G,) per geo: share of the weeks either channel runs in which both run and
    spend_j / spend_i is within ``FIXED_MULTIPLE_TOLERANCE`` of its median (a few
    lift-test weeks do not hide a fixed multiple); NaN where neither runs."""
    a, b = spend[..., i], spend[..., j]
    out = np.full(a.shape[0], np.nan)
    for g in range(a.shape[0]):
        on_a, on_b = a[g] > 0, b[g] > 0
        either, both = on_a | on_b, on_a & on_b
        if not either.any():
            continue
        if not both.any():
            out[g] = 0.0
            continue
        ratio = b[g, both] / a[g, both]
        close = np.abs(ratio / np.median(ratio) - 1.0) <= FIXED_MULTIPLE_TOLERANCE
        out[g] = close.sum() / either.sum()
    return out


def fixed_multiple_pairs(spend: np.ndarray) -> list[tuple[int, int, float]]:
    """Channel pairs (i, j, worst geo's share) whose spend is a fixed multiple in every geo:
    the ``fixed_multiple`` check's pairs, which pre-flight's markets also give one curve."""
    out = []
    for i, j in itertools.combinations(range(spend.shape[-1]), 2):
        held = fixed_multiple_share(spend, i, j)
        held = held[np.isfinite(held)]
        if held.size and held.min() >= FIXED_MULTIPLE_SHARE:
            out.append((i, j, float(held.min())))
    return out


def _fixed_multiples(design: Design) -> list[Finding]:
    out = []
    for i, j, worst in fixed_multiple_pairs(design.spend):
        ci, cj = design.channels[i], design.channels[j]
        out.append(Finding(
            "warning", "fixed_multiple",
            f"channel {cj!r}'s spend is a fixed multiple of {ci!r}'s in every geo (same weeks, "
            f"ratio within {share(FIXED_MULTIPLE_TOLERANCE)} of its usual value in at least "
            f"{share(worst)} of the weeks >= {share(FIXED_MULTIPLE_SHARE)}): the panel alone "
            f"cannot tell them apart, only their sum; {_REMEDY}.",
            value=worst, threshold=FIXED_MULTIPLE_SHARE, channel=f"{ci}+{cj}",
        ))
    return out
