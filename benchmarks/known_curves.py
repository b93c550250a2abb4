"""What a simulated panel itself says about each channel, if the curves were known.

    python benchmarks/known_curves.py --demo
    python benchmarks/known_curves.py --seeds 100-129 --geos 5 --weeks 104 --channels 4

A 90% interval misses the truth one time in ten even for a perfect model, and on a
single panel the noise can make a small channel look weaker or stronger than it is.
This separates the panel's noise from the model's bias: with the simulator's true
carryover and saturation per geo, the media effects are linear, so ordinary least
squares per geo (own level, controls, seasonality and trend) gives an unbiased
estimate of every channel's national ROI and its standard error. ``z`` is
(estimate - truth) / se: |z| near 2 means the panel itself points away from the
truth, and no calibrated model fit to it can centre on the truth.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

import geommm as gm
from geommm import sim
from geommm.demo import load_demo


def known_curve_roi(result: sim.SimulatedPanel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """National ROI per channel by least squares with the true curves: (estimate, se, truth)."""
    p = result.truth.media_params
    data = gm.GeoMMM(result.formula, data=result.panel, geo="geo", time="week").data
    inputs, spend = data.media_input, data.spend
    # the true response per unit of effect: in the panel (the regressors) and with the
    # carryover after the last week (what ROI counts), from the simulator's own maths
    per_effect = p.kpi_scale[:, None, None] * p.beta[:, None, :]
    response = sim.media_contributions(inputs, p) / per_effect  # (G, T, C)
    total = sim.media_contributions(inputs, p, pad=p.max_lag - 1).sum(axis=1) / p.beta  # (G, C)
    G, T, C = response.shape
    baseline = [np.ones((T, 1)), data.fourier]
    if data.trend is not None and np.ndim(data.trend):
        baseline.append(np.asarray(data.trend).reshape(T, 1))
    rows = []
    for g in range(G):
        own = np.hstack([*baseline, data.controls[g]])
        media = np.zeros((T, G * C))
        media[:, g * C:(g + 1) * C] = response[g]
        rows.append(np.hstack([np.kron(np.eye(G)[g][None, :], own), media]))
    X, y = np.vstack(rows), data.kpi_scaled.reshape(-1)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    cov = resid.var() * len(y) / (len(y) - X.shape[1]) * np.linalg.pinv(X.T @ X)
    first = X.shape[1] - G * C
    # national contribution = sum_g beta_gc * total_gc: linear in the fitted effects
    spent = spend.sum(axis=(0, 1))
    est, se = np.empty(C), np.empty(C)
    for c in range(C):
        w = np.zeros(X.shape[1])
        w[first + np.arange(G) * C + c] = total[:, c]
        est[c], se[c] = w @ coef / spent[c], np.sqrt(w @ cov @ w) / spent[c]
    return est, se, sim.true_roi(inputs, spend, p, national=True)


def _report(label: str, result: sim.SimulatedPanel) -> np.ndarray:
    est, se, true = known_curve_roi(result)
    z = (est - true) / se
    cells = "  ".join(f"{ch} {e:.2f}±{s:.2f} (true {tr:.2f}, z {zz:+.1f})"
                      for ch, e, s, tr, zz in zip(result.truth.channels, est, se, true, z))
    print(f"{label}: {cells}")
    return z


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--demo", action="store_true", help="the embedded demo panel")
    p.add_argument("--seeds", default="100-109", help="a range a-b or a comma list")
    p.add_argument("--geos", type=int, default=5)
    p.add_argument("--weeks", type=int, default=104)
    p.add_argument("--channels", type=int, default=4)
    a = p.parse_args()
    warnings.simplefilter("ignore")
    if a.demo:
        _report("demo", load_demo())
        return
    if "-" in a.seeds:
        lo, hi = (int(x) for x in a.seeds.split("-"))
        seeds = range(lo, hi + 1)
    else:
        seeds = [int(x) for x in a.seeds.split(",")]
    zs = np.array([_report(f"seed {s}", sim.simulate(n_geos=a.geos, n_weeks=a.weeks,
                                                     n_channels=a.channels, seed=s, n_lift_tests=0))
                   for s in seeds])
    print(f"\nz over {len(zs)} panels: mean {np.round(zs.mean(0), 2)}, sd {np.round(zs.std(0), 2)} "
          "(a correct yardstick gives ~0 and ~1)")


if __name__ == "__main__":
    main()
