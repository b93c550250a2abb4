"""Controls: does each one carry information of its own?

A control that never changes cannot be told from the intercept; one that only
differs between geos is absorbed by the geo levels; one that moves with a
channel's media or with the calendar (trend, seasonality) takes credit from them,
or they from it. All are measured within geos, because the model's geo levels
remove every geo's mean.

Thresholds:

- ``control_constant`` (blocking): a control column has one value in every geo and week.
- ``control_near_constant`` (warning): its most common value covers at least
  ``NEAR_CONSTANT_SHARE`` of the geo-weeks.
- ``control_between_geos`` (warning): it varies between geos but never within one
  (the geo levels absorb it).
- ``control_media`` (warning): its within-geo correlation with a channel's media
  after carryover is at least ``MEDIA_CORRELATION`` in absolute value.
- ``control_calendar`` (warning): the Fourier and trend terms explain at least
  ``CALENDAR_R2`` of its within-geo variance.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from geommm.workflows.preflight.design import Design
from geommm.workflows.preflight.findings import Finding, fmt, share

#: Share of geo-weeks at the control's most common value from which it is near-constant.
NEAR_CONSTANT_SHARE = 0.99
#: Within-geo correlation (absolute) of a control with a channel's media after carryover.
MEDIA_CORRELATION = 0.8
#: Share of a control's within-geo variance explained by the Fourier and trend terms.
CALENDAR_R2 = 0.9


def check(design: Design) -> list[Finding]:
    """Constant controls (blocking), near-constant, between-geo-only, and collinear ones."""
    out = _constant_columns(design)
    if design.data is None or not design.data.control_names:
        return out
    values = design.data.controls  # (G, T, K) standardised
    for k, name in enumerate(design.data.control_names):
        x = values[..., k]
        if not x.std() > 0:
            continue  # reported above, or by the design as a constant design column
        out += _near_constant(name, x)
        if _between_geos_only(design, name, x, out):
            continue
        out += _with_media(design, name, x)
        out += _with_calendar(design, name, x)
    return out


def _constant_columns(design: Design) -> list[Finding]:
    """Plain-column controls that never change (checked on the raw panel, before scaling)."""
    schema = design.panel.frame.schema
    columns = [
        c for c in design.spec.controls
        if c in schema and (schema[c].is_numeric() or schema[c] == pl.Boolean)
    ]
    if not columns:
        return []
    raw = design.panel.values(columns)
    out = []
    for k, name in enumerate(columns):
        x = raw[..., k]
        if x.max() == x.min():
            out.append(Finding(
                "blocking", "control_constant",
                f"control {name!r} is {fmt(float(x.flat[0]))} in every geo and week (standard "
                "deviation 0): its effect cannot be told apart from the intercept; remove it "
                "from the formula.",
                value=0.0, threshold=0.0, control=name,
            ))
    return out


def _near_constant(name: str, x: np.ndarray) -> list[Finding]:
    _, counts = np.unique(np.round(x.reshape(-1), 12), return_counts=True)
    top = counts.max() / x.size
    if top < NEAR_CONSTANT_SHARE:
        return []
    return [Finding(
        "warning", "control_near_constant",
        f"control {name!r} takes one value in {share(top)} of geo-weeks (>= "
        f"{share(NEAR_CONSTANT_SHARE)}): only {x.size - counts.max()} geo-week(s) inform "
        "its effect; drop it unless those weeks matter.",
        value=float(top), threshold=NEAR_CONSTANT_SHARE, control=name,
    )]


def _between_geos_only(design: Design, name: str, x: np.ndarray, out: list[Finding]) -> bool:
    if x.std(axis=1).max() > 1e-12:
        return False
    out.append(Finding(
        "warning", "control_between_geos",
        f"control {name!r} differs between geos but never within a geo (within-geo standard "
        "deviation 0): the geo levels absorb it, so its coefficient comes from the prior; "
        "drop it, or let it vary over weeks.",
        value=0.0, threshold=0.0, control=name,
    ))
    return True


def _within(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=1, keepdims=True)


def _with_media(design: Design, name: str, x: np.ndarray) -> list[Finding]:
    xc = _within(x).reshape(-1)
    a = _within(design.adstocked).reshape(-1, len(design.channels))
    out = []
    for c, channel in enumerate(design.channels):
        denom = np.sqrt((xc @ xc) * (a[:, c] @ a[:, c]))
        if not denom > 0:
            continue
        r = float(xc @ a[:, c] / denom)
        if abs(r) >= MEDIA_CORRELATION:
            out.append(Finding(
                "warning", "control_media",
                f"control {name!r} moves with channel {channel!r}'s media within geos "
                f"(correlation {fmt(r)}, |r| >= {fmt(MEDIA_CORRELATION)}): the model cannot "
                "tell which of the two moved the KPI; a promotion run with the campaign? "
                "Vary one without the other, or fix one of them with a prior.",
                value=r, threshold=MEDIA_CORRELATION, channel=channel, control=name,
            ))
    return out


def calendar_r2(design: Design, x: np.ndarray) -> float:
    """Share of the control's within-geo variance explained by the Fourier and trend terms."""
    d = design.data
    G, T = x.shape
    parts = [np.broadcast_to(d.fourier, (G, T, d.fourier.shape[1]))]
    if design.spec.trend is not None:
        parts.append(np.broadcast_to(d.trend[:, None], (G, T, 1)))
    cal = np.concatenate(parts, axis=-1)
    if not cal.shape[-1]:
        return 0.0
    Xc = _within(cal).reshape(G * T, -1)
    y = _within(x).reshape(-1)
    total = float(y @ y)
    if not total > 0:
        return 0.0
    resid = y - Xc @ np.linalg.lstsq(Xc, y, rcond=None)[0]
    return 1.0 - float(resid @ resid) / total


def _with_calendar(design: Design, name: str, x: np.ndarray) -> list[Finding]:
    r2 = calendar_r2(design, x)
    if r2 < CALENDAR_R2:
        return []
    return [Finding(
        "warning", "control_calendar",
        f"control {name!r} follows the calendar: the trend and seasonality terms explain "
        f"{share(r2)} of its movement within geos (>= {share(CALENDAR_R2)}), so its effect "
        "and theirs are hard to separate; drop it or the overlapping term.",
        value=r2, threshold=CALENDAR_R2, control=name,
    )]
