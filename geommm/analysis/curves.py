"""Response curves: expected incremental KPI as each channel's observed plan is scaled.

The curves come from :meth:`ForwardModel.plan_response`, the same object the
optimiser and the target-ROI search use, so every curve agrees with ROI (its
height at 1) and marginal ROI (its slope at 1) by construction. The carryover
tail after the last planned week counts, exactly as in ROI.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from geommm.analysis.draws import draw_chunks, summarise
from geommm.analysis.forward import as_forward
from geommm.errors import DataError

from geommm.analysis.tables import NATIONAL  # noqa: E402  (re-exported for callers)
#: Multipliers of the observed plan on the default response-curve grid.
DEFAULT_MULTIPLIERS = np.linspace(0.0, 2.0, 21)


def response_curves(
    fit,
    geo: str | Sequence[str] | None = None,
    channel: str | Sequence[str] | None = None,
    spend_grid: Sequence[float] | np.ndarray | None = None,
    hdi_prob: float = 0.9,
    effectiveness: str = "latest",
) -> pl.DataFrame:
    """Expected incremental KPI over the analysed period against the period's total spend.

    Each point scales the observed weekly flighting of one channel by a multiplier
    (``spend_grid``: multipliers of the observed spend, default 0, 0.1, ..., 2),
    carryover tail included. Rows per geo and a ``"national"`` row per channel
    (the sum over geos at the same multiplier). Columns: geo, channel,
    spend_multiplier, spend, incremental_kpi_mean, incremental_kpi_hdi_low,
    incremental_kpi_hdi_high. Geo-channel cells that never spent are left out.
    With time-varying channels, a channel's curve uses one ``effectiveness`` for the
    period ("latest": its last fitted week's multiplier, what a plan would face;
    "average": the mean over the fitted weeks), and an ``effectiveness`` column says
    which (static channels: "static").
    """
    forward = as_forward(fit)
    data = forward.data
    multipliers = _multipliers(spend_grid)
    geos = _pick(geo, (*data.geos, NATIONAL), "geo")
    channels = _pick(channel, data.channels, "channel")
    ch_idx = [data.channels.index(c) for c in channels]
    # (M, D, G, C) incremental KPI, draws in memory-bounded chunks
    cells = data.n_geos * (data.n_times + data.max_lag - 1) * data.n_channels
    parts = []
    for chunk in draw_chunks(forward.draws, cells):
        response = forward.with_draws(chunk).plan_response(effectiveness=effectiveness)
        parts.append(np.stack([response.curve(m) for m in multipliers]))
    kpi = np.concatenate(parts, axis=1)[..., ch_idx]
    spend = data.spend.sum(axis=1)[:, ch_idx]  # (G, C') observed spend of the period
    frames = []
    for label in geos:
        if label == NATIONAL:
            draws, base = kpi.sum(axis=2), spend.sum(axis=0)
        else:
            g = data.geos.index(label)
            draws, base = kpi[:, :, g, :], spend[g]
        keep = [i for i, s in enumerate(base) if s > 0]
        if not keep:
            continue
        s = summarise(np.moveaxis(draws[..., keep], 1, 0), hdi_prob)  # (M, C')
        M, K = len(multipliers), len(keep)
        frames.append(
            pl.DataFrame(
                {
                    "geo": [label] * (M * K),
                    "channel": np.tile(np.array(channels)[keep], M),
                    "spend_multiplier": np.repeat(multipliers, K),
                    "spend": np.outer(multipliers, base[keep]).reshape(-1),
                    "incremental_kpi_mean": s["mean"].reshape(-1),
                    "incremental_kpi_hdi_low": s["hdi_low"].reshape(-1),
                    "incremental_kpi_hdi_high": s["hdi_high"].reshape(-1),
                }
            )
        )
    if not frames:
        raise DataError(
            f"no spend for channel(s) {channels} in geo(s) {geos}: there is no curve to draw"
        )
    out = pl.concat(frames).sort("geo", "channel", "spend_multiplier")
    if not forward.varying_channels:
        return out
    varying = list(forward.varying_channels)
    return out.with_columns(
        effectiveness=pl.when(pl.col("channel").is_in(varying)).then(pl.lit(effectiveness)).otherwise(pl.lit("static"))
    )


def _multipliers(spend_grid) -> np.ndarray:
    if spend_grid is None:
        return DEFAULT_MULTIPLIERS.copy()
    grid = np.unique(np.asarray(spend_grid, dtype="float64").ravel())
    if grid.size == 0 or not np.all(np.isfinite(grid)) or grid.min() < 0:
        raise DataError(
            f"spend_grid must hold finite, non-negative multipliers of the observed spend "
            f"(1 = as spent), got {list(np.asarray(spend_grid).ravel())[:10]}"
        )
    return grid


def _pick(value, known: Sequence[str], what: str) -> list[str]:
    """The requested names (all when None), checked against ``known``."""
    if value is None:
        return list(known)
    names = [value] if isinstance(value, str) else list(value)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DataError(f"unknown {what}(s) {unknown}; the fit has {list(known)}")
    return names
