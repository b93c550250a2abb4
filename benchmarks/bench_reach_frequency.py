"""Reach & frequency recovery: simulated panels with an R&F channel of known truth, fitted
with geommm; is the truth inside the 90% interval of the channel's national ROI, its
frequency curve (half-frequency K, slope n) and its optimal frequency?

    .venv/bin/python benchmarks/bench_reach_frequency.py                  # seeds 0-3, NUTS 2 x 500
    .venv/bin/python benchmarks/bench_reach_frequency.py --seeds 0,1,2 --method laplace

One fit at a time (2 cores). Prints a markdown table (docs/reach_frequency.md) and
appends it to benchmarks/results/reach_frequency.md with the load average.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import polars as pl

import geommm as gm
from geommm import sim

PANEL = {"n_geos": 6, "n_weeks": 104, "n_channels": 2, "n_lift_tests": 0}
RF = {"share": 0.1, "roi": 2.0, "half_frequency": 2.5, "slope": 2.5}


def one(seed: int, method: str, draws: int, tune: int) -> dict:
    result = sim.simulate(seed=seed, reach_frequency=RF, **PANEL)
    truth = result.settings["reach_frequency_truth"]
    model = gm.GeoMMM(result.formula, data=result.panel, geo="geo", time="week")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        options = {"draws": draws, "chains": 2, "seed": seed}
        if method == "nuts":
            options["tune"] = tune
        fit = model.fit(method=method, progressbar=False, **options)
    seconds = time.perf_counter() - start
    roi = fit.roi(by="channel").filter(pl.col("channel") == "video").row(0, named=True)
    summ = {r["parameter"]: r for r in fit.summary(var_names=["frequency_half", "frequency_slope"]).iter_rows(named=True)}
    half, slope = summ["frequency_half[video]"], summ["frequency_slope[video]"]
    best = fit.optimal_frequency().row(0, named=True)
    r_hat = fit.summary(var_names=["roi", "frequency_half", "frequency_slope"])["r_hat"].max()

    def inside(lo, hi, x):
        return "yes" if lo <= x <= hi else "**no**"

    return {
        "seed": seed, "method": method, "seconds": round(seconds, 1), "max_r_hat": r_hat,
        "roi_true": round(truth["roi"], 3), "roi_90": f"{roi['roi_hdi_low']:.2f} – {roi['roi_hdi_high']:.2f}",
        "roi_in": inside(roi["roi_hdi_low"], roi["roi_hdi_high"], truth["roi"]),
        "K_true": truth["half_frequency"], "K_90": f"{half['hdi_low']:.2f} – {half['hdi_high']:.2f}",
        "K_in": inside(half["hdi_low"], half["hdi_high"], truth["half_frequency"]),
        "n_true": truth["slope"], "n_90": f"{slope['hdi_low']:.2f} – {slope['hdi_high']:.2f}",
        "n_in": inside(slope["hdi_low"], slope["hdi_high"], truth["slope"]),
        "f*_true": round(truth["optimal_frequency"], 2),
        "f*_90": f"{best['optimal_frequency_hdi_low']:.2f} – {best['optimal_frequency_hdi_high']:.2f}",
        "f*_in": inside(best["optimal_frequency_hdi_low"], best["optimal_frequency_hdi_high"],
                        truth["optimal_frequency"]),
    }


def markdown(rows: list[dict]) -> str:
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--method", default="nuts", choices=("nuts", "laplace"))
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--tune", type=int, default=500)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "reach_frequency.md"))
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        rows.append(one(seed, args.method, args.draws, args.tune))
        print(rows[-1], flush=True)
    table = markdown(rows)
    note = (f"\n\npanel {PANEL}, R&F truth {RF}; {args.method} 2 chains x {args.draws} draws"
            f"{f' (+{args.tune} tune)' if args.method == 'nuts' else ''}; load average "
            f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n")
    print(table + note)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = out.read_text() if out.exists() else "# Reach & frequency recovery (bench_reach_frequency.py)\n"
    from geommm._atomic import write_text

    write_text(out, previous + "\n" + table + note)


if __name__ == "__main__":
    main()
