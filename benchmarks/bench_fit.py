"""Fit speed and recovery on geommm's standard simulated panel (not run by the test suite).

    python benchmarks/bench_fit.py --geos 20 --weeks 156 --channels 5 --chains 4 --draws 1000

Prints compile and sampling seconds separately, CPU seconds, divergences, max R-hat,
min bulk ESS, ESS per second, and national / per-geo ROI error and 90% HDI coverage
against the simulator's truth. Run one benchmark at a time: on 2 cores a second job
doubles the wall time.
"""

from __future__ import annotations

import argparse
import resource
import time
import warnings

import polars as pl

import geommm as gm
from geommm import sim


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--geos", type=int, default=20)
    p.add_argument("--weeks", type=int, default=156)
    p.add_argument("--channels", type=int, default=5)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lift-tests", type=int, default=0)
    p.add_argument("--sampler", default="nutpie")
    p.add_argument("--mass-matrix", default="draws", choices=("draws", "gradients", "low_rank"),
                   help="nutpie's mass-matrix adaptation (default %(default)s)")
    p.add_argument("--precision", default="auto", choices=("auto", "float64", "float32"),
                   help="arithmetic of the density during NUTS (default %(default)s, as the library's)")
    p.add_argument("--worst", type=int, default=5, help="print the N parameters with the highest R-hat")
    p.add_argument("--save", help="write the posterior (InferenceData netCDF) here for a closer look")
    a = p.parse_args()

    result = sim.simulate(n_geos=a.geos, n_weeks=a.weeks, n_channels=a.channels, seed=a.seed,
                          n_lift_tests=a.lift_tests)
    lifts = result.lift_tests if a.lift_tests else None
    t0 = time.perf_counter()
    model = gm.GeoMMM(result.formula, data=result.panel, geo="geo", time="week", lift_tests=lifts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(draws=a.draws, tune=a.tune, chains=a.chains, sampler=a.sampler, seed=a.seed,
                        mass_matrix=a.mass_matrix, precision=a.precision, progressbar=False)
    wall = time.perf_counter() - t0
    d = fit.diagnostics()
    s = fit.settings
    nat = fit.roi(by="channel").join(
        result.truth.roi_national.select("channel", pl.col("roi").alias("true")), on="channel")
    geo = fit.roi(by="geo").join(
        result.truth.roi.select("geo", "channel", pl.col("roi").alias("true")), on=["geo", "channel"])

    def err(t):
        return ((t["roi_mean"] / t["true"] - 1).abs()).mean()

    def cover(t):
        return ((t["roi_hdi_low"] <= t["true"]) & (t["true"] <= t["roi_hdi_high"])).mean()

    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    rows = {
        "panel": f"{a.geos} geos x {a.weeks} weeks x {a.channels} channels",
        "run": f"{s.sampler} {a.chains} chains x {a.tune}+{a.draws}, {s.precision}",
        "compile_s": round(s.compile_seconds, 1),
        "sampling_s": round(s.sampling_seconds, 1),
        "total_wall_s": round(wall, 1),
        "cpu_s": round(s.cpu_seconds, 1),
        "leapfrog_per_draw": round(float(fit.idata.sample_stats["n_steps"].values.mean()), 1)
        if "n_steps" in fit.idata.sample_stats else "n/a",
        "divergences": d.divergences,
        "max_r_hat": round(d.max_r_hat, 4),
        "min_ess_bulk": round(d.min_ess_bulk),
        "ess_per_s": round(d.min_ess_bulk / max(s.sampling_seconds + s.compile_seconds, 1e-9), 2),
        "peak_rss_gb": round(peak_gb, 2),
        "national_roi_mean_abs_err": round(err(nat), 3),
        "national_hdi90_coverage": round(cover(nat), 2),
        "geo_roi_mean_abs_err": round(err(geo), 3),
        "geo_hdi90_coverage": round(cover(geo), 2),
    }
    width = max(map(len, rows))
    for k, v in rows.items():
        print(f"{k:<{width}}  {v}")
    print(nat)
    if a.worst:
        import arviz as az

        table = az.summary(fit.idata, kind="diagnostics")
        print(table.sort_values("r_hat", ascending=False).head(a.worst)[["ess_bulk", "ess_tail", "r_hat"]])
    if a.save:
        fit.idata.to_netcdf(a.save)


if __name__ == "__main__":
    main()
