"""Sequential refresh with the sampler-space prior vs the geo-level prior vs a full refit.

For each seed: a first fit on 104 of the benchmark panel's 117 weeks (cached in
``--cache``), a full refit on all 117 weeks, then both sequential refreshes. Prints
one row per fit: compile and sampling seconds, their ratio to the full refit's,
leapfrog steps per draw, and per channel the national ROI's difference from the
full refit (in the full refit's sds) and its 90% interval width over the full
refit's. docs/refresh.md holds a run on a quiet machine:

    PYTHONPATH=. python benchmarks/refresh_prior_space.py --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import polars as pl

import geommm as gm
from geommm import sim
from geommm.analysis.roi import roi_samples

sys.path.insert(0, str(Path(__file__).parent))
from bench_refresh import OPTIONS  # noqa: E402  (same panel as the refresh benchmark)


def first_fit(seed: int, cache: Path):
    path = cache / f"parent{seed}"
    if path.exists():
        return gm.load_fit(path)
    market = sim.simulate(seed=seed, **OPTIONS)
    weeks = market.panel["week"].unique().sort()
    history = market.panel.filter(pl.col("week") <= weeks[103])
    fit = gm.GeoMMM(market.formula, data=history, geo="geo", time="week").fit(
        draws=400, tune=400, chains=2, seed=seed
    )
    fit.save(path)
    return fit


def run(seed: int, cache: Path) -> list[dict]:
    market = sim.simulate(seed=seed, **OPTIONS)
    first = first_fit(seed, cache)
    fits = {"full": first.refresh(market.panel, method="full")}
    for space in ("sampler", "geo_level"):
        fits[space] = first.refresh(market.panel, method="sequential", prior_space=space)
    reference = roi_samples(fits["full"].forward, by="channel")[0]
    full = fits["full"].settings
    rows = []
    for name, fit in fits.items():
        roi = roi_samples(fit.forward, by="channel")[0]
        s = fit.settings
        row = {
            "seed": seed, "fit": name, "compile": s.compile_seconds, "sampling": s.sampling_seconds,
            "ratio": (s.compile_seconds + s.sampling_seconds) / (full.compile_seconds + full.sampling_seconds),
            "steps": float(fit.idata.sample_stats["n_steps"].mean()), "load": os.getloadavg()[0],
        }
        for c, channel in enumerate(first.channels):
            width = np.subtract(*np.quantile(roi[:, c], [0.95, 0.05]))
            width_full = np.subtract(*np.quantile(reference[:, c], [0.95, 0.05]))
            row[f"{channel}_diff_sd"] = float((roi[:, c].mean() - reference[:, c].mean()) / reference[:, c].std())
            row[f"{channel}_width"] = float(width / width_full)
        rows.append(row)
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--cache", type=Path, default=Path("/tmp/geommm-refresh-parents"))
    p.add_argument("--out", type=Path, default=None, help="CSV of the rows")
    args = p.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    rows = [r for seed in args.seeds for r in run(seed, args.cache)]
    if args.out:
        pl.DataFrame(rows).write_csv(args.out)


if __name__ == "__main__":
    main()
