"""Does the designed test fix a prior-driven channel? Identification, test design and real refits.

    python benchmarks/bench_test_design.py --seeds 5 --random-tests 10 --save results.parquet
    python benchmarks/bench_test_design.py --demo-fit DIR/fit.nc   # only the ranking speed

Each seed simulates a market of 8 geos x 134 weeks, 4 channels: tv, search, social and
a deliberately weak email (3% of the KPI, always on, one spend level for a year or two
with a 5% weekly wobble, so the panel cannot tell it from the baseline), 3% weekly
noise. Then:

1. fit on the first 104 weeks (NUTS 2 x 500) and record ``identification()`` for every
   channel next to its national ROI error against the truth over those weeks;
2. rank tests of the weak channel within a budget (the KPI it earns in a quarter) and
   run the top one in the simulated market's next weeks (``sim.run_designed_test``);
3. refit on the panel extended to the test's measured end, with its lift row; the
   realised shrink is 1 - (90% interval width of the channel's national ROI over the
   first 104 weeks, after / before), the same interval function the prediction uses;
4. do the same for ``--random-tests`` random feasible tests of the same cost (random
   geos, length and kind; heavy-ups at the spend factor that matches the cost,
   go-darks within 25% of it), to see whether the ranking beats chance.

Fits run one at a time; rows are saved after every fit (``--save``), so a cut-short run
keeps what it finished, and ``--resume`` skips finished (seed, test) pairs.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
import warnings

import numpy as np
import polars as pl

import geommm as gm
from geommm import sim
from geommm.analysis.experiments.plan import future_plan
from geommm.analysis.experiments.preposterior import interval_width
from geommm.analysis.forward import ForwardModel
from geommm.analysis.roi import incremental_kpi

CHANNELS = ["tv", "search", "social", "email"]
WEAK_CHANNEL = "email"
WEAK = {"email": {"share": 0.03, "roi": 2.5, "on_weeks": (52, 104), "off_weeks": (1, 1),
                  "weekly_noise": 0.05}}
FIT_WEEKS, FUTURE = 104, 30
DESIGN = {"weeks": (4, 8, 12), "spend_factor": 2.0, "max_geos": 4}


def market(seed: int, geos: int) -> sim.SimulatedPanel:
    return sim.simulate(n_geos=geos, n_weeks=FIT_WEEKS + FUTURE, seed=seed, n_lift_tests=0,
                        noise=0.03, collinear=False, channels=CHANNELS, profiles=WEAK)


def fit(panel, formula, seed, lift_tests=None, draws=500):
    model = gm.GeoMMM(formula, data=panel, geo="geo", time="week", lift_tests=lift_tests)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(draws=draws, tune=draws, chains=2, seed=seed, progressbar=False)


def roi_draws(result, n_weeks: int = FIT_WEEKS) -> np.ndarray:
    """(draws, channel) national ROI over the first ``n_weeks`` weeks: comparable across refits."""
    d = result.data
    first = dataclasses.replace(d, media_input=d.media_input[:, :n_weeks], spend=d.spend[:, :n_weeks])
    return incremental_kpi(ForwardModel(result.spec, first, result.forward.draws)).sum(axis=1) / first.spend.sum(axis=(0, 1))


def random_tests(before, c: int, cost: float, n: int, rng) -> list[dict]:
    """``n`` random feasible tests of the weak channel costing about ``cost``."""
    data = before.data
    plan = future_plan(data, 12)
    usable = [g for g in range(data.n_geos) if plan.spend[g, :4, c].sum() > 0]
    out, tries = [], 0
    while len(out) < n and tries < 400:
        tries += 1
        size = min(int(rng.integers(1, 5)), len(usable))
        cell = sorted(rng.choice(usable, size=size, replace=False).tolist())
        weeks = int(rng.choice(DESIGN["weeks"]))
        bau = plan.spend[cell, :weeks, c].sum()
        geos = [[data.geos[g] for g in cell]]
        if rng.random() < 0.5 and bau > 0:
            factor = 1.0 + cost / bau
            if not 1.1 <= factor <= 6.0:
                continue
            row = before.design_lift_tests(channels=[WEAK_CHANNEL], geos=geos, weeks=weeks,
                                           kinds=("heavy_up",), spend_factor=factor, n_best=1)
        else:
            row = before.design_lift_tests(channels=[WEAK_CHANNEL], geos=geos, weeks=weeks,
                                           kinds=("go_dark",), n_best=1)
            if row.height == 0 or abs(row["cost"][0] / cost - 1) > 0.25:
                continue
        if row.height:
            out.append(row.row(0, named=True))
    return out


def predicted_shrink(before, test: dict, **options) -> float:
    """The test's predicted shrink with other design options (method, panel_information)."""
    row = before.design_lift_tests(
        channels=[test["channel"]], geos=[test["geos"].split(";")], weeks=test["weeks"],
        kinds=(test["kind"],), spend_factor=test["spend_multiplier"] if test["kind"] == "heavy_up" else 1.5,
        n_best=1, **options)
    return float(row["roi_hdi_shrink"][0])


