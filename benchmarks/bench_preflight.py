"""Pre-flight identification verdicts against full NUTS fits, over several seeds.

    python benchmarks/bench_preflight.py --seeds 5 --n-sims 3
    python benchmarks/bench_preflight.py --scenarios strict --seeds 5

For each scenario and seed a panel is simulated (``geommm.sim.simulate``, no lift
tests), then

1. ``identification`` (``geommm/workflows/preflight/simulate.py``) plants effects
   drawn from the priors on the panel's own design, refits ``--n-sims`` markets with
   the fast fit and gives a verdict per channel and per pair of channels;
2. one full NUTS fit of the panel itself gives each channel's posterior-vs-prior
   contraction: posterior sd of log ROI over the ROI prior's sd of log ROI (for a
   pair: along the least narrowed combination of the two, ``pair_contraction``, as in
   the pre-flight table), turned into a
   verdict with the same thresholds (``simulate.IDENTIFIED``, ``NOT_IDENTIFIED``).

Scenarios (``geommm.sim.identification_scenario``, its docstring says why each is
built as it is):

- ``strict``: tv and search on one buying plan with a fixed spend ratio per geo
  (``collinear="strict"``): the pair should be not identified;
- ``independent``: tv on its national plan, search on its own per-geo flighting with
  dark pauses: both should be identified;
- ``weak``: tv and social flighted plus a smaller always-on email channel (4.5% of
  the KPI at ROI 2, a third of tv's spend, never dark): email should be weak.

The rows the issue's bar is about are marked ``bar``: the tv+search pair in
``strict``, tv, search and their pair in ``independent``, email in ``weak``.

NUTS contractions are cached (``--nuts-cache``, a parquet keyed by scenario, seed,
panel size, NUTS settings and a scenario version tag), so re-scoring the pre-flight side after a change does
not refit NUTS. Prints one row per scenario, seed and channel (or pair) with both verdicts, then
the agreement per scenario: the issue's target is agreement in at least 4 of 5
seeds. Fits run one at a time; the load average is printed with each timing
(2 cores: anything else running inflates the times).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
import warnings

import numpy as np
import polars as pl

import geommm as gm
from geommm.analysis.roi import roi_samples
from geommm.sim.identification import SCENARIOS, WEAK_SHARE, identification_scenario
from geommm.workflows.preflight.design import build_design
from geommm.workflows.preflight.scoring import IDENTIFIED, NOT_IDENTIFIED, pair_contraction, verdict
from geommm.workflows.preflight.simulate import FAST_FIT, refit_markets, score
from geommm.workflows.preflight.truth import roi_prior_log_moments

DEFAULT_NUTS_CACHE = "/tmp/geommm-bench-preflight-nuts-v2.parquet"
#: The rows each scenario's verdict is about (the issue's bar).
BAR = {"strict": {"tv+search"}, "independent": {"tv", "search", "tv+search"},
       "weak": {"email"}}


def version(scenario: str, weak_share: float) -> str:
    """Cache tag of a scenario's construction (change it when the scenarios change)."""
    return "v3" + (f" email share {weak_share}" if scenario == "weak" else "")


def cached_contraction(cache: str, key: dict, compute):
    """``compute()`` -> ({channel: contraction}, note), read from / added to ``cache``."""
    table = pl.read_parquet(cache) if cache and os.path.exists(cache) else None
    if table is not None:
        hit = table.filter(pl.all_horizontal([pl.col(k) == v for k, v in key.items()]))
        if hit.height:
            return dict(zip(hit["channel"], hit["contraction"])), "NUTS from cache"
    out, note = compute()
    if cache:
        new = pl.DataFrame([{**key, "channel": c, "contraction": v} for c, v in out.items()])
        table = new if table is None else pl.concat([table, new])
        tmp = cache + ".tmp"
        table.write_parquet(tmp)
        os.replace(tmp, cache)
    return out, note


def panel_for(scenario: str, seed: int, geos: int, weeks: int,
              weak_share: float = WEAK_SHARE):
    """(panel, formula) of one scenario."""
    r = identification_scenario(scenario, seed, geos, weeks, weak_share=weak_share)
    return r.panel, r.formula


def nuts_contraction(panel, formula, seed: int, draws: int, chains: int, sd: np.ndarray):
    """Per channel and per pair: posterior sd of log ROI over the prior's, from one NUTS fit."""
    model = gm.GeoMMM(formula, data=panel, geo="geo", time="week")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(draws=draws, tune=draws, chains=chains, seed=seed, progressbar=False)
    log = np.log(roi_samples(fit.forward, by="channel")[0])  # (D, C)
    out = {c: float(log[:, i].std() / sd[i]) for i, c in enumerate(model.spec.channels)}
    for (i, a), (j, b) in itertools.combinations(enumerate(model.spec.channels), 2):
        # as in preflight: the least narrowed combination of the two log ROIs
        out[f"{a}+{b}"] = pair_contraction(log[:, [i, j]], sd[[i, j]])
    diag = fit.diagnostics()
    return out, diag


