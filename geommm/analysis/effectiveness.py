"""Time-varying media effectiveness: each varying channel's multiplier per week.

The multiplier ``exp(f_c(t))`` scales the channel's response in week ``t`` (its log
has mean zero over the fitted weeks, so 1.2 means 20% more effective than the
period's typical week). National rows use the national path (the geo average on the
log scale); ``by="geo"`` adds each geo's own path for ``varying='geo'`` channels.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from geommm.analysis.draws import summarise
from geommm.analysis.forward import ForwardModel
from geommm.analysis.tables import EFFECTIVENESS, EFFECTIVENESS_BY_GEO
from geommm.errors import ArgumentError

BY = ("national", "geo")


def effectiveness_table(forward: ForwardModel, by: str = "national", hdi_prob: float = 0.9) -> pl.DataFrame:
    """Polars table channel, [geo,] time, mean, hdi_low, hdi_high for the varying channels
    (empty, same columns, when no channel varies)."""
    if by not in BY:
        raise ArgumentError(f"effectiveness(by={by!r}): by must be one of {BY}")
    columns = EFFECTIVENESS if by == "national" else EFFECTIVENESS_BY_GEO
    layout, data = forward.layout, forward.data
    if layout is None:
        schema = {c: pl.Float64 for c in columns} | {"channel": pl.String, "time": pl.Date}
        if by == "geo":
            schema["geo"] = pl.String
        return pl.DataFrame(schema={c: schema[c] for c in columns})
    idx = list(layout.varying)
    channels = np.array(data.channels)[idx]
    times = np.asarray(data.times, dtype="datetime64[D]")
    T = len(times)
    if by == "national":
        path = np.exp(np.log(forward.effect_multiplier()[..., idx]).mean(axis=1))  # (D, T, Cv)
        s = summarise(np.moveaxis(path, -1, 1), hdi_prob)  # (Cv, T)
        frame = {"channel": np.repeat(channels, T), "time": np.tile(times, len(idx))}
    else:
        path = forward.effect_multiplier()[..., idx]  # (D, G, T, Cv)
        s = summarise(np.moveaxis(path, -1, 1), hdi_prob)  # (Cv, G, T)
        G = data.n_geos
        frame = {
            "channel": np.repeat(channels, G * T),
            "geo": np.tile(np.repeat(np.array(data.geos), T), len(idx)),
            "time": np.tile(times, G * len(idx)),
        }
    frame.update({k: s[k].reshape(-1) for k in ("mean", "hdi_low", "hdi_high")})
    return pl.DataFrame(frame).select(columns)
