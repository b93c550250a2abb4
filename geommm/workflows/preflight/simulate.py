"""Identifiability on the user's own design: plant known effects, refit, see what comes back.

For each of a few simulated markets (``truth.py``: the user's spend, controls and
calendar, effects drawn from the priors) the model is refitted with the fast fit
and each channel's ROI is held against the truth. Per channel (and per geo and
channel) the table gives the bias (geometric mean of est / true, - 1), the error
ratio, the width ratio, whether the fast fit's intervals are calibrated and the
score and verdict that follow (``scoring.py`` says how and why).

A pair of channels is as identified as its least identified combination: its width
ratio is ``scoring.pair_contraction`` (the posterior sd over the prior's along the
direction of the two log ROIs that the data narrow least; a strictly collinear pair
has its split there), its error ratio the larger of the two channels', and it is
calibrated when both channels are.

Verdict from the score: **identified** below ``IDENTIFIED``, **not identified** at
or above ``NOT_IDENTIFIED``, **weak** in between. This is simulation-based
calibration on the user's own data; with a handful of markets it is a first look,
not a guarantee (``benchmarks/bench_preflight.py`` holds the verdicts against full
NUTS fits).
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from geommm.analysis.roi import roi_samples
from geommm.errors import FitError
from geommm.workflows.preflight.design import Design
from geommm.workflows.preflight.findings import Finding, fmt
from geommm.workflows.preflight.scoring import (
    IDENTIFIED, NOT_IDENTIFIED, market_scores, pair_width, score_of, verdict,
)
from geommm.workflows.preflight.truth import TrueMarkets, simulate_markets

#: The fit every simulated market gets: the Laplace first look (mode + curvature on
#: JAX), which gives the width ratio as well as the error ratio. All markets share
#: one compile (``geommm.mmm.fit_alike``): only their KPI, lifts and the scales and
#: priors read from them differ. 500 draws per market are plenty for a mean and an
#: sd of log ROI.
FAST_FIT = {"method": "laplace", "draws": 250, "chains": 2}
#: Geo-level centring of the markets' fast fits: 1, non-centred, whatever the user's
#: data choose. Each geo's mean scaled KPI is ~1 (the KPI is scaled by it), so the geo
#: levels often differ by no more than their noise, and centred the joint density then
#: has no mode: it grows without bound as the level spread shrinks. On the always-on
#: scenario's seed 0 (centred by the user's data) the mode search stopped short in all
#: three markets (curvatures down to -47 at the "mode", one level sd at exp(-16.8)),
#: and the regularised Laplace gave email 0.67-1.08 of the prior's width; non-centred,
#: all three converged (0.41-0.67; NUTS on the panel itself: 0.57). The log KPI's fast
#: fit is non-centred for the same reason (``model/log_kpi.optimisation_level_centring``).
MARKET_LEVELS = 1.0
#: Columns of the detailed identification table.
COLUMNS = ("level", "channel", "geo", "n_sims", "true_roi_median", "bias", "error_ratio",
           "width_ratio", "calibrated", "score", "verdict", "identification_seconds")


def fast_fit(models: list, seed: int) -> list:
    """Fit the simulated markets with the fast first look, one compile for all (quietly:
    these are not the user's numbers, so convergence notes would only confuse)."""
    from geommm.mmm import fit_alike

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_alike(models, seed=seed, **FAST_FIT)


class _MarketFits:
    """The fast fits of all simulated markets, made together on first use (one compile)."""

    def __init__(self, design: Design, markets: TrueMarkets, prior_overrides, seed: int):
        self.args = (design, markets, prior_overrides, seed)
        self.fits: list | None = None

    def __getitem__(self, s: int):
        if self.fits is None:
            design, markets, prior_overrides, seed = self.args
            models = [_market_model(design, markets, i, prior_overrides)
                      for i in range(markets.kpi.shape[0])]
            # the geo levels non-centred in every market (MARKET_LEVELS): one graph, one
            # compile, and a mode that exists whatever the level spread
            for m in models:
                m.level_centring = MARKET_LEVELS
            self.fits = fast_fit(models, seed)
        return self.fits[s]


def _market_model(design: Design, markets: TrueMarkets, s: int, prior_overrides):
    """The user's model on simulated market ``s`` (its KPI and lifts)."""
    from geommm.mmm import GeoMMM

    panel = design.panel
    frame = panel.frame.with_columns(
        pl.Series(design.spec.response, markets.kpi[s].reshape(-1))
    )
    lifts = None
    if markets.lift is not None:
        lifts = design_lifts(design).with_columns(pl.Series("lift", markets.lift[s]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GeoMMM(
            design.spec.formula, frame, geo=panel.geo_col, time=panel.time_col,
            lift_tests=lifts, population=design.population, priors=prior_overrides,
            likelihood=design.likelihood,
        )


def _refit_market(design: Design, markets: TrueMarkets, s: int, prior_overrides, seed: int,
                  fits: _MarketFits | None = None):
    """(D, C) and (D, G, C) ROI draws of the fast fit of market ``s``."""
    fits = fits if fits is not None else _MarketFits(design, markets, prior_overrides, seed)
    fit = fits[s]
    national, _ = roi_samples(fit.forward, by="channel")
    per_geo, _ = roi_samples(fit.forward, by="geo")
    return national, per_geo


def design_lifts(design: Design) -> pl.DataFrame:
    """The user's lift tests with their standard error as the only uncertainty column."""
    drop = ("ci_low", "ci_high", "confidence", "geo_list")
    return design.lift_tests.drop([c for c in drop if c in design.lift_tests.columns])


@dataclass(frozen=True)
class Refits:
    """What came back from the simulated markets: ROI draws of each market's fast fit."""

    markets: TrueMarkets
    national: list[np.ndarray]  # per market, (D, C) ROI draws
    per_geo: list[np.ndarray]  # per market, (D, G, C)
    seconds: float


def refit_markets(
    design: Design,
    n_sims: int = 3,
    roi: float | Mapping[str, float] | None = None,
    seed: int = 0,
    prior_overrides: Mapping | None = None,
) -> Refits:
    """Simulate ``n_sims`` markets on ``design`` and refit each with :func:`fast_fit`."""
    from geommm.mmm import GeoMMM

    if int(n_sims) < 1:
        raise FitError(f"n_sims must be at least 1, got {n_sims}")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GeoMMM(
            design.spec.formula, design.panel, lift_tests=design.lift_tests,
            population=design.population, priors=prior_overrides, likelihood=design.likelihood,
        )
    markets = simulate_markets(design, model, n_sims, roi=roi, seed=seed)
    shared = _MarketFits(design, markets, prior_overrides, seed)
    fits = [_refit_market(design, markets, s, prior_overrides, seed, fits=shared)
            for s in range(n_sims)]
    return Refits(markets, [f[0] for f in fits], [f[1] for f in fits],
                  time.perf_counter() - t0)


def identification(
    design: Design,
    n_sims: int = 3,
    roi: float | Mapping[str, float] | None = None,
    seed: int = 0,
    prior_overrides: Mapping | None = None,
) -> pl.DataFrame:
    """Per channel, per geo-channel and per pair of channels: bias, error ratio, width
    ratio and verdict over ``n_sims`` simulated markets on ``design`` (see the module
    docstring), with the wall time of the whole simulation in ``identification_seconds``."""
    return score(design, refit_markets(design, n_sims, roi, seed, prior_overrides))


def score(design: Design, refits: Refits) -> pl.DataFrame:
    """The identification table from the refits (``level``: channel, geo or pair)."""
    markets, n = refits.markets, len(refits.national)
    sd = markets.log_roi_prior_sd
    bias, err, width, ok = market_scores(refits.national, markets.roi, sd)
    g_bias, g_err, g_width, g_ok = market_scores(refits.per_geo, markets.roi_geo, sd[None, :])
    rows = []
    for c, channel in enumerate(design.channels):
        rows.append(_row("channel", channel, None, n, markets.roi[:, c], bias[c], err[c],
                         width[c], ok[c], refits.seconds))
        for g, geo in enumerate(design.geos):
            if np.isfinite(markets.roi_geo[:, g, c]).all():
                rows.append(_row("geo", channel, geo, n, markets.roi_geo[:, g, c],
                                 g_bias[g, c], g_err[g, c], g_width[g, c], g_ok[g, c],
                                 refits.seconds))
    for i, j in itertools.combinations(range(len(design.channels)), 2):
        # a pair is as identified as its least identified combination: when two channels
        # move together the data fix their combined effect, not the split
        worse = i if err[i] >= err[j] else j
        rows.append(_row("pair", f"{design.channels[i]}+{design.channels[j]}", None, n,
                         markets.roi[:, worse], bias[worse], err[worse],
                         pair_width(refits.national, i, j, sd), ok[i] and ok[j],
                         refits.seconds))
    return pl.DataFrame(rows)


def _row(level, channel, geo, n, true, bias, err, width, calibrated, seconds) -> dict:
    err, width, calibrated = float(err), float(width), bool(calibrated)
    return {
        "level": level, "channel": channel, "geo": geo, "n_sims": n,
        "true_roi_median": float(np.median(true)), "bias": float(bias),
        "error_ratio": err, "width_ratio": width, "calibrated": calibrated,
        "score": score_of(err, width, calibrated), "verdict": verdict(err, width, calibrated),
        "identification_seconds": seconds,
    }


def _flagged_pairs(findings: pl.DataFrame | None) -> list[str]:
    """Pairs ("tv+search") the data checks found moving together (warnings only)."""
    if findings is None:
        return []
    return findings.filter(
        pl.col("check").is_in(["fixed_multiple", "correlated_pair"])
        & (pl.col("severity") == "warning")
    )["channel"].unique(maintain_order=True).to_list()


def _remedy(channel: str, pairs: list[str]) -> str:
    partners = [p for pair in pairs if channel in pair.split("+")
                for p in pair.split("+") if p != channel]
    test = f"a Geo-Lift test on {channel!r}" + (
        f" (or on {', '.join(map(repr, partners))}, which moves with it)" if partners else "")
    return (f"{test}, an ROI prior from past tests (priors={{{channel!r}: {{'roi': (low, "
            "high)}}), or more variation in its spend across geos and weeks")


def _how(row: dict) -> str:
    width = row["width_ratio"]
    narrow = "" if row["calibrated"] else ", too narrow for the errors, so the errors decide"
    return (f"over {row['n_sims']} simulated markets on your design the fast fit's ROI was "
            f"off by {fmt(row['error_ratio'])} of the prior's spread (typical bias "
            f"{row['bias']:+.0%}" + (f", interval {fmt(width)} of the prior's width{narrow}"
                                     if np.isfinite(width) else "") + ")")


def _per_geo(detail: pl.DataFrame, channel: str) -> str:
    geos = detail.filter((pl.col("level") == "geo") & (pl.col("channel") == channel))
    if not geos.height:
        return ""
    counts = sorted(geos["verdict"].value_counts().iter_rows())
    return "; per geo: " + ", ".join(f"{n} {k}" for k, n in counts)


def _channel_finding(row: dict, detail: pl.DataFrame, pairs: list[str]) -> Finding:
    channel, v = row["channel"], row["verdict"]
    head = f"channel {channel!r}: {v.replace('weak', 'weakly identified')} by this design: "
    text = head + _how(row)
    if v == "identified":
        text += _per_geo(detail, channel) + "."
    else:
        lean = "lean on the prior" if v == "weak" else "be the prior's, whatever the interval says"
        text += (f", so its ROI will {lean}{_per_geo(detail, channel)}. What would fix it: "
                 f"{_remedy(channel, pairs)}.")
    return Finding("info" if v == "identified" else "warning", "identification", text,
                   value=row["score"],
                   threshold=IDENTIFIED if v == "identified" else NOT_IDENTIFIED,
                   channel=channel, verdict=v)


def _pair_finding(row: dict) -> Finding:
    a, b = row["channel"].split("+")
    v = row["verdict"]
    if v == "identified":
        text = (f"channels {a!r} and {b!r} move together, yet this design still tells them "
                f"apart: {_how(row)} (the error of the less identified of the two, the "
                "interval along their least narrowed combination).")
    else:
        text = (f"channels {a!r} and {b!r} as a pair: {v.replace('weak', 'weakly identified')}"
                f": the data fix their combined effect better than the split ({_how(row)} "
                f"for the less identified of the two, the interval along their split); a "
                "Geo-Lift test on either one, or an ROI prior on one of them, settles the split.")
    return Finding("info" if v == "identified" else "warning", "identification", text,
                   value=row["score"],
                   threshold=IDENTIFIED if v == "identified" else NOT_IDENTIFIED,
                   channel=row["channel"], verdict=v)


def identification_findings(detail: pl.DataFrame, findings: pl.DataFrame | None = None) -> list[Finding]:
    """One finding per channel (geo verdicts summarised in words), one per pair the data
    checks found moving together, and a note of how the simulation ran."""
    pairs = _flagged_pairs(findings)
    out = [_channel_finding(row, detail, pairs)
           for row in detail.filter(pl.col("level") == "channel").iter_rows(named=True)]
    out += [_pair_finding(row) for row in detail.filter(pl.col("level") == "pair")
            .iter_rows(named=True) if row["channel"] in pairs]
    if detail.height:
        method = FAST_FIT["method"]
        note = (" (the mode only: interval widths need the Laplace first look)"
                if method == "map" else "")
        seconds = float(detail["identification_seconds"][0])
        out.append(Finding(
            "info", "identification",
            f"identification: {detail['n_sims'][0]} simulated market(s), each refitted with "
            f"method={method!r}{note}, in {seconds:.0f} s.", value=seconds,
        ))
    return out
