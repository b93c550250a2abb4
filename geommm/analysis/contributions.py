"""Decomposition of the KPI into baseline, controls, seasonality, trend and channels."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np
import polars as pl

from geommm.analysis import draws as draws_mod
from geommm.analysis.draws import summarise
from geommm.analysis.forward import ForwardModel

GROUPINGS = ("geo", "time")


def component_draws(forward: ForwardModel) -> dict[str, tuple[str, np.ndarray]]:
    """Every component as (type, draws (D, G, T)) in KPI units, within the panel weeks.

    Holds the whole media array; :func:`contributions_table` streams it instead.
    """
    out = _baseline_draws(forward)
    media = forward.media_contributions()
    for i, ch in enumerate(forward.data.channels):
        out[ch] = ("media", media[..., i])
    return out


def _baseline_draws(forward: ForwardModel) -> dict[str, tuple[str, np.ndarray]]:
    out: dict[str, tuple[str, np.ndarray]] = {}
    kinds = forward.spec.nonmedia_kinds  # organic(...) and treatment(...) components
    for name, value in forward.baseline_contributions().items():
        kind = name if name in ("baseline", "seasonality", "trend", "smooth") else kinds.get(name, "control")
        out[name] = (kind, value)
    return out


def _reduce(arr: np.ndarray, by: list[str]) -> np.ndarray:
    """(D, G, T) -> summed over the weeks and/or geos that ``by`` does not keep."""
    if "time" not in by:
        arr = arr.sum(axis=2, keepdims=True)
    if "geo" not in by:
        arr = arr.sum(axis=1, keepdims=True)
    return arr


def media_draws(forward: ForwardModel, by: list[str]) -> Iterator[tuple[str, np.ndarray]]:
    """(channel, reduced draws (D, G', T')) one channel at a time, memory-bounded.

    Draws are computed in chunks; when the kept cells of all channels would not fit
    :data:`~geommm.analysis.draws.CHUNK_CELLS`, channels go in blocks, each block
    recomputing the media (time for memory)."""
    data = forward.data
    kept = forward.n_draws * (data.n_geos if "geo" in by else 1) * (data.n_times if "time" in by else 1)
    per_block = max(1, draws_mod.CHUNK_CELLS // max(kept, 1))
    channels = list(range(data.n_channels))
    for start in range(0, len(channels), per_block):
        block = channels[start : start + per_block]
        parts: list[list[np.ndarray]] = [[] for _ in block]
        for fw in forward.chunks(forward.cells_per_draw()):
            media = fw.media_contributions()
            for j, i in enumerate(block):
                parts[j].append(_reduce(media[..., i], by))
            del media
        for j, i in enumerate(block):
            yield data.channels[i], parts[j][0] if len(parts[j]) == 1 else np.concatenate(parts[j])


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
    components = [(name, kind, _reduce(draws, by)) for name, (kind, draws) in _baseline_draws(forward).items()]
    rest = forward.link.interaction(forward)  # counterfactuals of a log KPI do not add up: shown
    if rest is not None:
        components.append(("interaction", "interaction", _reduce(rest, by)))
    streamed = ((name, "media", arr) for name, arr in media_draws(forward, by))
    for name, kind, arr in itertools.chain(components, streamed):  # one block of channels in memory
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
