"""Where should next quarter's money go? Fit the demo panel, then re-split the budget.

Job: a planning team has this year's budget and wants the split over channels
(national plan) and over regions (per-geo plan) that the fitted model expects to
earn the most, within limits the business can actually execute.

    python examples/optimize_budget.py            # NUTS, 4 chains x (500 warm-up + 1000 draws) (61-66 s on 2 cores)
    python examples/optimize_budget.py --fast     # Laplace approximation (a first look in seconds)
"""

from __future__ import annotations

import argparse
import warnings

import polars as pl

import geommm as gm
from geommm.analysis.optimize import optimize_budget
from geommm.analysis.curves import response_curves
from geommm.analysis.scenario import scenario
from geommm.demo import load_demo

pl.Config.set_tbl_rows(60)
pl.Config.set_tbl_cols(12)
pl.Config.set_float_precision(2)
pl.Config.set_thousands_separator(",")


def fit_demo(fast: bool):
    demo = load_demo()
    model = gm.GeoMMM(
        demo.formula, data=demo.panel, geo="geo", time="week", lift_tests=demo.lift_tests
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if fast:
            return demo, model.fit(method="laplace", draws=1000, chains=4, seed=0, progressbar=False)
        return demo, model.fit(draws=1000, tune=500, chains=4, seed=0, progressbar=False)


def show(title: str, allocation) -> None:
    print(f"\n=== {title} ===")
    print(allocation)
    print(
        allocation.table.select(
            "geo", "channel", "current_spend", "optimal_spend", "change_pct", "marginal_roi", "note"
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="Laplace approximation instead of NUTS")
    args = parser.parse_args()
    demo, fit = fit_demo(args.fast)
    print(fit)
    print(fit.roi(by="channel"))

    # 1. National plan: same total, each channel may move 20% either way.
    national = optimize_budget(fit, by="channel", bounds=(0.8, 1.2))
    show("National plan, same budget, +-20% per channel", national)

    # 2. Per-region plan over the last 13 weeks' flighting (the next quarter looks like the
    #    last one), TV contracts allow only +-10%, search is held where it is.
    weeks = 13
    bounds = pl.DataFrame(
        {
            "channel": ["tv", "social", "display"],
            "lower": [0.9, 0.5, 0.5],
            "upper": [1.1, 1.5, 1.5],
        }
    )
    per_geo = optimize_budget(fit, by="geo", bounds=bounds, weeks=weeks, fixed=["search"])
    show(f"Per-geo plan for the next {weeks} weeks (tv +-10%, search fixed)", per_geo)

    # 3. The same with 10% more money, judged on the pessimistic (10% quantile) outcome.
    budget = 1.1 * per_geo.summary["budget"]
    cautious = optimize_budget(
        fit, budget, by="geo", bounds=(0.5, 1.6), weeks=weeks, objective="risk_adjusted"
    )
    show("Per-geo plan, +10% budget, risk-adjusted", cautious)

    # 4. How much could we spend while the last dollar still returns 1.0?
    flexible = optimize_budget(fit, by="channel", bounds=(0.5, 2.0), target_marginal_roi=1.0)
    show("Largest national budget with marginal ROI >= 1", flexible)

    # 5. Sanity: the curves behind the plan, and a what-if of the national plan.
    curves = response_curves(fit, geo="national", spend_grid=[0.5, 1.0, 1.5])
    print("\n=== National response curves (incremental KPI at 0.5x / 1x / 1.5x spend) ===")
    print(curves)
    multipliers = {
        r["channel"]: r["optimal_spend"] / r["current_spend"]
        for r in national.table.iter_rows(named=True)
    }
    what_if = scenario(fit, multipliers).filter(pl.col("geo") == "national")
    print("\n=== What-if of the national plan ===")
    print(
        what_if.select(
            "channel", "spend_change", "change_mean", "change_hdi_low", "change_hdi_high"
        )
    )


if __name__ == "__main__":
    main()
