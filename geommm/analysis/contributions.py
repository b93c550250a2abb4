"""Decomposition of the KPI into baseline, controls, seasonality, trend and channels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from geommm.analysis.draws import summarise
from geommm.analysis.forward import ForwardModel

GROUPINGS = ("geo", "time")


def component_draws(forward: ForwardModel) -> dict[str, tuple[str, np.ndarray]]:
    """Every component as (type, draws (D, G, T)) in KPI units, within the panel weeks."""
    data = forward.data
    out: dict[str, tuple[str, np.ndarray]] = {}
    for name, value in forward.baseline_contributions().items():
        kind = name if name in ("baseline", "seasonality", "trend", "smooth") else "control"
        out[name] = (kind, value)
    media = forward.media_contributions()
    for i, ch in enumerate(data.channels):
        out[ch] = ("media", media[..., i])
    return out


def contributions_table(
    forward: ForwardModel, by: Sequence[str] | str = ("geo", "time"), hdi_prob: float = 0.9
) -> pl.DataFrame:
    """Long Polars table: [geo,] [time,] component, component_type, mean, hdi_low, hdi_high."""
    by = [by] if isinstance(by, str) else list(by)
    bad = [b for b in by if b not in GROUPINGS]
    if bad:
        raise ValueError(f"by may hold {GROUPINGS}; got {bad}")
    data = forward.data
    frames = []
    for name, (kind, draws) in component_draws(forward).items():
        arr = draws
        if "time" not in by:
            arr = arr.sum(axis=2, keepdims=True)
        if "geo" not in by:
            arr = arr.sum(axis=1, keepdims=True)
        s = summarise(arr, hdi_prob)
        cols: dict = {}
        G, T = arr.shape[1], arr.shape[2]
        if "geo" in by:
            cols["geo"] = np.repeat(np.array(data.geos), T)
        if "time" in by:
            cols["time"] = np.tile(data.times, G)
        cols["component"] = [name] * (G * T)
        cols["component_type"] = [kind] * (G * T)
        for k in ("mean", "hdi_low", "hdi_high"):
            cols[k] = s[k].reshape(-1)
        frames.append(pl.DataFrame(cols))
    table = pl.concat(frames)
    if "time" in table.columns:
        table = table.with_columns(pl.col("time").cast(pl.Date))
    return table
