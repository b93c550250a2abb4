"""How visible is the drift benchmark's tv drop on each seed's panel, for any method?

The drift check of ``bench_refresh.py`` cuts tv's true response by 40% from week 105
(of 117). Whether 13 new weeks can show that depends on the panel's own noise draw, not
only on the refresh. This script asks an *oracle* that knows every true parameter
except tv's effectiveness on the new weeks: it regresses the new weeks' residual
(KPI minus everything else true) on tv's true contribution, by weighted least squares
with the true noise sd, (a) with the baseline known and (b) with a free level per geo
(as a refresh must allow: the trend and baseline are uncertain too). Its estimate of
tv's factor (true 0.6) and its standard error bound what any refresh can report; the
flag needs P(factor < 0.9) > 0.9, i.e. roughly factor + 1.28 se < 0.9, before the
refresh's own uncertainty about the pre-change effect (which the oracle knows) is added.

Numpy only, seconds. Run: python benchmarks/refresh_drift_oracle.py [--seeds 0 1 2 3 4]
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl
from scipy.stats import norm

import geommm.sim.generate as generate
from geommm import sim

OPTIONS = {"n_geos": 6, "n_weeks": 117, "n_channels": 3, "n_lift_tests": 0}  # as bench_refresh.py
FIRST_NEW, FACTOR = 104, 0.6


def oracle(seed: int) -> dict:
    captured = {}
    original = generate._baseline

    def keep(*args, **kwargs):  # the simulator's true baseline parts, captured as made
        captured["base"] = original(*args, **kwargs)
        return captured["base"]

    generate._baseline = keep
    try:
        market = sim.simulate(seed=seed, **OPTIONS)
    finally:
        generate._baseline = original
    truth, base = market.truth, captured["base"]
    G, T = len(truth.geos), OPTIONS["n_weeks"]
    scale = np.asarray(truth.kpi_scale, dtype="float64")
    panel = market.panel.sort("geo", "week")
    if panel["geo"].unique(maintain_order=True).to_list() != list(truth.geos):
        raise RuntimeError("the panel's geo order differs from the truth's")
    y = panel["revenue"].to_numpy().reshape(G, T) / scale[:, None]
    contributions = truth.contributions.sort("geo", "week")
    media, tv = np.zeros((G, T)), None
    for channel in truth.channels:
        c = contributions.filter(pl.col("channel") == channel)["contribution"].to_numpy().reshape(G, T) / scale[:, None]
        media += c
        tv = c if channel == "tv" else tv
    eps = y - np.asarray(truth.intercept)[:, None] - (base["season"] + base["trend"] + base["controls"]) - media
    sd = np.asarray(truth.noise_sd, dtype="float64")
    c, e, w = tv[:, FIRST_NEW:], eps[:, FIRST_NEW:], 1.0 / sd[:, None] ** 2
    row = {"seed": seed, "drop_share_of_new_kpi": float((1 - FACTOR) * c.sum() / (y[:, FIRST_NEW:].sum()))}
    for label, (cc, ee) in {"known_baseline": (c, e),
                            "free_geo_level": (c - c.mean(1, keepdims=True), e - e.mean(1, keepdims=True))}.items():
        info = float((cc * cc * w).sum())
        est, se = FACTOR + float((ee * cc * w).sum()) / info, 1.0 / np.sqrt(info)
        row[f"{label}_factor"], row[f"{label}_se"] = est, se
        row[f"{label}_P_drop_gt_10pct"] = float(norm.cdf((0.9 - est) / se))  # flat prior, effect before known
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = p.parse_args()
    with pl.Config(tbl_cols=-1, tbl_width_chars=200, float_precision=3):
        print(pl.DataFrame([oracle(s) for s in args.seeds]))


if __name__ == "__main__":
    main()
