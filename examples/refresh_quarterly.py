"""Quarterly refresh: fit two years, then add a quarter with the last posterior as prior.

Run: python examples/refresh_quarterly.py   (2-6 minutes on 2 cores, depending on the machine)
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
# plan here, so their effects are correlated in the posterior; nutpie's low-rank mass matrix
# learns that correlation during the warm-up, which is kept at 1000 steps here (the library's
# default is 500). Measured on this 6-geo market: the default diagonal mass matrix ended in
# a WARNING for divergent transitions with sampler seed 0 (1 in 4,000 draws at 1000 warm-up
# steps, 6 at 500), and so did the low-rank one at 500 (2); low-rank at 1000 was OK on
# seeds 0 and 1 on that machine, and left 6 on another (session 24: a simulated panel
# differs in its last bits between CPUs, and so do the draws; README, "Examples").
first = gm.GeoMMM(market.formula, data=history, geo="geo", time="week").fit(mass_matrix="low_rank", tune=1000)
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
