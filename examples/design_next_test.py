"""Which Geo-Lift test should we run next, and what will it buy us?

Job: the quarterly measurement loop. The model is fitted; one channel (email: small,
always on, nearly the same spend every week) cannot be told apart from the baseline,
so its ROI is the prior's. This script

1. fits the model on the first two years of a simulated market (known true ROI),
2. asks ``fit.identification()`` which channels are prior-driven,
3. ranks candidate tests for that channel with ``fit.design_lift_tests(...)`` within a
   budget (expected lift, standard error, power, expected ROI-interval shrink, cost),
4. runs the top test in the simulated market's next weeks (``sim.run_designed_test``),
5. turns the result into a lift-test row (``gm.to_lift_test``), refits on the panel
   extended by the test weeks, and prints the ROI interval before and after against
   the truth.

    python examples/design_next_test.py             # NUTS 4 x (300 + 1000), then a warm refit 4 x (200 + 1000)
    python examples/design_next_test.py --seed 3    # another market

The book's email has a high true ROI (about 6), far above the prior's centre: the
test moves the estimate up to the truth, and the interval moves with it — much
narrower relative to the ROI's level, not always narrower in absolute width.

With real data, step 4 is the experiment itself: run it, measure the lift in the
test geos with a synthetic control, then pass the row from ``gm.to_lift_test(row,
lift, se)`` (with the actual spend change) as ``GeoMMM(..., lift_tests=...)`` on
the panel that includes the test weeks.
"""

from __future__ import annotations

import argparse
import dataclasses
import warnings

import numpy as np
import polars as pl

import geommm as gm
from geommm import sim
from geommm.analysis.forward import ForwardModel
from geommm.analysis.roi import incremental_kpi

CHANNELS = ["tv", "search", "social", "email"]
#: email: 3% of the KPI, always on, spend level reset once a year or two, 5% weekly wobble.
WEAK = {"email": {"share": 0.03, "on_weeks": (52, 104), "off_weeks": (1, 1), "weekly_noise": 0.05}}
#: Sampler settings. The prior-driven email channel makes this posterior hard. Measured on
#: the default market (session 25; the simulated panel is the same on every CPU): at
#: target_accept 0.9 the first fit left 1 divergent transition in 4,000 draws after 500
#: warm-up steps (WARNING), and after 1000 the refit with the test left 1; at 0.95 with
#: 500 warm-up steps both fits ended OK (R-hat 1.006 / 1.005), at about twice the
#: leapfrog steps a draw (62 against 31). Trees are capped at 255 leapfrog steps
#: (max_treedepth 8, session 26): the first warm-up iterations, before the mass matrix
#: is learnt, run trees to the 1,023-step cap, and with the cap the first fit sampled in
#: 46 s instead of 56 s (OK both; a draw takes ~60 steps, so the cap cuts warm-up trees,
#: not the draws' trajectories; the diagnostics say so if over 10% of draws reach it).
#: 1000 draws a chain (session 27): with 750 the example ran in 109 s instead of 116 s,
#: but the refit left 1 divergent transition (WARNING); with 1000 both fits end OK.
#: 300 warm-up steps for the first fit (session 28): OK/OK on sampler seeds 0, 1, 2 and 3
#: with the warm refit below (100-112 s), against 116-121 s with 500.
TUNE, DRAWS, TARGET_ACCEPT, MAX_TREEDEPTH = 300, 1000, 0.95, 8
#: The refit starts from the first fit (``warm_start``): its chains near that posterior, on
#: coordinates standardised by its sds. With 200 warm-up steps it took 24-28% fewer density
#: evaluations than a cold refit with 500, for the same posterior and verdict, on three
#: markets (benchmarks/bench_warm_start.py; docs/performance.md, "Warm start").
REFIT_TUNE = 200


def fit(panel, formula, seed, lift_tests=None, target_accept=TARGET_ACCEPT, tune=TUNE,
        max_treedepth=MAX_TREEDEPTH, draws=DRAWS, warm_start=None):
    model = gm.GeoMMM(formula, data=panel, geo="geo", time="week", lift_tests=lift_tests)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(draws=draws, tune=tune, chains=4, seed=seed, target_accept=target_accept,
                         max_treedepth=max_treedepth, progressbar=False, warm_start=warm_start)


