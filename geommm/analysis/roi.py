"""ROI and marginal ROI per geo and nationally, as posterior distributions.

ROI (geo, channel) = (KPI with the channel's spend as observed - KPI with it set to
zero over the analysed period, carryover after the last week included) / spend.
National ROI sums numerators and spend over geos before dividing. Marginal ROI is
the same for a small relative increase of spend (default 1%). With ``synergy()`` a
channel's ROI includes half of each of its interactions and its marginal ROI the
whole interaction's change (``analysis/synergy.py``).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from geommm.analysis.draws import summarise
from geommm.analysis.forward import ForwardModel
from geommm.analysis.synergy import marginal_kpi

BY = ("geo", "channel")


def incremental_kpi(forward: ForwardModel, multiplier: float | np.ndarray = 1.0) -> np.ndarray:
    """(D, G, C) KPI due to each channel at ``multiplier`` x observed media, tail included.

    Channels are additive, so zeroing one channel removes exactly its own contribution.
    """
    factor = np.asarray(multiplier, dtype="float64")  # scalar or (C,)

    def compute() -> np.ndarray:  # a log KPI: each channel at factor, the others as observed
        return forward.link.incremental_kpi(forward, factor)

    if factor.ndim:
        return compute()
    return forward.remember(("incremental_kpi", float(factor)), compute)  # ROI and marginal ROI share it


def roi_samples(forward: ForwardModel, by: str = "geo", step: float | None = None):
    """Draws of ROI (``step=None``) or marginal ROI (relative ``step``) and the spend."""
    if by not in BY:
        raise ValueError(f"by must be one of {BY}, got {by!r}")
    spend = forward.data.spend.sum(axis=1)  # (G, C)
    base = incremental_kpi(forward, 1.0)
    if step is None:
        num, denom = base, spend
    else:
        num, denom = incremental_kpi(forward, 1.0 + step) - base, spend * step
        if forward.spec.synergy:  # the total KPI's change, channel by channel (analysis/synergy.py)
            num = marginal_kpi(forward, step, base)
    if by == "channel":
        num, denom, spend = num.sum(axis=1), denom.sum(axis=0), spend.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        samples = num / np.where(denom > 0, denom, np.nan)
    return samples, spend


def roi_table(forward: ForwardModel, by: str = "geo", hdi_prob: float = 0.9, step: float | None = None) -> pl.DataFrame:
    """Polars table: [geo,] channel, spend, roi_mean, roi_median, roi_hdi_low, roi_hdi_high.

    Geo-channel cells without spend have no ROI and are left out (listed in no row).
    """
    samples, spend = roi_samples(forward, by=by, step=step)
    channels = list(forward.data.channels)
    if by == "channel":
        s = summarise(samples, hdi_prob)
        return pl.DataFrame(
            {
                "channel": channels,
                "spend": spend,
                **{f"roi_{k}": v for k, v in s.items() if k != "median"},
                "roi_median": s["median"],
            }
        ).select("channel", "spend", "roi_mean", "roi_median", "roi_hdi_low", "roi_hdi_high")
    G, C = spend.shape
    keep = spend.reshape(-1) > 0
    flat = samples.reshape(samples.shape[0], -1)[:, keep]
    s = summarise(flat, hdi_prob)
    geos = np.repeat(np.array(forward.data.geos), C)[keep]
    chans = np.tile(np.array(channels), G)[keep]
    return pl.DataFrame(
        {
            "geo": geos,
            "channel": chans,
            "spend": spend.reshape(-1)[keep],
            "roi_mean": s["mean"],
            "roi_median": s["median"],
            "roi_hdi_low": s["hdi_low"],
            "roi_hdi_high": s["hdi_high"],
        }
    )
