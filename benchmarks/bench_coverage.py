"""Interval calibration over many simulated panels: how often do 90% HDIs cover the truth?

    python benchmarks/bench_coverage.py --seeds 10 --geos 5 --weeks 104 --channels 3

One seed says little (a 90% interval misses 1 channel in 4 a third of the time);
this fits the same model on ``--seeds`` independent panels from geommm's simulator
and reports national and per-geo ROI coverage and the mean signed error (bias) per
channel, and the standardised error (truth - posterior mean) / posterior sd, whose
mean is the bias in posterior sds and whose sd is ~1 for calibrated intervals
(the sd is read off the 90% HDI). Nominal coverage is 90%.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import polars as pl

import geommm as gm
from geommm import sim


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--first-seed", type=int, default=100)
    p.add_argument("--geos", type=int, default=5)
    p.add_argument("--weeks", type=int, default=104)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--save", help="write the per-seed rows (parquet) here")
    a = p.parse_args()
    rows = []
    t0 = time.perf_counter()
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        r = sim.simulate(n_geos=a.geos, n_weeks=a.weeks, n_channels=a.channels, seed=seed, n_lift_tests=0)
        model = gm.GeoMMM(r.formula, data=r.panel, geo="geo", time="week")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = model.fit(draws=a.draws, tune=a.draws, chains=a.chains, seed=seed, progressbar=False)
        d = fit.diagnostics()
        for level, keys, truth in (("national", ["channel"], r.truth.roi_national),
                                   ("geo", ["geo", "channel"], r.truth.roi)):
            by = "channel" if level == "national" else "geo"
            t = fit.roi(by=by, hdi_prob=0.9).join(truth.select(*keys, pl.col("roi").alias("true")), on=keys)
            rows.append(t.select(
                "channel", pl.lit(level).alias("level"), pl.lit(seed).alias("seed"),
                ((pl.col("roi_hdi_low") <= pl.col("true")) & (pl.col("true") <= pl.col("roi_hdi_high"))).alias("covered"),
                (pl.col("roi_mean") / pl.col("true") - 1).alias("rel_error"),
                # standardised error, posterior sd read off the 90% HDI: a calibrated
                # model gives mean ~0 and sd ~1 over many panels
                ((pl.col("true") - pl.col("roi_mean"))
                 / ((pl.col("roi_hdi_high") - pl.col("roi_hdi_low")) / 3.29)).alias("z"),
                pl.lit(d.divergences).alias("divergences"), pl.lit(d.max_r_hat).alias("max_r_hat"),
            ))
        print(f"seed {seed}: {d.divergences} divergences, max R-hat {d.max_r_hat:.3f}", flush=True)
    res = pl.concat(rows)
    if a.save:
        res.write_parquet(a.save)
    print(f"\n{a.seeds} panels of {a.geos} geos x {a.weeks} weeks x {a.channels} channels, "
          f"{a.chains} x {a.draws}+{a.draws} NUTS, {time.perf_counter() - t0:.0f} s")
    summary = res.group_by("level", "channel", maintain_order=True).agg(
        pl.len().alias("n"), pl.col("covered").mean().round(2).alias("coverage_90"),
        pl.col("rel_error").mean().round(3).alias("mean_rel_error"),
        pl.col("rel_error").abs().mean().round(3).alias("mean_abs_rel_error"),
        pl.col("z").mean().round(2).alias("z_mean"), pl.col("z").std().round(2).alias("z_sd"))
    with pl.Config(tbl_rows=50, tbl_width_chars=120):
        print(summary)
        print(res.group_by("level").agg(pl.len().alias("n"), pl.col("covered").mean().round(3).alias("coverage_90")))
    print("runs with divergences:", int((res.filter(pl.col("level") == "national")
                                          .group_by("seed").agg(pl.col("divergences").first())["divergences"] > 0).sum()))
    print("max R-hat over runs:", float(np.round(res["max_r_hat"].max(), 3)))


if __name__ == "__main__":
    main()