def national_roi_draws(result, n_weeks: int) -> np.ndarray:
    """(draws, channel) national ROI over the first ``n_weeks`` weeks (comparable before/after)."""
    d = result.data
    first = dataclasses.replace(d, media_input=d.media_input[:, :n_weeks], spend=d.spend[:, :n_weeks])
    forward = ForwardModel(result.spec, first, result.forward.draws)
    return incremental_kpi(forward).sum(axis=1) / first.spend.sum(axis=(0, 1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--geos", type=int, default=8)
    p.add_argument("--weeks", type=int, default=104, help="weeks the model is fitted on")
    p.add_argument("--sampler-seed", type=int, default=None, help="NUTS seed (default: --seed)")
    p.add_argument("--target-accept", type=float, default=TARGET_ACCEPT,
                   help="NUTS target acceptance (default %(default)s)")
    p.add_argument("--tune", type=int, default=TUNE, help="NUTS warm-up steps per chain (default %(default)s)")
    p.add_argument("--refit-tune", type=int, default=REFIT_TUNE,
                   help="warm-up steps of the refit, warm-started from the first fit (default %(default)s)")
    p.add_argument("--cold-refit", action="store_true", help="refit without the warm start, with --tune warm-up steps")
    p.add_argument("--draws", type=int, default=DRAWS, help="NUTS draws per chain (default %(default)s)")
    p.add_argument("--max-treedepth", type=int, default=MAX_TREEDEPTH,
                   help="NUTS tree-depth cap: at most 2**D - 1 leapfrog steps a draw (default %(default)s)")
    a = p.parse_args()
    sampler_seed = a.seed if a.sampler_seed is None else a.sampler_seed
    market = sim.simulate(n_geos=a.geos, n_weeks=a.weeks + 30, seed=a.seed, n_lift_tests=0, noise=0.03,
                          collinear=False, channels=CHANNELS, profiles=WEAK)
    print(f"fitting {a.geos} geos x {a.weeks} weeks ...")
    before = fit(sim.panel_until(market.panel, a.weeks), market.formula, sampler_seed, target_accept=a.target_accept,
                 tune=a.tune, max_treedepth=a.max_treedepth, draws=a.draws)

    ident = before.identification().filter(pl.col("geo") == "national")
    print(ident)
    print("Diagnostics:", before.diagnostics())
    print("\n".join(before.diagnostics().messages))
    weak = ident.filter(pl.col("verdict") == "prior-driven")["channel"].to_list() or ["email"]
    channel = weak[0]
    c = list(before.channels).index(channel)
    # budget: what the channel earns nationally in a quarter (a go-dark gives up that much KPI)
    budget = float(incremental_kpi(before.forward).sum(axis=1).mean(axis=0)[c] * 13 / a.weeks)
    design = before.design_lift_tests(channels=[channel], weeks=(4, 8, 12), spend_factor=2.0,
                                      max_geos=4, max_cost=budget, n_best=5)
    print(f"\nBest tests for {channel} within a budget of {budget:,.0f}:")
    print(design.select("rank", "kind", "geos", "start", "end", "measure_end", "spend_change",
                        "lift_mean", "lift_se", "power", "roi_hdi_now", "roi_hdi_after", "cost"))

    top = design.row(0, named=True)
    run = sim.run_designed_test(market, top, fit_weeks=a.weeks, seed=a.seed)
    measured = run.lift_tests.row(0, named=True)
    print(f"\nran it: measured lift {measured['lift']:,.0f} +- {measured['lift_se']:,.0f} "
          f"(true {measured['true_lift']:,.0f})")
    row = gm.to_lift_test(top, measured["lift"], measured["lift_se"], spend_delta=measured["spend_delta"])
    after = fit(run.panel, market.formula, sampler_seed, lift_tests=row, target_accept=a.target_accept,
                tune=a.tune if a.cold_refit else a.refit_tune, max_treedepth=a.max_treedepth, draws=a.draws,
                warm_start=None if a.cold_refit else before)
    print("Diagnostics after the test:", after.diagnostics())
    print(after.lift_test_check())

    truth = sim.true_roi_until(market, a.weeks)[c]
    spread = {}
    for label, result in (("before", before), ("after", after)):
        draws = national_roi_draws(result, a.weeks)[:, c]
        low, high = np.quantile(draws, [0.05, 0.95])
        spread[label] = np.log(high / low)
        print(f"{label:>6}: {channel} ROI {draws.mean():.2f} (90% {low:.2f}-{high:.2f}), truth {truth:.2f}")
    print(f"predicted shrink of the 90% interval: {top['roi_hdi_shrink']:.0%} in width, "
          f"{top['roi_log_hdi_shrink']:.0%} relative to the ROI's level; realised relative "
          f"shrink {1 - spread['after'] / spread['before']:.0%}")


if __name__ == "__main__":
    main()
