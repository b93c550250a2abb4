"""Quarterly refresh: fit two years, then add a quarter with the last posterior as prior.

Run: python examples/refresh_quarterly.py   (about 1.5 minutes on 2 cores: 84-87 s measured)
"""

import polars as pl

import geommm as gm
from geommm import sim

# Two years plus a quarter of a simulated market; TV loses 40% of its effect in the new quarter.
market = sim.simulate(n_geos=6, n_weeks=117, n_channels=3, seed=7, effect_change={"tv": (104, 0.6)})
weeks = market.panel["week"].unique().sort()
history = market.panel.filter(pl.col("week") <= weeks[103])
quarter = market.panel.filter(pl.col("week") > weeks[103])  # the new weeks alone

# The default 4 x 1000 draws: the sequential refresh's prior is a Gaussian fitted to them, and
# fewer draws make it noisier (docs/refresh.md, "Benchmark"). tv and search are bought on one
# plan here, which makes the posterior harder; the warm-up is 1000 steps (the library's
# default is 500). Measured on this market (session 25, sampler seed 0): 500 warm-up steps
# left 2 divergent transitions in 4,000 draws (WARNING), 1000 ended OK (R-hat 1.005) and
# sampled 47 s against 38 s; the low-rank mass matrix at 1000 also left 2.
first = gm.GeoMMM(market.formula, data=history, geo="geo", time="week").fit(tune=1000)
first.save("fit_q0.nc")
print("Diagnostics, first fit:", first.diagnostics())

# Sequential: fast, the 13 new weeks against the previous posterior; scales frozen.
refreshed = gm.load_fit("fit_q0.nc").refresh(quarter, method="sequential")
refreshed.save("fit_q1.nc")
print("Diagnostics, refreshed:", refreshed.diagnostics())
print("lineage:", gm.load_fit("fit_q1.nc").lineage)

changes = refreshed.what_changed(first)  # also kept as refreshed.changes for the report
print(changes.summary)  # leads with the decision
print(changes.shift)  # per channel: effectiveness in the new weeks vs before (effect_shift)
print(changes.forecast)  # the last fit's forecast of the new weeks: MAPE, coverage, alarm
print(changes.budget)  # recommended spend change per channel, before vs after
print(changes.roi.filter(pl.col("geo") == "national"))
refreshed.report("refresh_q1.html")  # with a "What changed since the last fit" section