def load() -> str:
    return "load {:.1f}/{:.1f}/{:.1f}".format(*os.getloadavg())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--geos", type=int, default=4)
    p.add_argument("--weeks", type=int, default=104)
    p.add_argument("--weak-share", type=float, default=WEAK_SHARE,
                   help="email's share of the KPI in the weak scenario")
    p.add_argument("--n-sims", type=int, default=3)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--save", help="write the rows (parquet) here")
    p.add_argument("--nuts-cache", default=DEFAULT_NUTS_CACHE,
                   help="parquet of NUTS contractions to reuse ('' to always refit)")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows already in --save and skip their scenario and seed")
    a = p.parse_args()
    rows = pl.read_parquet(a.save).to_dicts() if a.resume and a.save and os.path.exists(a.save) else []
    done = {(r["scenario"], r["seed"]) for r in rows}
    # seed by seed across the scenarios: a run cut short still covers every scenario
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        for scenario in a.scenarios:
            if (scenario, seed) in done:
                continue
            print(f"{scenario} seed {seed}: starting ({load()})", flush=True)
            panel, formula = panel_for(scenario, seed, a.geos, a.weeks, a.weak_share)
            design = build_design(panel, formula, geo="geo", time="week")
            before = load()
            t0 = time.perf_counter()
            table = score(design, refit_markets(design, a.n_sims, seed=seed))
            t_pre = time.perf_counter() - t0
            pre_load = f"{before} -> {load()}"
            _, sd = roi_prior_log_moments(design)
            before = load()
            t0 = time.perf_counter()
            def fit_nuts():
                out, diag = nuts_contraction(panel, formula, seed, a.draws, a.chains, sd)
                return out, (f"{diag.divergences} divergences, max R-hat {diag.max_r_hat:.3f}")

            key = {"scenario": scenario, "seed": seed, "geos": a.geos, "weeks": a.weeks,
                   "draws": a.draws, "chains": a.chains,
                   "version": version(scenario, a.weak_share)}
            contraction, note = cached_contraction(a.nuts_cache, key, fit_nuts)
            t_nuts = time.perf_counter() - t0
            print(f"{scenario} seed {seed}: preflight {t_pre:.0f} s ({pre_load}), NUTS "
                  f"{t_nuts:.0f} s ({before} -> {load()}), {note}", flush=True)
            for row in table.filter(pl.col("level") != "geo").iter_rows(named=True):
                c = contraction[row["channel"]]
                rows.append({
                    "scenario": scenario, "seed": seed, "level": row["level"],
                    "channel": row["channel"], "preflight_error_ratio": row["error_ratio"],
                    "preflight_width_ratio": row["width_ratio"],
                    "preflight_calibrated": row["calibrated"],
                    "preflight_score": row["score"],
                    "preflight": row["verdict"], "nuts_contraction": c, "nuts": verdict(c),
                    "agree": row["verdict"] == verdict(c),
                    "bar": row["channel"] in BAR[scenario], "preflight_s": t_pre,
                    "nuts_s": t_nuts,
                })
            if a.save:  # after every panel: a long run that stops keeps what it has
                pl.DataFrame(rows).write_parquet(a.save)
    res = pl.DataFrame(rows).sort("scenario", "level", "channel", "seed", maintain_order=True)
    with pl.Config(tbl_rows=200, tbl_width_chars=160, float_precision=2):
        print(res.drop("preflight_s", "nuts_s"))
        print(res.group_by("scenario", "level", "channel", "bar", maintain_order=True).agg(
            pl.col("agree").sum().alias("seeds_agreeing"), pl.len().alias("seeds"),
            pl.col("preflight").mode().first().alias("preflight_usual"),
            pl.col("nuts").mode().first().alias("nuts_usual"),
            pl.col("preflight_score").min().alias("pre_min"),
            pl.col("preflight_score").max().alias("pre_max"),
            pl.col("nuts_contraction").min().alias("nuts_min"),
            pl.col("nuts_contraction").max().alias("nuts_max")))
    bar = res.filter(pl.col("bar")).group_by("scenario", "channel", maintain_order=True).agg(
        pl.col("agree").sum().alias("seeds_agreeing"))
    met = int((bar["seeds_agreeing"] >= 4).sum())
    print(f"issue bar (>= 4 of 5 seeds agree): {met} of {bar.height} rows; all rows agree "
          f"{res['agree'].mean():.0%}")
    print(f"fast fit: {FAST_FIT}; {a.n_sims} markets per panel; NUTS {a.chains} x "
          f"({a.draws} + {a.draws}); thresholds identified < {IDENTIFIED} <= weak < "
          f"{NOT_IDENTIFIED} <= not identified; {load()}")


if __name__ == "__main__":
    main()
