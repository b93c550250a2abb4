"""What changed between a fit and its refresh: ROI, marginal ROI, and the old forecast.

Questions a measurement team asks after every refresh: did a channel's return move
(more than noise), did the old model see the new weeks coming, and does the budget
advice change? ``roi`` compares ROI and marginal ROI draws of the two fits over
their own weeks, treated as independent posteriors (conservative: a sequential
refresh's posterior is correlated with its parent's). A model with constant effects
averages a recent change over all weeks, so ``shift`` (both refresh methods) reads the
per-channel ``effect_shift`` of the new weeks: P(ROI in the new weeks fell by more
than ``threshold`` vs before) = P(effect_shift < log(1 - threshold)) — the channel
drift signal. ``forecast`` scores the previous fit's forecast of the new weeks (MAPE,
coverage of its band, and a one-sided binomial p-value of coverage below nominal).
``budget`` runs the default ``optimize_budget`` on both fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from geommm.analysis.roi import roi_samples
from geommm.errors import RefreshError

#: One-sided binomial p-value of "coverage below nominal" under which the forecast
#: check raises an alarm (geo-weeks are treated as independent, which they are not
#: quite: a strict level keeps the false-alarm rate down).
COVERAGE_ALARM_P = 0.01
#: Posterior probability of a move above which a channel is flagged.
FLAG_PROBABILITY = 0.9


@dataclass(frozen=True)
class WhatChanged:
    """``roi``: one row per (metric, geo, channel) with before/after means and the
    probability of a move beyond ``threshold``; ``shift``: per channel, the new weeks'
    change of effectiveness (empty for a ``full`` refresh, which has none);
    ``forecast``: the previous fit's forecast of the new weeks per geo and national;
    ``budget``: per channel current spend and the recommended change before and after
    (None when not computed); ``summary``: one plain-language line, decision first."""

    roi: pl.DataFrame
    forecast: pl.DataFrame
    summary: str
    threshold: float
    shift: pl.DataFrame | None = None
    budget: pl.DataFrame | None = None


def what_changed(
    previous, current, threshold: float = 0.1, hdi_prob: float = 0.9, seed: int = 0, budget: bool = True
) -> WhatChanged:
    """Compare ``current`` (a refresh) with ``previous`` (its parent, or any earlier fit).
    ``budget=False`` skips the two budget optimisations."""
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
    shift = effect_shift_table(current, threshold)
    plans = budget_change(previous, current) if budget else None
    return WhatChanged(table, forecast, _summary(table, forecast, shift, plans, threshold), threshold, shift, plans)


def effect_shift_table(fit, threshold: float = 0.1) -> pl.DataFrame:
    """Per channel: the new weeks' effectiveness change ``exp(effect_shift) - 1`` (median,
    90% interval) and P(it fell / rose by more than ``threshold``), with a flag at 0.9.
    Empty when the fit has no ``effect_shift`` (a first fit, or ``effect_shift_sd=0``)."""
    cols = {"channel": pl.String, "change_median": pl.Float64, "change_low": pl.Float64,
            "change_high": pl.Float64, "prob_down": pl.Float64, "prob_up": pl.Float64, "flag": pl.String}
    post = fit.posterior
    if "effect_shift" not in post:
        return pl.DataFrame(schema=cols)
    d = np.asarray(post["effect_shift"].values, dtype="float64").reshape(-1, len(fit.channels))
    down = (d < np.log1p(-threshold)).mean(axis=0)
    up = (d > np.log1p(threshold)).mean(axis=0)
    q = np.expm1(np.quantile(d, [0.5, 0.05, 0.95], axis=0))
    return pl.DataFrame({
        "channel": list(fit.channels), "change_median": q[0], "change_low": q[1], "change_high": q[2],
        "prob_down": down, "prob_up": up,
        "flag": np.where(down > FLAG_PROBABILITY, "down", np.where(up > FLAG_PROBABILITY, "up", "")),
    }, schema=cols)


def budget_change(previous, current) -> pl.DataFrame:
    """The default budget recommendation (``optimize_budget()``: the same total, each
    fit's own weeks) of both fits, per channel: current spend share and the recommended
    change (a fraction of current spend) before and after."""
    before = previous.optimize_budget().table.select("channel", pl.col("change_pct").alias("before_change"))
    after = current.optimize_budget().table
    share = (pl.col("current_spend") / pl.col("current_spend").sum()).alias("current_share")
    return (
        after.select("channel", "current_spend", share, pl.col("change_pct").alias("after_change"))
        .join(before, on="channel", how="left")
        .select("channel", "current_spend", "current_share", "before_change", "after_change")
    )


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
    from scipy.stats import binom

    inside = np.rint(out["coverage"].to_numpy() * out["n_weeks"].to_numpy())
    p = binom.cdf(inside, out["n_weeks"].to_numpy(), hdi_prob)
    return out.with_columns(
        pl.lit(hdi_prob).alias("nominal"), pl.Series("coverage_p_value", p),
        pl.Series("alarm", p < COVERAGE_ALARM_P),
    )


def _summary(table, forecast, shift, plans, threshold: float) -> str:
    """Decision first, then the evidence: channel drift, the old forecast, ROI, budget."""
    f = forecast.row(0, named=True)
    weeks = f["n_weeks"] // max(forecast.height - 1, 1)
    drift = [r for r in shift.iter_rows(named=True) if r["flag"]] if shift is not None else []
    nat = table.filter((pl.col("metric") == "roi") & (pl.col("geo") == "national"))
    moved = [r for r in nat.iter_rows(named=True) if r["flag"]]
    if drift or f["alarm"]:
        names = ", ".join(r["channel"] for r in drift) or "the model as a whole"
        decision = f"Decision: review {names} before acting on the old plan — the {weeks} new weeks do not behave as the last fit expected"
    elif moved or _advice_moved(plans):
        decision = "Decision: update the plan to the refreshed fit's advice; the market behaves as the last fit expected"
    else:
        decision = "Decision: keep the current plan; nothing moved beyond noise"
    parts = [decision]
    parts += [
        f"{r['channel']}'s effectiveness in the new weeks {'fell' if r['flag'] == 'down' else 'rose'} "
        f"{abs(r['change_median']):.0%} (90% interval {r['change_low']:+.0%} to {r['change_high']:+.0%}; "
        f"P(change beyond {threshold:.0%}) = {max(r['prob_down'], r['prob_up']):.2f})"
        for r in drift
    ]
    parts.append(
        f"the previous forecast of the {weeks} new weeks missed by {f['mape']:.1%} (MAPE) with "
        f"{f['coverage']:.0%} of geo-weeks inside its {f['nominal']:.0%} band"
        + (f" (below nominal, p={f['coverage_p_value']:.3f}: drift alarm)" if f["alarm"] else "")
    )
    parts.append(
        "; ".join(
            f"{r['channel']} ROI over all weeks {'fell' if r['flag'] == 'down' else 'rose'} {abs(r['change_median']):.0%}"
            for r in moved
        ) or f"no channel's all-weeks ROI moved by more than {threshold:.0%} with confidence"
    )
    if plans is not None and plans.height:
        parts.append("budget advice (change vs current spend, before -> after): " + ", ".join(
            f"{r['channel']} {_pct(r['before_change'])} -> {_pct(r['after_change'])}"
            for r in plans.iter_rows(named=True)
        ))
    return ". ".join(p[:1].upper() + p[1:] for p in parts) + "."


#: A channel's recommended change moving by more than this share of its spend counts
#: as a changed budget recommendation in the summary's decision.
ADVICE_MOVE = 0.1


def _advice_moved(plans) -> bool:
    if plans is None or not plans.height:
        return False
    moved = (plans["after_change"].fill_null(0.0) - plans["before_change"].fill_null(0.0)).abs()
    return bool((moved > ADVICE_MOVE).any())


def _pct(x) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:+.0%}"
