"""Recovery of a multiplicative KPI: ``log(revenue) ~ ...`` fitted on simulated multiplicative
markets (``sim.simulate(kpi="log")``), not run by the tests.

    python benchmarks/bench_log_kpi.py --chains 2 --tune 400 --draws 400 --seeds 0 1 2
    python benchmarks/bench_log_kpi.py --kpi additive ...   # the same markets, additive


Per seed: NUTS on a 6 geos x 78 weeks x 3 channels panel with two lift tests; whether
each channel's true national ROI and marginal ROI (KPI units, by counterfactual on the
mean KPI) lie in the 90% HDI, per-geo ROI coverage, lift tests' true lift inside the
implied 90% HDI, and the run's divergences, max R-hat and wall time. Writes
benchmarks/results/log_kpi.json and prints the markdown table of docs/log_kpi.md. One
job at a time: on 2 shared cores a second job doubles every wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import polars as pl

import geommm as gm
from geommm import sim

PANEL = {"n_geos": 6, "n_weeks": 78, "n_channels": 3, "n_lift_tests": 2, "kpi": "log"}
RESULTS = Path(__file__).parent / "results"


def covered(table: pl.DataFrame, truth: pl.DataFrame, value: str, on: list[str]) -> pl.DataFrame:
    both = table.join(truth.select(*on, pl.col(value).alias("true")), on=on)
    return both.with_columns(covered=(pl.col("roi_hdi_low") <= pl.col("true")) & (pl.col("true") <= pl.col("roi_hdi_high")))


def run(seed: int, a) -> dict:
    market = sim.simulate(seed=seed, **{**PANEL, "kpi": a.kpi})
    model = gm.GeoMMM(market.formula, data=market.panel, geo="geo", time="week", lift_tests=market.lift_tests)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(draws=a.draws, tune=a.tune, chains=a.chains, seed=seed, progressbar=False)
    wall = time.perf_counter() - t0
    d = fit.diagnostics()
    t = market.truth
    roi = covered(fit.roi(by="channel"), t.roi_national, "roi", ["channel"])
    mroi = covered(fit.marginal_roi(by="channel"), t.marginal_roi_national, "marginal_roi", ["channel"])
    geo = covered(fit.roi(by="geo"), t.roi, "roi", ["geo", "channel"])
    lift = fit.lift_test_check().join(market.lift_tests.select("test_id", "true_lift"), on="test_id")
    lift_in = ((lift["implied_hdi_low"] <= lift["true_lift"]) & (lift["true_lift"] <= lift["implied_hdi_high"]))
    return {
        "seed": seed,
        "roi": [{k: r[k] for k in ("channel", "true", "roi_mean", "roi_hdi_low", "roi_hdi_high", "covered")}
                for r in roi.iter_rows(named=True)],
        "marginal_roi_covered": int(mroi["covered"].sum()), "n_channels": roi.height,
        "geo_roi_covered": int(geo["covered"].sum()), "n_geo_cells": geo.height,
        "lift_covered": int(lift_in.sum()), "n_lifts": lift.height,
        "divergences": int(d.divergences), "max_r_hat": round(float(d.max_r_hat), 4),
        "wall_s": round(wall, 1), "load": round(os.getloadavg()[0], 1),
    }


def table(rows: list[dict]) -> str:
    lines = ["| seed | channel | true ROI | ROI mean | 90% HDI | inside | marginal ROI inside | geo ROI inside | lift inside | divergences | max R-hat | wall s (load) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        for i, c in enumerate(r["roi"]):
            tail = (f"{r['marginal_roi_covered']}/{r['n_channels']} | {r['geo_roi_covered']}/{r['n_geo_cells']} | "
                    f"{r['lift_covered']}/{r['n_lifts']} | {r['divergences']} | {r['max_r_hat']} | "
                    f"{r['wall_s']} ({r['load']})") if i == 0 else " | | | | | "
            lines.append(f"| {r['seed'] if i == 0 else ''} | {c['channel']} | {c['true']:.2f} | {c['roi_mean']:.2f} | "
                         f"{c['roi_hdi_low']:.2f}-{c['roi_hdi_high']:.2f} | {'yes' if c['covered'] else 'NO'} | {tail} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--tune", type=int, default=400)
    p.add_argument("--draws", type=int, default=400)
    p.add_argument("--kpi", choices=["log", "additive"], default="log")
    a = p.parse_args()
    out = RESULTS / ("log_kpi.json" if a.kpi == "log" else "log_kpi_additive.json")
    rows = []
    for seed in a.seeds:
        rows.append(run(seed, a))
        print(json.dumps(rows[-1]), flush=True)
        out.write_text(json.dumps({"panel": PANEL, "settings": vars(a), "runs": rows}, indent=1))
    print(table(rows))


if __name__ == "__main__":
    main()
