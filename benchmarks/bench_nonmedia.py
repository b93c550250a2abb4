"""Recovery of organic(...) and treatment(...) terms on simulated truth, over seeds (not run by the tests).

    python benchmarks/bench_nonmedia.py --seeds 0 1 2 3 4 --method laplace

Each seed simulates a panel (4 geos x 78 weeks, tv + search, two lift tests) with a
newsletter (organic, 6% of the KPI, retention 0.4, Hill K 0.8 and slope 1.5, geo
spreads) and a discount lever (+0.4% of the KPI per point, baseline 0 = the panel
minimum), fits the simulator's formula, and checks whether each truth lies inside the
central 90% interval of its posterior: the organic share, slope, per-geo retention,
half-saturation and effect, the organic term's national incremental KPI, the
treatment's coefficient and its national incremental KPI against the baseline, and
the media channels' national ROI. Writes benchmarks/results/nonmedia_<method>.md.
One job at a time: on 2 shared cores a second job doubles every wall time.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

import geommm as gm
from geommm.sim.nonmedia import nonmedia_contributions, organic_truth, treatment_truth

RESULTS = Path(__file__).parent / "results"


def interval(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return tuple(np.quantile(draws, [0.05, 0.95], axis=0))


def one_seed(seed: int, method: str, draws: int, tune: int) -> list[dict]:
    sim = gm.sim.simulate(n_geos=4, n_weeks=78, n_channels=2, seed=seed, n_lift_tests=2,
                          organic={}, treatment={})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gm.GeoMMM(sim.formula, data=sim.panel, geo="geo", time="week", lift_tests=sim.lift_tests)
        start = time.perf_counter()
        kw = dict(draws=draws, chains=2, seed=seed)
        if method == "nuts":
            kw["tune"] = tune
        fit = model.fit(method=method, progressbar=False, **kw)
        seconds = time.perf_counter() - start
    diag = fit.diagnostics().to_dict()
    post = fit.idata.posterior
    G = model.data.n_geos
    org, trt = organic_truth(sim), treatment_truth(sim)
    kpi_mean = model.data.kpi.mean(axis=1)
    true_contrib = nonmedia_contributions(sim)
    lever = sim.panel[trt.column].to_numpy()
    checks = {
        "organic_share": (post["organic_share"].values.reshape(-1), true_contrib[org.name].sum() / model.data.kpi.sum()),
        "organic_slope": (post["organic_slope"].values.reshape(-1), org.slope),
        "organic_retention (per geo)": (post["organic_retention"].values.reshape(-1, G), org.retention),
        "organic_half_saturation (per geo)": (post["organic_half_saturation"].values.reshape(-1, G), org.half_saturation),
        "organic_effect (per geo)": (post["organic_effect"].values.reshape(-1, G), org.model_effect(kpi_mean)),
        "treatment_effect": (post["treatment_effect"].values.reshape(-1), trt.model_effect(lever, kpi_mean)),
    }
    rows = []
    for name, (d, truth) in checks.items():
        lo, hi = interval(d)
        inside = (lo < truth) & (truth < hi)
        rows.append(dict(seed=seed, quantity=name, truth=np.mean(truth), low=np.mean(lo), high=np.mean(hi),
                         covered=int(np.sum(inside)), of=int(np.size(inside)), seconds=seconds,
                         divergences=diag["divergences"], max_r_hat=diag["max_r_hat"]))
    for table, name in ((fit.organic_effects(hdi_prob=0.9), org.name), (fit.treatment_effects(hdi_prob=0.9), trt.name)):
        row = table.row(0, named=True)
        truth = float(true_contrib[name].sum())
        lo, hi = row["incremental_kpi_hdi_low"], row["incremental_kpi_hdi_high"]
        rows.append(dict(seed=seed, quantity=f"incremental KPI of {name} (national)", truth=truth, low=lo, high=hi,
                         covered=int(lo < truth < hi), of=1, seconds=seconds,
                         divergences=diag["divergences"], max_r_hat=diag["max_r_hat"]))
    roi = fit.roi(by="channel", hdi_prob=0.9)
    truth_roi = dict(zip(sim.truth.roi_national["channel"], sim.truth.roi_national["roi"]))
    for r in roi.iter_rows(named=True):
        t = truth_roi[r["channel"]]
        rows.append(dict(seed=seed, quantity=f"national ROI of {r['channel']}", truth=t, low=r["roi_hdi_low"],
                         high=r["roi_hdi_high"], covered=int(r["roi_hdi_low"] < t < r["roi_hdi_high"]), of=1,
                         seconds=seconds, divergences=diag["divergences"], max_r_hat=diag["max_r_hat"]))
    return rows


def markdown(rows: list[dict], args) -> str:
    quantities = list(dict.fromkeys(r["quantity"] for r in rows))
    seeds = sorted({r["seed"] for r in rows})
    lines = [
        f"# organic(...) and treatment(...) recovery ({args.method}, seeds {seeds})",
        "",
        f"`python benchmarks/bench_nonmedia.py --seeds {' '.join(map(str, seeds))} --method {args.method}`; "
        f"load average at start {args.load}. Truth inside the central 90% interval, summed over seeds "
        "(per-geo quantities count each geo).",
        "",
        "| quantity | covered | of |",
        "|---|---|---|",
    ]
    for q in quantities:
        sel = [r for r in rows if r["quantity"] == q]
        lines.append(f"| {q} | {sum(r['covered'] for r in sel)} | {sum(r['of'] for r in sel)} |")
    per_seed = {r["seed"]: r for r in rows}
    lines += ["", "Sampler per seed: " + "; ".join(
        f"seed {s}: {r['seconds']:.0f} s, {r['divergences']} divergences, max R-hat {_num(r['max_r_hat'])}"
        for s, r in sorted(per_seed.items())) + "."]
    lines += ["", "Per seed (per-geo quantities: means over geos):", "",
              "| seed | quantity | truth | 90% low | 90% high | covered | fit s |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['seed']} | {r['quantity']} | {r['truth']:.4g} | {r['low']:.4g} | {r['high']:.4g} | "
                     f"{r['covered']}/{r['of']} | {r['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def _num(x) -> str:
    return "n/a" if x is None else f"{float(x):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--method", default="laplace", choices=("laplace", "nuts"))
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--tune", type=int, default=300)
    args = parser.parse_args()
    args.load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    rows = []
    for seed in args.seeds:
        rows += one_seed(seed, args.method, args.draws, args.tune)
        print(f"seed {seed} done ({rows[-1]['seconds']:.0f} s)", flush=True)
    text = markdown(rows, args)
    (RESULTS / f"nonmedia_{args.method}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
