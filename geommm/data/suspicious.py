"""Warn about data the model accepts but that will likely mislead it.

These are not errors: each can be right (a one-week sponsorship, a real sales
spike), so the fit goes ahead, but the analyst should look before trusting it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np

from geommm.data.panel import Panel
from geommm.errors import DataWarning

#: A KPI value this many times its geo's median is called an outlier.
OUTLIER_RATIO = 10.0
_SHOWN = 3


def warn_suspicious(
    panel: Panel,
    kpi: str | None,
    spend: Mapping[str, str],
    max_lag: Mapping[str, int] | None = None,
) -> None:
    """Warn (``DataWarning``) about carryover longer than the panel, channels that spend
    in a single week, and KPI values ``OUTLIER_RATIO`` times their geo's median.

    ``spend`` and ``max_lag`` map each channel to its spend column and carryover weeks.
    """
    source = panel.source
    for channel, lag in (max_lag or {}).items():
        if lag >= panel.n_times:
            _warn(
                f"{source}: channel {channel!r} has max_lag={lag} weeks of carryover but the "
                f"panel has only {panel.n_times} weeks; the carryover cannot be learned from "
                "these data (lower max_lag in media(...))"
            )
    for channel, column in spend.items():
        weeks = np.nonzero((panel.values([column])[:, :, 0] > 0).any(axis=0))[0]
        if len(weeks) == 1:
            _warn(
                f"{source}: channel {channel!r} spends in a single week "
                f"({panel.times[weeks[0]]}, column {column!r}); one burst cannot separate its "
                "effect from anything else that happened that week, so its ROI rests on the prior"
            )
    if kpi is not None:
        _warn_outliers(panel, kpi)


def _warn_outliers(panel: Panel, kpi: str) -> None:
    values = panel.values([kpi])[:, :, 0]
    median = np.median(values, axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        far = (np.abs(values) > OUTLIER_RATIO * np.abs(median)) & (median != 0)
    if not far.any():
        return
    geos, weeks = np.nonzero(far)
    cells = [
        f"({panel.geos[g]}, {panel.times[t]}) = {values[g, t]:g}, median {median[g, 0]:g}"
        for g, t in zip(geos[:_SHOWN], weeks[:_SHOWN])
    ]
    more = f" and {len(geos) - _SHOWN} more" if len(geos) > _SHOWN else ""
    _warn(
        f"{panel.source}: KPI column {kpi!r} has {len(geos)} value(s) more than "
        f"{OUTLIER_RATIO:g}x their geo's median: {'; '.join(cells)}{more}. Check for a data "
        "error (units, a misplaced digit); a real spike drags every estimate towards it"
    )


def _warn(message: str) -> None:
    warnings.warn(message, DataWarning, stacklevel=4)
