"""Sequential-refresh variants vs a full refit of the same parent: prior shrinkage and effect_shift_sd.

Per seed: fit 104 weeks, refit all 117 (``method="full"``), then sequential refreshes
with each (prior_shrinkage, effect_shift_sd); with tv x0.6 from week 105 the same
without the full refit. Writes benchmarks/results/refresh_variants.csv.

Run: PYTHONPATH=. python benchmarks/refresh_variants.py 0 2   (seeds; ~10 min each on a busy 2-core machine)
"""
import sys
import time
import warnings

import numpy as np
import polars as pl

import geommm as gm
from geommm import sim
from geommm.analysis.roi import roi_samples
warnings.filterwarnings("ignore")
OPTIONS = {"n_geos": 6, "n_weeks": 117, "n_channels": 3, "n_lift_tests": 0}
rows = []
for seed in map(int, sys.argv[1:]):
    for change in (None, {"tv": (104, 0.6)}):
        m = sim.simulate(seed=seed, effect_change=change, **OPTIONS)
        w = m.panel["week"].unique().sort()
        first = gm.GeoMMM(m.formula, data=m.panel.filter(pl.col("week") <= w[103]), geo="geo", time="week").fit(draws=400, tune=400, chains=2, progressbar=False)
        if change is None:
            full = first.refresh(m.panel, method="full"); b = roi_samples(full.forward, by="channel")[0]
        for shrink, sd in ((0.2, 0.25), (0.0, 0.25), (0.05, 0.25), (0.0, 0.5), (0.0, 0.0)):
            if change is not None and sd == 0: continue
            t = time.perf_counter()
            seq = first.refresh(m.panel, method="sequential", prior_shrinkage=shrink, effect_shift_sd=sd)
            t = time.perf_counter() - t
            a = roi_samples(seq.forward, by="channel")[0]
            sh = seq.what_changed(first, budget=False).shift
            for c, ch in enumerate(first.channels):
                r = {"seed": seed, "change": change is not None, "shrink": shrink, "shift_sd": sd, "channel": ch, "secs": t}
                if change is None:
                    r["diff_sd"] = float((a[:, c].mean() - b[:, c].mean()) / b[:, c].std())
                    r["width"] = float(np.subtract(*np.quantile(a[:, c], [.95, .05])) / np.subtract(*np.quantile(b[:, c], [.95, .05])))
                if sh.height:
                    r["p_down"] = sh["prob_down"][c]
                rows.append(r)
            print(pl.DataFrame(rows).tail(3), flush=True)
pl.DataFrame(rows).write_csv(__file__.rsplit("/", 1)[0] + "/results/refresh_variants.csv")
with pl.Config(tbl_rows=200): print(pl.DataFrame(rows))
