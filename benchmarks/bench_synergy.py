"""synergy(tv, search) recovery: with a positive interaction the 90% interval excludes 0
and the optimiser moves both channels together; without one it covers 0.

Per seed, two simulated markets that differ only in the interaction (strength 0.2 or
0; 6 geos x 104 weeks, tv and search flighted per geo, no lift tests), both fitted
with ``+ synergy(tv, search)`` by NUTS (2 x 300 draws). Printed per fit: the national
coefficient's mean and 90% HDI, whether the HDI excludes 0, whether the true national
ROI (Shapley: own + half the interaction) of each channel is in its 90% HDI, and how
the optimiser moves tv and search spend when the budget rises 30% (bounds 0.25x-4x),
with the fitted synergy and with it set to 0 (the same main effects, no synergy).
docs/synergy.md holds a run:

    PYTHONPATH=. python benchmarks/bench_synergy.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import geommm as gm
from geommm import sim
from geommm.analysis.optimize import optimize_budget

PANEL = dict(n_geos=6, n_weeks=104, n_channels=2, n_lift_tests=0, collinear=False,
             profiles={"search": {"flight": "geo", "off_level": 0.0}, "tv": {"flight": "geo"}})


def one(seed: int, strength: float) -> dict:
    market = sim.simulate(seed=seed, synergy={"strength": strength, "seed": seed}, **PANEL)
    truth = market.settings["synergy"]
    start = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = gm.GeoMMM(market.formula, data=market.panel, geo="geo", time="week").fit(
            draws=300, tune=300, chains=2, seed=seed)
    seconds = time.time() - start
    row = fit.synergy().row(0, named=True)
    roi = fit.roi(by="channel")
    covered = {
        r["channel"]: r["roi_hdi_low"] <= truth["roi_national"][r["channel"]] <= r["roi_hdi_high"]
        for r in roi.iter_rows(named=True)
    }
    spend = float(roi["spend"].sum())
    moves = budget_moves(fit.forward, spend)
    draws = fit.forward.draws
    ignored = budget_moves(fit.forward.with_draws({**draws, "synergy_effect": 0.0 * draws["synergy_effect"]}), spend)
    return {
        "seed": seed, "strength": strength, "mean": row["coefficient_mean"],
        "low": row["coefficient_hdi_low"], "high": row["coefficient_hdi_high"],
        "excludes_0": row["coefficient_hdi_low"] > 0 or row["coefficient_hdi_high"] < 0,
        "roi_tv_in": covered["tv"], "roi_search_in": covered["search"],
        "moves": moves, "ignored": ignored,
        "max_rhat": float(fit.diagnostics().max_r_hat),
        "seconds": seconds,
    }


def budget_moves(forward, spend: float) -> dict[str, float]:
    """Change of each channel's optimal spend (% of its current spend) when the budget
    rises from the current total to 30% more, within wide bounds (0.25x to 4x)."""
    plans = [optimize_budget(forward, f * spend, bounds=(0.25, 4.0)).table for f in (1.0, 1.3)]
    now, more = (dict(zip(p["channel"].to_list(), p["optimal_spend"].to_list())) for p in plans)
    current = dict(zip(plans[0]["channel"].to_list(), plans[0]["current_spend"].to_list()))
    return {c: 100.0 * (more[c] - now[c]) / current[c] for c in now}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.2, 0.0])
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    print("| seed | true coef | coef mean | 90% HDI | HDI excludes 0 | tv ROI in HDI | search ROI in HDI "
          "| budget +30%: tv, search | same, synergy set to 0 | max R-hat | fit s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for seed in args.seeds:
        for strength in args.strengths:
            r = one(seed, strength)
            print(f"| {seed} | {strength:g} | {r['mean']:.3f} | [{r['low']:.3f}, {r['high']:.3f}] | "
                  f"{'yes' if r['excludes_0'] else 'no'} | {'yes' if r['roi_tv_in'] else 'no'} | "
                  f"{'yes' if r['roi_search_in'] else 'no'} | {r['moves']['tv']:+.0f}%, {r['moves']['search']:+.0f}% "
                  f"| {r['ignored']['tv']:+.0f}%, {r['ignored']['search']:+.0f}% "
                  f"| {r['max_rhat']:.3f} | {r['seconds']:.0f} |", flush=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
