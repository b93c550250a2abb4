"""Which ROIs the data identify and which are the prior's: posterior vs prior, per channel and geo.

A channel whose posterior is barely narrower than its prior is *prior-driven*: its
number is the prior's, whatever its interval says, and only an experiment (or an ROI
prior stated from one) fixes it. The comparison is made in log space — the sd of log
ROI — because the model's ROI prior is LogNormal (so its prior sd is exact, not a
sampling estimate), because a multiplicative spread compares channels whose ROIs
differ tenfold on one scale, and because the posterior of a small channel is skewed
(its sd on the ROI scale is dominated by the upper tail).

contraction = 1 - posterior sd / prior sd. The prior's share of the posterior
precision is (1 - contraction)^2 (Gaussian approximation):

- ``prior-driven``: contraction < 0.5 — the prior holds more than a quarter of the
  precision (with the default prior, sd 1: a 90% interval wider than x/÷ 2.3);
- ``weak``: 0.5 <= contraction < 0.8;
- ``identified``: contraction >= 0.8 — the prior holds less than 4% (a 90% interval
  within x/÷ 1.4).

Measured (benchmarks/bench_test_design.py, docs/performance.md): channels whose
national ROI is within ~7% of the truth sit at 0.95-0.97; search (never dark: its
pauses keep a third of its spend; 90% intervals about as wide as its mean, errors up
to 31%) at 0.60-0.69, the demo's display at 0.75; the small always-on channel (its
90% interval 1.7-1.9x its mean, errors 19-61%) at 0.17-0.40.

National rows compare the model's ROI parameter ``roi`` with its prior directly.
Geo rows compare each geo's in-panel ROI (contribution over the panel / spend, the
quantity the hierarchy parameterises as national ROI x relative geo ROI) with prior
draws of the same quantity, simulated in numpy from the priors of the hierarchy.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from geommm.model.build import equal_effect_geo_roi

NATIONAL = "national"
#: Contraction below which the prior holds more than a quarter of the posterior precision.
PRIOR_DRIVEN_BELOW = 0.5
#: Contraction from which the prior holds less than 4% of the posterior precision.
IDENTIFIED_FROM = 0.8
VERDICTS = ("identified", "weak", "prior-driven")
#: Names the geo spread of the media effect has had (read whichever the PriorSet holds).
GEO_SPREAD_NAMES = ("effect_geo_sd", "roi_geo_sd")
COLUMNS = (
    "channel", "geo", "prior_sd", "posterior_sd", "contraction", "verdict", "roi_mean",
)


def verdict(contraction: float | np.ndarray) -> np.ndarray:
    """``identified`` / ``weak`` / ``prior-driven`` from the contraction (NaN -> ``unknown``)."""
    c = np.asarray(contraction, dtype="float64")
    out = np.where(c >= IDENTIFIED_FROM, VERDICTS[0], np.where(c >= PRIOR_DRIVEN_BELOW, VERDICTS[1], VERDICTS[2]))
    return np.where(np.isfinite(c), out, "unknown")


def identification(fit, prior_draws: int = 4000, seed: int = 0, geos: bool = True) -> pl.DataFrame:
    """Polars table, one row per channel (geo ``"national"``) and per geo-channel that spent:
    channel, geo, prior_sd, posterior_sd (both sd of log ROI), contraction, verdict, roi_mean.

    ``roi_mean`` is the posterior mean of the compared quantity (national: the model's
    ``roi``; geo: in-panel ROI). With one posterior draw (MAP) the verdict is ``unknown``.
    """
    rng = np.random.default_rng(seed)
    national = _national(fit, prior_draws, rng)
    if not geos or fit.data.n_geos < 2:
        return national
    return pl.concat([national, _per_geo(fit, prior_draws, rng)])


def _national(fit, n: int, rng: np.random.Generator) -> pl.DataFrame:
    post = np.asarray(fit.posterior["roi"].values, dtype="float64")
    post = post.reshape(-1, post.shape[-1])  # (draws, C)
    prior_sd = prior_log_roi_sd(fit.priors, n, rng)
    post_sd = _log_sd(post)
    return _rows(list(fit.channels), [NATIONAL] * len(fit.channels), prior_sd, post_sd, post.mean(0))


def _per_geo(fit, n: int, rng: np.random.Generator) -> pl.DataFrame:
    data = fit.data
    prior = prior_geo_log_roi(fit.priors, data, n, rng)  # (n, G, C)
    post = posterior_geo_roi(fit.forward)  # (D, G, C)
    active = equal_effect_geo_roi(data) > 0
    g_idx, c_idx = np.nonzero(active)
    prior_sd = prior.std(axis=0)[g_idx, c_idx]
    post_sd = _log_sd(post)[g_idx, c_idx]
    return _rows(
        [data.channels[c] for c in c_idx], [data.geos[g] for g in g_idx], prior_sd, post_sd,
        post.mean(axis=0)[g_idx, c_idx],
    )


def _rows(channels, geos, prior_sd, post_sd, mean) -> pl.DataFrame:
    prior_sd, post_sd = np.asarray(prior_sd, float), np.asarray(post_sd, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        contraction = np.where(post_sd > 0, 1.0 - post_sd / prior_sd, np.nan)
    return pl.DataFrame({
        "channel": channels, "geo": geos, "prior_sd": prior_sd, "posterior_sd": post_sd,
        "contraction": contraction, "verdict": verdict(contraction),
        "roi_mean": np.asarray(mean, float),
    }, schema_overrides={"channel": pl.String, "geo": pl.String})


def _log_sd(samples: np.ndarray) -> np.ndarray:
    """sd of log over the leading draw axis (draws <= 0 left out); NaN with one draw."""
    x = np.asarray(samples, dtype="float64")
    if x.shape[0] < 2:
        return np.full(x.shape[1:], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)
    return np.nanstd(logs, axis=0)


# ---------------------------------------------------------------------------- priors
def prior_log_roi_sd(priors, n: int = 4000, rng: np.random.Generator | None = None) -> np.ndarray:
    """(C,) prior sd of log national ROI: exact for a LogNormal prior, else from draws."""
    prior = priors.channel["roi"]
    if prior.dist == "LogNormal":
        return np.broadcast_to(np.asarray(prior.params["sigma"], float), (len(priors.channels),)).copy()
    return _log_sd(prior.draw(n, rng or np.random.default_rng(0)))


def geo_spread_prior(priors):
    """The prior of the geo spread of the log media effect, under its current or former name."""
    for name in GEO_SPREAD_NAMES:
        if name in priors.channel:
            return priors.channel[name]
    raise KeyError(f"the priors hold none of {GEO_SPREAD_NAMES}")


def prior_geo_log_roi(priors, data, n: int = 4000, rng: np.random.Generator | None = None) -> np.ndarray:
    """(n, G, C) prior draws of log in-panel geo ROI, built as the model builds it.

    national ROI ~ its prior; each channel's log effect deviations ~ zero-sum Normal
    over geos with the geo-spread prior's sd (partial centring does not change this
    distribution); relative geo ROI = deviation x equal-effect ROI, normalised to a
    spend-weighted mean of 1. Cells where the channel never ran are NaN.
    """
    rng = rng or np.random.default_rng(0)
    G, C = data.n_geos, data.n_channels
    roi = np.broadcast_to(priors.channel["roi"].draw(n, rng), (n, C))
    sd = np.broadcast_to(geo_spread_prior(priors).draw(n, rng), (n, C)) if G > 1 else np.zeros((n, C))
    z = rng.standard_normal((n, G, C))
    z -= z.mean(axis=1, keepdims=True)
    eer = equal_effect_geo_roi(data)
    spend = data.spend.sum(axis=1)
    share = spend / np.where(spend.sum(axis=0) > 0, spend.sum(axis=0), 1.0)
    rel = np.exp(sd[:, None, :] * z) * eer
    rel = rel / (share * rel).sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(eer > 0, np.log(rel * roi[:, None, :]), np.nan)


def posterior_geo_roi(forward) -> np.ndarray:
    """(D, G, C) in-panel ROI per geo: media contribution over the panel weeks / spend."""
    data = forward.data
    spend = data.spend.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return forward.media_kpi() / np.where(spend > 0, spend, np.nan)


# -------------------------------------------------------------------------- in words
def messages(table: pl.DataFrame) -> list[str]:
    """Plain sentences for the national rows that are not identified."""
    out = []
    rows = table.filter(pl.col("geo") == NATIONAL)
    for r in rows.iter_rows(named=True):
        c = r["channel"]
        if r["verdict"] == "prior-driven":
            out.append(
                f"{c}: ROI is prior-driven (posterior sd of log ROI {r['posterior_sd']:.2f} vs prior "
                f"{r['prior_sd']:.2f}, {r['contraction']:.0%} narrower): the panel cannot tell its "
                f"ROI, so the estimate is the prior's. A lift test fixes it "
                f"(fit.design_lift_tests(channels=[{c!r}])), or an ROI prior from past experiments."
            )
        elif r["verdict"] == "weak":
            out.append(
                f"{c}: ROI is weakly identified (posterior {r['contraction']:.0%} narrower than the "
                "prior); treat it with care, a lift test would sharpen it."
            )
    return out


def with_messages(diagnostics, fit):
    """``diagnostics`` with the identification sentences added (NUTS fits only; verdict unchanged)."""
    if getattr(fit.settings, "method", "nuts") != "nuts":
        return diagnostics
    diagnostics.messages.extend(messages(identification(fit, geos=False)))
    return diagnostics
