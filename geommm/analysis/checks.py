"""Checks of a fitted model against what is known outside the posterior summary:
fitted vs actual KPI, in-sample accuracy, lift tests, carryover and the priors.

Each function takes a ``Fit`` (``fit.forward`` holds the thinned draws) and returns
a Polars table; ``Fit``'s methods of the same names delegate here.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from geommm.analysis.draws import draw_chunks, posterior_draws, summarise
from geommm.analysis.metrics import accuracy_table
from geommm.analysis.tables import NATIONAL
from geommm.data import read_lift_tests_for_panel
from geommm.media import adstock_kind, saturation_kind
from geommm.model.lift import build_lift_cells, implied_lift
from geommm.model.synergy import synergy_pairs


def fitted(fit, hdi_prob: float = 0.9, national: bool = False) -> pl.DataFrame:
    """geo, time, actual, mean, hdi_low, hdi_high (posterior predictive), holdout.

    ``national=True`` adds ``NATIONAL`` rows: the sum over geos, its interval from the
    summed draws (the HDI of a sum is not the sum of the geos' HDIs)."""
    fw = fit.forward
    pred = fw.predictive(fw.expected_kpi())  # (D, G, T)
    s = summarise(pred, hdi_prob)
    G, T = fit.data.n_geos, fit.data.n_times
    table = pl.DataFrame(
        {
            "geo": np.repeat(np.array(fit.data.geos), T),
            "time": np.tile(fit.data.times, G),
            "actual": fit.data.kpi.reshape(-1),
            "mean": s["mean"].reshape(-1),
            "hdi_low": s["hdi_low"].reshape(-1),
            "hdi_high": s["hdi_high"].reshape(-1),
            "holdout": np.zeros(G * T, dtype=bool),
        }
    )
    if national:
        total = summarise(pred.sum(axis=1), hdi_prob)
        table = pl.concat([table, pl.DataFrame({
            "geo": [NATIONAL] * T,
            "time": fit.data.times,
            "actual": fit.data.kpi.sum(axis=0),
            "mean": total["mean"],
            "hdi_low": total["hdi_low"],
            "hdi_high": total["hdi_high"],
            "holdout": np.zeros(T, dtype=bool),
        })])
    return table.with_columns(pl.col("time").cast(pl.Date))


def fit_metrics(fit) -> pl.DataFrame:
    """In-sample R^2 and MAPE per geo and overall ("national" row sums over geos)."""
    mean = fit.forward.expected_kpi().mean(axis=0)
    return accuracy_table(fit.data.kpi, mean, fit.data.geos)


def lift_test_check(fit, lift_tests=None, hdi_prob: float = 0.9) -> pl.DataFrame:
    """Each lift test's measured lift next to the model-implied lift (posterior).

    Without ``lift_tests`` it checks the tests the model was calibrated on. Pass
    tests (any source ``read_lift_tests`` accepts) to check a fit against
    experiments it has not seen, e.g. the uncalibrated fit, to compare before and
    after calibration."""
    if lift_tests is not None:
        spend = {m.name: m.spend for m in fit.spec.media}
        lt = read_lift_tests_for_panel(lift_tests, fit.panel, spend)
        cells = build_lift_cells(lt, fit.data)
    else:
        lt, cells = fit.lift_tests, fit.lift_cells
    if cells is None or not cells.n_tests:
        return pl.DataFrame(
            schema={"test_id": pl.String, "channel": pl.String, "geos": pl.String,
                    "lift": pl.Float64, "lift_se": pl.Float64, "implied_mean": pl.Float64,
                    "implied_hdi_low": pl.Float64, "implied_hdi_high": pl.Float64}
        )
    fw = fit.forward
    lagged = fit.data.lagged()
    cells_per_draw = lagged[0].size
    implied = [
        implied_lift(cells, fw.transform, {**chunk, "effect_multiplier": fw.with_draws(chunk).effect_multiplier(),
                                           "synergy_pairs": synergy_pairs(fit.spec, fit.data.channels)},
                     fw.transform.adstock(lagged, chunk), fit.data.kpi_scale, fw.link.lift_level(fw.with_draws(chunk)))
        for chunk in draw_chunks(fw.draws, cells_per_draw)
    ]  # (D, N), draws in memory-bounded chunks
    s = summarise(np.concatenate(implied), hdi_prob)
    return pl.DataFrame(
        {
            "test_id": [str(x) for x in lt["test_id"]],
            "channel": lt["channel"].to_list(),
            "geos": lt["geos"].cast(pl.String).to_list(),
            "lift": lt["lift"].cast(pl.Float64).to_list(),
            "lift_se": lt["lift_se"].cast(pl.Float64).to_list(),
            "implied_mean": s["mean"],
            "implied_hdi_low": s["hdi_low"],
            "implied_hdi_high": s["hdi_high"],
        }
    )


def adstock_decay(fit, hdi_prob: float = 0.9) -> pl.DataFrame:
    """Carryover weights per lag: geo, channel, lag, weight_mean, weight_hdi_low, weight_hdi_high."""
    fw = fit.forward
    national = {**fw.draws, "retention": _channel_center(fw.draws["retention"])}
    frames = []
    for label, weights in (("geo", fw.transform.weights(fw.draws)), ("national", fw.transform.weights(national))):
        s = summarise(weights, hdi_prob)  # (G or 1, C, L)
        geos = fit.data.geos if label == "geo" else ("national",)
        n_g, n_c, n_l = s["mean"].shape
        frames.append(pl.DataFrame({
            "geo": np.repeat(np.array(geos), n_c * n_l),
            "channel": np.tile(np.repeat(np.array(fit.channels), n_l), n_g),
            "lag": np.tile(np.arange(n_l), n_g * n_c),
            "weight_mean": s["mean"].reshape(-1),
            "weight_hdi_low": s["hdi_low"].reshape(-1),
            "weight_hdi_high": s["hdi_high"].reshape(-1),
        }))
    return pl.concat(frames)


def prior_posterior(fit, draws: int = 1000, seed: int = 0) -> pl.DataFrame:
    """Long table (parameter, source "prior"|"posterior", value) for the key media
    parameters, to see what the data taught the model beyond its priors. Each channel
    shows the parameters its own kinds use, named as those kinds name them (the
    pooled carryover parameter is a retention rate for geometric adstock, the Weibull
    scale as a share of max_lag for Weibull)."""
    rng = np.random.default_rng(seed)
    kind_params = {m.name: ["retention_logit", *adstock_kind(m.adstock).channel_parameters,
                            *saturation_kind(m.saturation).channel_parameters] for m in fit.spec.media}
    names = ("roi", *dict.fromkeys(p for ps in kind_params.values() for p in ps))
    post = posterior_draws(fit, names=names, max_draws=draws)
    frames = []
    for name in names:
        if name not in post or name not in fit.priors.channel:
            continue
        prior = fit.priors.channel[name].draw(draws, rng)
        for source, arr in (("prior", prior), ("posterior", post[name])):
            if name == "retention_logit":
                arr = 1.0 / (1.0 + np.exp(-arr))
            for ci, m in enumerate(fit.spec.media):
                if name != "roi" and name not in kind_params[m.name]:
                    continue
                label = adstock_kind(m.adstock).retention_label if name == "retention_logit" else name
                frames.append(pl.DataFrame({
                    "parameter": f"{label}[{m.name}]", "source": source, "value": np.asarray(arr)[:, ci],
                }))
    return pl.concat(frames) if frames else pl.DataFrame(schema={"parameter": pl.String, "source": pl.String, "value": pl.Float64})


def _channel_center(retention: np.ndarray) -> np.ndarray:
    """National (typical) retention per draw: inverse-logit of the geo-mean logit."""
    logit = np.log(retention) - np.log1p(-retention)
    m = logit.mean(axis=-2, keepdims=True)
    return 1.0 / (1.0 + np.exp(-m))
