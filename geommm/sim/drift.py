"""A channel's effectiveness over the weeks: a smooth drift (``simulate(effect_drift=...)``)
or one step change (``simulate(effect_change=...)``, :func:`step_factor`, not centred).

The true multiplier path is kept in the truth (``SimTruth.effect``); its log is
centred over the panel's weeks, the same convention as the model's path, so the two
compare directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

_KEYS = ("amplitude", "period", "phase")


def drift_factor(drift: Mapping[str, Any], channels: list[str], n_weeks: int) -> np.ndarray:
    """(week, channel) multiplier: 1 for channels without drift, ``exp(centred log path)``
    for the others. A spec is ``{"amplitude", "period"[, "phase"]}`` (log-scale sine) or a
    callable of the week index array returning positive multipliers."""
    out = np.ones((n_weeks, len(channels)))
    weeks = np.arange(n_weeks, dtype="float64")
    for name, spec in drift.items():
        if name not in channels:
            raise ValueError(f"effect_drift names channel {name!r}; channels are {channels}")
        if callable(spec):
            path = np.asarray(spec(weeks), dtype="float64")
            if path.shape != (n_weeks,) or not np.all(np.isfinite(path)) or np.any(path <= 0):
                raise ValueError(
                    f"effect_drift[{name!r}]: the callable must return {n_weeks} positive finite "
                    "multipliers, one per week"
                )
            log = np.log(path)
        elif isinstance(spec, Mapping) and set(spec) <= set(_KEYS) and {"amplitude", "period"} <= set(spec):
            amplitude, period = float(spec["amplitude"]), float(spec["period"])
            if not (amplitude >= 0 and period > 1):
                raise ValueError(f"effect_drift[{name!r}] = {spec!r}: need amplitude >= 0 and period > 1 week")
            log = amplitude * np.sin(2 * np.pi * weeks / period + float(spec.get("phase", 0.0)))
        else:
            raise ValueError(
                f"effect_drift[{name!r}] = {spec!r}: give {{'amplitude': 0.3, 'period': 104}} "
                "(optional 'phase') or a callable of the week index"
            )
        out[:, channels.index(name)] = np.exp(log - log.mean())
    return out


def step_factor(change: dict, channels: list[str], n_weeks: int) -> np.ndarray:
    """(week, channel) response multiplier: 1, then ``factor`` from ``week`` on."""
    out = np.ones((n_weeks, len(channels)))
    for name, spec in change.items():
        if name not in channels:
            raise ValueError(f"effect_change names channel {name!r}; channels are {channels}")
        week, factor = spec
        if not (0 <= int(week) < n_weeks and float(factor) >= 0):
            raise ValueError(f"effect_change[{name!r}] = {spec!r}: need 0 <= week < {n_weeks}, factor >= 0")
        out[int(week):, channels.index(name)] = float(factor)
    return out