def run_seed(seed: int, args, done: set, save) -> None:
    m = market(seed, args.geos)
    t0 = time.perf_counter()
    saved = os.path.join(args.reuse_fits or "", f"seed{seed}.nc")
    if args.reuse_fits and os.path.exists(saved):
        before = gm.load_fit(saved)
    else:
        before = fit(sim.panel_until(m.panel, FIT_WEEKS), m.formula, seed, draws=args.draws)
    fit_s = time.perf_counter() - t0
    if args.keep_fits:
        os.makedirs(args.keep_fits, exist_ok=True)
        before.save(os.path.join(args.keep_fits, f"seed{seed}.nc"))
    truth = sim.true_roi_until(m, FIT_WEEKS)
    draws0 = roi_draws(before)
    ident = before.identification().filter(pl.col("geo") == "national")
    d0 = before.diagnostics()
    rows = [{
        "seed": seed, "test": "none", "channel": ch, "verdict": v, "contraction": k,
        "truth": truth[i], "mean_before": draws0[:, i].mean(),
        "width_before": interval_width(draws0[:, i]), "divergences": d0.divergences,
        "max_r_hat": d0.max_r_hat, "fit_seconds": fit_s, "load": os.getloadavg()[0],
    } for i, (ch, v, k) in enumerate(zip(ident["channel"], ident["verdict"], ident["contraction"]))]
    if (seed, "none") not in done:
        save(rows)
    c = list(before.channels).index(WEAK_CHANNEL)
    budget = float(incremental_kpi(before.forward).sum(axis=1).mean(axis=0)[c] * 13 / FIT_WEEKS)
    t0 = time.perf_counter()
    design = before.design_lift_tests(channels=[WEAK_CHANNEL], max_cost=budget, n_best=None, **DESIGN)
    design_s = time.perf_counter() - t0
    top = design.row(0, named=True)
    rng = np.random.default_rng(1000 + seed)
    tests = [("top", top)] + [(f"random_{i:02d}", t) for i, t in
                              enumerate(random_tests(before, c, top["cost"], args.random_tests, rng))]
    for label, test in tests:
        if (seed, label) in done:
            continue
        run = sim.run_designed_test(m, test, fit_weeks=FIT_WEEKS, seed=seed * 100 + len(label))
        measured = run.lift_tests.row(0, named=True)
        lift = gm.to_lift_test(test, measured["lift"], measured["lift_se"],
                               spend_delta=measured["spend_delta"], test_id=label)
        t0 = time.perf_counter()
        after = fit(run.panel, m.formula, seed, lift_tests=lift, draws=args.draws)
        refit_s = time.perf_counter() - t0
        draws1 = roi_draws(after)[:, c]
        d1 = after.diagnostics()
        save([{
            "seed": seed, "test": label, "channel": WEAK_CHANNEL, "kind": test["kind"],
            "geos": test["geos"], "weeks": test["weeks"], "cost": test["cost"], "budget": budget,
            "power": test["power"], "predicted_shrink": test["roi_hdi_shrink"],
            "predicted_shrink_gaussian": predicted_shrink(before, test, method="gaussian"),
            "predicted_shrink_row_only": predicted_shrink(before, test, panel_information=False),
            "lift_se": test["lift_se"], "combined_se": test["combined_se"],
            "truth": truth[c], "mean_before": draws0[:, c].mean(), "mean_after": draws1.mean(),
            "width_before": interval_width(draws0[:, c]), "width_after": interval_width(draws1),
            "predicted_log_shrink": test["roi_log_hdi_shrink"],
            "log_width_before": interval_width(np.log(draws0[:, c])),
            "log_width_after": interval_width(np.log(draws1)),
            "significant": abs(measured["lift"]) > 1.96 * measured["lift_se"],
            "candidates": design.height, "design_seconds": design_s, "divergences": d1.divergences,
            "max_r_hat": d1.max_r_hat, "fit_seconds": refit_s, "load": os.getloadavg()[0],
        }])
        print(f"seed {seed} {label}: predicted {test['roi_hdi_shrink']:.2f} realised "
              f"{1 - interval_width(draws1) / interval_width(draws0[:, c]):.2f}", flush=True)


