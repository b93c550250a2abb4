"""A warm-started refit against a cold one: density evaluations, time and verdicts.

    python benchmarks/bench_warm_start.py                  # seeds 0 1 2, the design example's market
    python benchmarks/bench_warm_start.py --seeds 0 --warm-tune 300

The job is the measurement loop of ``examples/design_next_test.py``: fit 8 geos x 104
weeks (email prior-driven), design the best test for email, run it in the simulated
market, and refit on the panel with the test weeks and the lift-test row. The refit is
sampled twice with the same NUTS seed, in alternating order: cold (``--cold-tune``
warm-up steps, nutpie's own start) and warm (``--warm-tune`` steps, chains near the
first fit's posterior, coordinates standardised by its sds: ``GeoMMM.fit(warm_start=...)``,
geommm/warm_start.py). Both keep
their warm-up draws so the evaluations (leapfrog steps) are counted per phase; counts
depend on the seeds and settings only, not on the machine's speed, so they are the
comparison; seconds are printed too. Both must give the same posterior: the email ROI's
mean and sd are printed beside the verdicts. One process, fits one after the other:
run it alone.
"""

from __future__ import annotations

import argparse
import os
import warnings

CHANNELS = ["tv", "search", "social", "email"]
WEAK = {"email": {"share": 0.03, "on_weeks": (52, 104), "off_weeks": (1, 1), "weekly_noise": 0.05}}
TARGET_ACCEPT, MAX_TREEDEPTH, DRAWS = 0.95, 8, 1000


def refit_case(seed: int):
    """(first fit, the refit's model) of the design example's loop on market ``seed``."""
    import geommm as gm
    from geommm import sim

    market = sim.simulate(n_geos=8, n_weeks=134, seed=seed, n_lift_tests=0, noise=0.03, collinear=False,
                          channels=CHANNELS, profiles=WEAK)
    first = gm.GeoMMM(market.formula, data=sim.panel_until(market.panel, 104), geo="geo", time="week").fit(
        draws=DRAWS, tune=500, chains=4, seed=seed, target_accept=TARGET_ACCEPT, max_treedepth=MAX_TREEDEPTH,
        progressbar=False)
    from geommm.analysis.roi import incremental_kpi

    c = list(first.channels).index("email")  # the example's budget: email's KPI in a quarter
    budget = float(incremental_kpi(first.forward).sum(axis=1).mean(axis=0)[c] * 13 / 104)
    design = first.design_lift_tests(channels=["email"], weeks=(4, 8, 12), spend_factor=2.0, max_geos=4,
                                     max_cost=budget, n_best=1)
    top = design.row(0, named=True)
    run = sim.run_designed_test(market, top, fit_weeks=104, seed=seed)
    measured = run.lift_tests.row(0, named=True)
    row = gm.to_lift_test(top, measured["lift"], measured["lift_se"], spend_delta=measured["spend_delta"])
    return first, gm.GeoMMM(market.formula, data=run.panel, geo="geo", time="week", lift_tests=row)


def sample(m, tune: int, seed: int, warm_from=None) -> dict:
    """The refit sampled as ``fit()`` samples it (chains in worker processes), warm-up kept."""
    import arviz as az
    from bench_warmup import sample_keeping_warmup, sampling_settings

    from geommm import warm_start

    s = sampling_settings(draws=DRAWS, tune=tune, chains=4, seed=seed, target_accept=TARGET_ACCEPT,
                          max_treedepth=MAX_TREEDEPTH)
    start = None if warm_from is None else (
        lambda compiled: warm_start.precondition(compiled, warm_start.from_posterior(m.model, warm_from, compiled)))
    idata, seconds = sample_keeping_warmup(m, s, start, MAX_TREEDEPTH)
    warm = idata.warmup_sample_stats["n_steps"].values.astype(int)
    draws = idata.sample_stats["n_steps"].values.astype(int)
    roi = idata.posterior["roi"].values[..., CHANNELS.index("email")]
    return {
        "seconds": seconds, "first_100": int(warm[:, :100].sum()), "warm_up": int(warm.sum()),
        "draws": int(draws.sum()), "divergences": int(idata.sample_stats["diverging"].values.sum()),
        "rhat": max(float(v.max()) for v in az.rhat(idata.posterior).data_vars.values()),
        "ess": min(float(v.min()) for v in az.ess(idata.posterior).data_vars.values()),
        "email": (float(roi.mean()), float(roi.std())),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--cold-tune", type=int, default=500)
    p.add_argument("--warm-tune", type=int, default=200)
    a = p.parse_args()
    warnings.simplefilter("ignore")
    print("| market seed | refit | warm-up | evaluations: first 100 warm-up | whole warm-up | draws | all "
          "| sampling s | divergences | max R-hat | min bulk ESS | email ROI mean (sd) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for seed in a.seeds:
        first, refit = refit_case(seed)
        runs = [("cold", a.cold_tune, None), ("warm", a.warm_tune, first.posterior)]
        for label, tune, warm_from in (runs if seed % 2 == 0 else runs[::-1]):  # alternate the order
            r = sample(refit, tune, seed, warm_from)
            print(f"| {seed} | {label} | {tune} | {r['first_100']:,} | {r['warm_up']:,} | {r['draws']:,} "
                  f"| {r['warm_up'] + r['draws']:,} | {r['seconds']:.1f} | {r['divergences']} | {r['rhat']:.3f} "
                  f"| {r['ess']:.0f} | {r['email'][0]:.2f} ({r['email'][1]:.2f}) |", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f}; NUTS 4 x {DRAWS} draws, target_accept {TARGET_ACCEPT}, "
          f"max_treedepth {MAX_TREEDEPTH}")


if __name__ == "__main__":
    main()
