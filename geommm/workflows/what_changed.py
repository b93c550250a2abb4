"""What changed between a fit and its refresh: ROI, marginal ROI, and the old forecast.

Two questions a measurement team asks after every refresh: did a channel's return
move (more than noise), and did the old model see the new weeks coming? The first
compares ROI and marginal ROI draws of the two fits, treated as independent
posteriors (a conservative choice: a sequential refresh's posterior is correlated with
its parent's, which would make real moves look *more* certain). The second scores the
previous fit's forecast of the new weeks against what happened: a drift alarm when
far fewer weeks than nominal fall inside its 90% band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from geommm.analysis.roi import roi_samples
from geommm.errors import RefreshError

#: Share of geo-weeks inside the 90% band below which the forecast check raises an alarm.
COVERAGE_ALARM = 0.75
#: Posterior probability of a move above which a channel is flagged.
FLAG_PROBABILITY = 0.9


@dataclass(frozen=True)
class WhatChanged:
    """``roi``: one row per (metric, geo, channel) with before/after means and the
    probability of a move beyond ``threshold``; ``forecast``: the previous fit's forecast
    of the new weeks per geo and national; ``summary``: one plain-language line."""

    roi: pl.DataFrame
    forecast: pl.DataFrame
    summary: str
    threshold: float


def what_changed(previous, current, threshold: float = 0.1, hdi_prob: float = 0.9, seed: int = 0) -> WhatChanged:
    """Compare ``current`` (a refresh) with ``previous`` (its parent, or any earlier fit)."""
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be a relative change in (0, 1), got {threshold}")
    if tuple(previous.channels) != tuple(current.channels):
        raise RefreshError(f"the fits have different channels: {previous.channels} vs {current.channels}")
    rng = np.random.default_rng(seed)
    rows = []
    for metric, step in (("roi", None), ("marginal_roi", 0.01)):
        for by in ("channel", "geo"):
            before, _ = roi_samples(previous.forward, by=by, step=step)
            after, spend = roi_samples(current.forward, by=by, step=step)
            rows.append(_compare(metric, by, before, after, spend, current, threshold, rng))
    table = pl.concat(rows, how="vertical")
    forecast = forecast_check(previous, current, hdi_prob)
    return WhatChanged(table, forecast, _summary(table, forecast, threshold), threshold)


def _compare(metric, by, before, after, spend, fit, threshold, rng) -> pl.DataFrame:
    n = min(before.shape[0], after.shape[0])
    b = before[rng.permutation(before.shape[0])[:n]]
    a = after[rng.permutation(after.shape[0])[:n]]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = a / b - 1.0
    channels = list(fit.channels)
    if by == "channel":
        geos, chans, keep = np.array(["national"] * len(channels)), np.array(channels), np.ones(len(channels), bool)
    else:
        G, C = spend.shape
        geos, chans = np.repeat(np.array(fit.data.geos), C), np.tile(np.array(channels), G)
        keep = spend.reshape(-1) > 0
    flat = lambda x: x.reshape(x.shape[0], -1)[:, keep]  # noqa: E731
    ratio, a, b = flat(ratio), flat(a), flat(b)
    down = np.nanmean(ratio < -threshold, axis=0)
    up = np.nanmean(ratio > threshold, axis=0)
    return pl.DataFrame({
        "metric": [metric] * int(keep.sum()),
        "geo": geos[keep], "channel": chans[keep],
        "before_mean": np.nanmean(b, axis=0), "after_mean": np.nanmean(a, axis=0),
        "change_median": np.nanmedian(ratio, axis=0),
        "prob_down": down, "prob_up": up,
        "flag": np.where(down > FLAG_PROBABILITY, "down", np.where(up > FLAG_PROBABILITY, "up", "")),
    })


def forecast_check(previous, current, hdi_prob: float = 0.9) -> pl.DataFrame:
    """The previous fit's forecast of the weeks ``current`` added: geo (and "national"),
    n_weeks, mape, coverage (share of geo-weeks inside the ``hdi_prob`` band), alarm."""
    last = previous.panel.times[-1]
    new_weeks = current.panel.frame.filter(pl.col(current.panel.time_col) > pl.lit(last).cast(pl.Date))
    if new_weeks.height == 0:
        raise RefreshError(f"the current fit has no week after the previous fit's last week {last}")
    pred = previous.predict(new_weeks, hdi_prob=hdi_prob)
    pred = pred.with_columns(
        (((pl.col("actual") - pl.col("mean")) / pl.col("actual")).abs()).alias("ape"),
        ((pl.col("actual") >= pl.col("hdi_low")) & (pl.col("actual") <= pl.col("hdi_high"))).alias("inside"),
    )
    per_geo = pred.group_by("geo").agg(
        pl.len().alias("n_weeks"), pl.col("ape").mean().alias("mape"), pl.col("inside").mean().alias("coverage")
    ).sort("geo")
    national = pred.select(
        pl.lit("national").alias("geo"), pl.len().alias("n_weeks"),
        pl.col("ape").mean().alias("mape"), pl.col("inside").mean().alias("coverage"),
    )
    out = pl.concat([national, per_geo.with_columns(pl.col("n_weeks").cast(national["n_weeks"].dtype))])
    return out.with_columns((pl.col("coverage") < COVERAGE_ALARM * hdi_prob / 0.9).alias("alarm"))


def _summary(table: pl.DataFrame, forecast: pl.DataFrame, threshold: float) -> str:
    nat = table.filter((pl.col("metric") == "roi") & (pl.col("geo") == "national"))
    moved = [
        f"{r['channel']} ROI {'fell' if r['flag'] == 'down' else 'rose'} "
        f"{abs(r['change_median']):.0%} (p={max(r['prob_down'], r['prob_up']):.2f})"
        for r in nat.iter_rows(named=True) if r["flag"]
    ]
    f = forecast.row(0, named=True)
    parts = [("; ".join(moved)) if moved else f"no channel's ROI moved by more than {threshold:.0%} with confidence"]
    parts.append(
        f"the previous forecast of the {f['n_weeks'] // max(forecast.height - 1, 1)} new weeks missed by "
        f"{f['mape']:.1%} (MAPE) with {f['coverage']:.0%} of geo-weeks inside its band"
        + (" — DRIFT ALARM: the market no longer behaves as the previous model expects" if f["alarm"] else "")
    )
    return ". ".join(parts) + "."