def demo_speed(path: str) -> None:
    result = gm.load_fit(path)
    _ = result.forward  # the thinned draws, loaded once as any table would
    for _ in range(2):
        t0 = time.perf_counter()
        table = result.design_lift_tests(max_geos=3, n_best=None)
        print(f"ranked {table.height} candidate tests in {time.perf_counter() - t0:.1f} s "
              f"(load {os.getloadavg()[0]:.1f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--geos", type=int, default=8)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--random-tests", type=int, default=10)
    p.add_argument("--save", default="bench_test_design.parquet")
    p.add_argument("--resume", action="store_true", help="skip (seed, test) pairs already in --save")
    p.add_argument("--demo-fit", help="only time the ranking on this saved fit")
    p.add_argument("--keep-fits", metavar="DIR", help="save each seed's first fit here")
    p.add_argument("--reuse-fits", metavar="DIR", help="load each seed's first fit from here if saved")
    a = p.parse_args()
    if a.demo_fit:
        demo_speed(a.demo_fit)
        return
    old = pl.read_parquet(a.save) if a.resume and os.path.exists(a.save) else None
    frames = [] if old is None else [old]
    done = set() if old is None else set(zip(old["seed"], old["test"]))

    def save(rows):
        frames.append(pl.DataFrame(rows))
        pl.concat(frames, how="diagonal_relaxed").write_parquet(a.save)

    for seed in range(a.first_seed, a.first_seed + a.seeds):
        run_seed(seed, a, done, save)
    summarise(pl.concat(frames, how="diagonal_relaxed"))


def summarise(rows: pl.DataFrame) -> None:
    """The tables docs/performance.md shows."""
    pl.Config.set_tbl_rows(100)
    from geommm.analysis.identification import verdict

    base = rows.filter(pl.col("test") == "none")
    base = base.with_columns(pl.Series("verdict", verdict(base["contraction"].to_numpy()).tolist()))
    base = base.with_columns(
        (pl.col("mean_before") / pl.col("truth") - 1).alias("error"),
        (pl.col("width_before") / pl.col("mean_before")).alias("rel_width"),
    )
    print(base.select("seed", "channel", "verdict", "contraction", "error", "rel_width",
                      "divergences", "max_r_hat"))
    tests = rows.filter(pl.col("test") != "none").with_columns(
        (1 - pl.col("width_after") / pl.col("width_before")).alias("realised_shrink"),
        ((pl.col("mean_before") / pl.col("truth") - 1).abs()).alias("abs_error_before"),
        ((pl.col("mean_after") / pl.col("truth") - 1).abs()).alias("abs_error_after"),
        pl.col("test").str.starts_with("random").alias("random"),
    )
    print(tests.select("seed", "test", "kind", "geos", "weeks", "cost", "power", "predicted_shrink",
                       "predicted_shrink_gaussian", "predicted_shrink_row_only", "realised_shrink", "abs_error_before",
                       "abs_error_after", "significant"))
    per_seed = tests.group_by("seed").agg(
        pl.col("realised_shrink").filter(~pl.col("random")).first().alias("top"),
        pl.col("realised_shrink").filter(pl.col("random")).median().alias("random_median"),
    ).sort("seed")
    print(per_seed)
    print(tests.group_by("random").agg(
        pl.len(), pl.col("realised_shrink").mean(), pl.col("predicted_shrink").mean(),
        (pl.col("predicted_shrink") - pl.col("realised_shrink")).abs().mean().alias("mae_reweight"),
        (pl.col("predicted_shrink_gaussian") - pl.col("realised_shrink")).abs().mean().alias("mae_gaussian"),
        (pl.col("predicted_shrink_row_only") - pl.col("realised_shrink")).abs().mean().alias("mae_row_only"),
        (pl.col("predicted_shrink") - pl.col("realised_shrink")).mean().alias("bias_reweight"),
        pl.col("abs_error_before").mean(), pl.col("abs_error_after").mean(),
    ))

    if "log_width_after" in tests.columns:  # relative precision: the interval of log ROI
        logs = tests.drop_nulls("log_width_after").with_columns(
            (1 - pl.col("log_width_after") / pl.col("log_width_before")).alias("realised_log_shrink"))
        print(logs.group_by("random").agg(
            pl.len(), pl.col("predicted_log_shrink").mean(), pl.col("realised_log_shrink").mean(),
            (pl.col("predicted_log_shrink") - pl.col("realised_log_shrink")).abs().mean().alias("mae_log"),
        ))


if __name__ == "__main__":
    main()
