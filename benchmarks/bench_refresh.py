"""Refresh benchmark: sequential vs full refresh on 104 + 13 simulated weeks, and drift.

For each seed: fit weeks 1-104 (NUTS), then refresh with weeks 105-117 both ways.
Reports per channel the national ROI difference (sequential - full) in units of the
full refit's posterior sd, the 90% HDI width ratio, and wall time (compile + sampling).
Drift: the same with ``effect_change={"tv": (104, 0.6)}`` (week index 104 = week 105)
vs none, counting channels flagged by what_changed (P(>10% ROI drop) > 0.9) and the
forecast-coverage alarm. One fit at a time; prints ``uptime`` load with every timing.

Run: python benchmarks/bench_refresh.py [--seeds 0 1 2] [--draws 500] [--tune 500]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import polars as pl

import geommm as gm
from geommm import sim

OPTIONS = {"n_geos": 10, "n_weeks": 117, "n_channels": 4, "n_lift_tests": 0}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(label: str, make):
    t = time.perf_counter()
    out = make()
    s = out.settings
    print(f"  {label}: {time.perf_counter() - t:.1f}s wall (compile {s.compile_seconds:.1f}s, "
          f"sampling {s.sampling_seconds:.1f}s); load {load()}", flush=True)
    return out, s.compile_seconds + s.sampling_seconds


def roi_draws(fit) -> np.ndarray:
    from geommm.analysis.roi import roi_samples

    return roi_samples(fit.forward, by="channel")[0]


def run_seed(seed: int, draws: int, tune: int, effect_change=None) -> list[dict]:
    market = sim.simulate(seed=seed, effect_change=effect_change, **OPTIONS)
    weeks = market.panel["week"].unique().sort()
    history = market.panel.filter(pl.col("week") <= weeks[103])
    kw = {"draws": draws, "tune": tune, "chains": 2, "progressbar": False}
    first, _ = timed("first fit (104 weeks)", lambda: gm.GeoMMM(market.formula, data=history, geo="geo", time="week").fit(**kw))
    seq, t_seq = timed("sequential refresh", lambda: first.refresh(market.panel, method="sequential"))
    rows = []
    changes = seq.what_changed(first)
    nat = changes.roi.filter((pl.col("metric") == "roi") & (pl.col("geo") == "national"))
    alarm = bool(changes.forecast["alarm"][0])
    coverage = float(changes.forecast["coverage"][0])
    if effect_change is None:
        full, t_full = timed("full refresh (117 weeks)", lambda: first.refresh(market.panel, method="full"))
        a, b = roi_draws(seq), roi_draws(full)
        for c, ch in enumerate(first.channels):
            hs, hf = np.quantile(a[:, c], [0.05, 0.95]), np.quantile(b[:, c], [0.05, 0.95])
            rows.append({
                "seed": seed, "channel": ch, "diff_in_sd": float((a[:, c].mean() - b[:, c].mean()) / b[:, c].std()),
                "hdi_width_ratio": float((hs[1] - hs[0]) / (hf[1] - hf[0])),
                "seconds_sequential": t_seq, "seconds_full": t_full,
            })
    drift = [{"seed": seed, "change": str(effect_change), "channel": r["channel"], "prob_down": r["prob_down"],
              "flag": r["flag"], "forecast_alarm": alarm, "coverage": coverage} for r in nat.iter_rows(named=True)]
    return rows, drift


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--skip-drift", action="store_true")
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    agree, drift = [], []
    for seed in args.seeds:
        print(f"seed {seed} (no change); load {load()}", flush=True)
        rows, d = run_seed(seed, args.draws, args.tune)
        agree += rows
        drift += d
        print(pl.DataFrame(rows), flush=True)
        if not args.skip_drift:
            print(f"seed {seed} (tv x0.6 from week 105); load {load()}", flush=True)
            drift += run_seed(seed, args.draws, args.tune, {"tv": (104, 0.6)})[1]
    print(pl.DataFrame(agree))
    print(pl.DataFrame(drift))


if __name__ == "__main__":
    main()
