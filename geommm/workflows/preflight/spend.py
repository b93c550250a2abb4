"""Spend variation per geo and channel: does each channel move enough to be measured?

A media effect is learnt from weeks when spend changes. A channel that never
runs has no effect to estimate; one that runs a handful of weeks in a geo, or
always at the same level (an always-on channel with flat spend), moves too
little for the KPI to reveal its effect, which then comes from the other geos
and from the ROI prior. Variation is measured on the media after carryover at
the prior centres, because that is what the model regresses the KPI on.

Thresholds:

- ``media_all_zero`` (blocking): a channel's spend or media column is 0 in every
  geo and week.
- ``channel_absent`` (info): a channel has no spend in a geo (no ROI is reported there).
- ``few_active_weeks`` (warning): a channel runs in a geo in fewer than
  ``MIN_ACTIVE_WEEKS`` weeks.
- ``low_variation`` (warning): the coefficient of variation over weeks of the
  channel's media after carryover is below ``LOW_VARIATION_CV`` in a geo.
- ``spend_variation`` (info): one summary per channel (weeks with spend, share of
  dark weeks, coefficient of variation; medians over geos).
"""

from __future__ import annotations

import numpy as np

from geommm.workflows.preflight.design import Design
from geommm.workflows.preflight.findings import Finding, fmt, share

#: A channel running in a geo in fewer weeks than this gives that geo little to learn from.
MIN_ACTIVE_WEEKS = 8
#: Coefficient of variation (sd / mean over weeks) of the media after carryover below
#: which a channel is too flat to tell from the baseline.
LOW_VARIATION_CV = 0.1


def check(design: Design) -> list[Finding]:
    """Dead channels (blocking), absent, sparse and flat geo-channels, and a summary."""
    out = _dead(design)
    if out:
        return out
    active = (design.spend.sum(axis=1) > 0) & (design.media_input.sum(axis=1) > 0)  # (G, C)
    weeks = (design.media_input > 0).sum(axis=1)  # (G, C)
    cv = _variation(design)
    for c, channel in enumerate(design.channels):
        out += _absent(design, c, active[:, c])
        out += _sparse(design, c, active[:, c], weeks[:, c])
        if cv is not None:
            out += _flat(design, c, active[:, c], cv[:, c])
        out.append(_summary(design, c, active[:, c], weeks[:, c], cv))
    return out


def _dead(design: Design) -> list[Finding]:
    out = []
    for c, channel in enumerate(design.channels):
        for what, values, column in (
            ("spend", design.spend, design.spend_column(c)),
            ("media", design.media_input, design.input_column(c)),
        ):
            if not values[..., c].any():
                out.append(Finding(
                    "blocking", "media_all_zero",
                    f"channel {channel!r}: {what} column {column!r} is 0 in every geo and week "
                    "(total 0), so its effect cannot be estimated; remove it from the formula "
                    "or fix the column.",
                    value=0.0, threshold=0.0, channel=channel,
                ))
                break
    return out


def _variation(design: Design) -> np.ndarray | None:
    """(G, C) coefficient of variation over weeks of the adstocked media (None without arrays)."""
    if design.data is None:
        return None
    a = design.adstocked
    mean = a.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mean > 0, a.std(axis=1) / np.where(mean > 0, mean, 1.0), np.nan)


def _absent(design: Design, c: int, active: np.ndarray) -> list[Finding]:
    channel = design.channels[c]
    return [
        Finding(
            "info", "channel_absent",
            f"channel {channel!r} has no spend in geo {geo!r}: no ROI is reported there, "
            "and plans that would start it there lean on the other geos.",
            value=0.0, threshold=0.0, channel=channel, geo=geo,
        )
        for g, geo in enumerate(design.geos)
        if not active[g]
    ]


def _sparse(design: Design, c: int, active: np.ndarray, weeks: np.ndarray) -> list[Finding]:
    channel, T = design.channels[c], design.kpi.shape[1]
    few = active & (weeks < min(MIN_ACTIVE_WEEKS, T))
    return [
        Finding(
            "warning", "few_active_weeks",
            f"channel {channel!r} runs in only {weeks[g]} of {T} weeks in geo {geo!r} (< "
            f"{MIN_ACTIVE_WEEKS}): that geo's effect will come mostly from the other geos "
            "and the ROI prior.",
            value=float(weeks[g]), threshold=float(MIN_ACTIVE_WEEKS), channel=channel, geo=geo,
        )
        for g, geo in enumerate(design.geos)
        if few[g]
    ]


def _flat(design: Design, c: int, active: np.ndarray, cv: np.ndarray) -> list[Finding]:
    channel = design.channels[c]
    flat = active & (cv < LOW_VARIATION_CV)
    if not flat.any():
        return []
    remedy = (
        "its effect is hard to tell from the baseline; vary its spend (pulses, geo "
        "differences), run a Geo-Lift test, or state an ROI prior from past tests"
    )
    if flat.sum() == active.sum() and flat.sum() > 1:
        worst = float(np.nanmax(cv[flat]))
        return [Finding(
            "warning", "low_variation",
            f"channel {channel!r} is nearly flat in every geo it runs in (coefficient of "
            f"variation after carryover at most {fmt(worst)} < {fmt(LOW_VARIATION_CV)}): {remedy}.",
            value=worst, threshold=LOW_VARIATION_CV, channel=channel,
        )]
    return [
        Finding(
            "warning", "low_variation",
            f"channel {channel!r} is nearly flat in geo {geo!r} (coefficient of variation "
            f"after carryover {fmt(cv[g])} < {fmt(LOW_VARIATION_CV)}): {remedy}.",
            value=float(cv[g]), threshold=LOW_VARIATION_CV, channel=channel, geo=geo,
        )
        for g, geo in enumerate(design.geos)
        if flat[g]
    ]


def _summary(design: Design, c: int, active: np.ndarray, weeks: np.ndarray, cv) -> Finding:
    channel, T = design.channels[c], design.kpi.shape[1]
    if not active.any():
        return Finding("info", "spend_variation", f"channel {channel!r} never runs.",
                       channel=channel)
    med_weeks = float(np.median(weeks[active]))
    text = (
        f"channel {channel!r}: spend in {fmt(med_weeks)} of {T} weeks (dark "
        f"{share(1 - med_weeks / T)} of the time) in {int(active.sum())} of {active.size} geos"
    )
    value = float("nan")
    if cv is not None:
        value = float(np.nanmedian(cv[active, c]))
        text += f"; coefficient of variation after carryover {fmt(value)}"
    return Finding("info", "spend_variation", text + " (medians over geos).", value=value,
                   threshold=LOW_VARIATION_CV, channel=channel)
