"""Time-varying media effectiveness: recovery, static agreement and cost (not run by the tests).

    python benchmarks/bench_time_varying.py --chains 2 --tune 500 --draws 500 --seeds 0 1 2
    python benchmarks/bench_time_varying.py --parts anchor --anchor-seeds 0 1   # one part alone
    python benchmarks/bench_time_varying.py --parts drift --seeds 2 --noise-draws 3  # new noise, same panel

1. Drifting panels (10 geos x 156 weeks, tv's effectiveness exp(0.3 sin(2 pi t / 104))):
   share of weeks whose true multiplier lies in the 90% HDI of ``fit.effectiveness()``,
   and whether each channel's true national ROI lies in its 90% HDI.
2. The lift test anchored in time: a noisier drifting panel with a tv go-dark at the path's
   trough, fitted with and without the test: error and band at the test's weeks, and how
   far the path moves a year away.
3. A static panel fitted static and with ``varying=True`` on tv: the national ROIs'
   difference in posterior sds of the static fit, and the amplitude's posterior.
4. The demo panel fitted static and varying: sampling wall time, divergences, max R-hat.

Writes benchmarks/results/time_varying.json and prints a markdown table. One job at a
time: on 2 shared cores a second job doubles every wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl

import geommm as gm
from geommm import sim
from geommm.analysis.roi import roi_samples
from geommm.demo import load_demo

DRIFT = {"tv": {"amplitude": 0.3, "period": 104}}
OUT = Path(__file__).parent / "results" / "time_varying.json"


def varying(formula: str, channel: str = "tv", value: str = "True") -> str:
    """``formula`` with ``channel``'s media term made time-varying."""
    out = formula.replace(f"name='{channel}')", f"name='{channel}', varying={value})")
    assert out != formula, f"no media term named {channel!r} in {formula!r}"
    return out


def fit(formula: str, panel, lifts, a, seed: int):
    model = gm.GeoMMM(formula, data=panel, geo="geo", time="week", lift_tests=lifts)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit(draws=a.draws, tune=a.tune, chains=a.chains, seed=seed, progressbar=False)
    wall = time.perf_counter() - t0
    d = result.diagnostics()
    s = result.settings
    return result, {"sampling_s": round(s.sampling_seconds, 1), "compile_s": round(s.compile_seconds, 1),
                    "wall_s": round(wall, 1), "divergences": int(d.divergences),
                    "max_r_hat": round(float(d.max_r_hat), 4),
                    "load_1min": [round(load_before, 1), round(os.getloadavg()[0], 1)]}


def roi_coverage(result, truth) -> dict[str, bool]:
    nat = result.roi(by="channel").join(truth.roi_national.select("channel", pl.col("roi").alias("true")), on="channel")
    return {r["channel"]: bool(r["roi_hdi_low"] <= r["true"] <= r["roi_hdi_high"]) for r in nat.iter_rows(named=True)}


def tilt_se(s, channel: str = "tv") -> float:
    """How well a panel can tell a tilt of ``channel``'s path from the baseline, from the truth
    alone: the standard error of a linear tilt (log multiplier -0.5 -> +0.5 over the panel) that
    each geo's own trend and yearly season cannot absorb. A tilt moves the scaled KPI by
    ``x_t r_gt`` (``r`` the channel's true response before the drift); only its part outside
    each geo's level, trend and Fourier terms informs the tilt, against the geo's noise."""
    n_geos, n_weeks = len(s.truth.geos), s.truth.effect.shape[0]
    c = s.truth.contributions.filter(pl.col("channel") == channel).sort("geo", "week")
    eff = np.asarray(s.truth.effect)[:, s.truth.channels.index(channel)]
    r = c["contribution"].to_numpy().reshape(n_geos, n_weeks) / np.asarray(s.truth.kpi_scale)[:, None] / eff
    t = np.arange(n_weeks, dtype="float64")
    x = t / (n_weeks - 1) - 0.5
    angle = 2 * np.pi * t / sim.SEASON_PERIOD
    base = np.column_stack([np.ones(n_weeks), x, np.sin(angle), np.cos(angle), np.sin(2 * angle), np.cos(2 * angle)])
    tilt = (x[None, :] * r).T  # (T, G)
    resid = tilt - base @ np.linalg.lstsq(base, tilt, rcond=None)[0]
    info = ((resid**2).sum(axis=0) / np.asarray(s.truth.noise_sd) ** 2).sum()
    return float(1.0 / np.sqrt(info))


def drifting(a, seed: int) -> dict:
    s = sim.simulate(n_geos=10, n_weeks=156, n_channels=a.channels, seed=seed, n_lift_tests=2, effect_drift=DRIFT)
    result, cost = fit(varying(s.formula), s.panel, s.lift_tests, a, seed)
    eff = result.effectiveness(hdi_prob=0.9).filter(pl.col("channel") == "tv")
    true = np.asarray(s.truth.effect)[:, s.truth.channels.index("tv")]
    inside = (eff["hdi_low"].to_numpy() <= true) & (true <= eff["hdi_high"].to_numpy())
    tv_lift = s.lift_tests.filter(pl.col("channel") == "tv")
    return {"seed": seed, "path_coverage": round(float(inside.mean()), 3),
            "path_mean_abs_err": round(float(np.abs(eff["mean"].to_numpy() - true).mean()), 3),
            "roi_covered": roi_coverage(result, s.truth), "tilt_se": round(tilt_se(s), 3),
            "tv_lift_error_in_se": [round(float((m - t) / e), 2) for m, t, e in
                                    tv_lift.select("lift", "true_lift", "lift_se").iter_rows()], **cost}


def renoised(a, seed: int, noise_draw: int) -> dict:
    """Seed ``seed``'s truth, spend and lift tests with another draw of the KPI's noise:
    whether a panel's miss is its design (repeats) or its noise draw (moves)."""
    kw = dict(n_geos=10, n_weeks=156, n_channels=a.channels, seed=seed, n_lift_tests=2, effect_drift=DRIFT)
    s, quiet = sim.simulate(**kw), sim.simulate(**kw, noise=0.0)
    G, T = 10, 156
    eps = np.random.default_rng(1000 + noise_draw).standard_normal((G, T)) * np.asarray(s.truth.noise_sd)[:, None]
    kpi = quiet.panel["revenue"].to_numpy().reshape(G, T) + np.asarray(s.truth.kpi_scale)[:, None] * eps
    panel = s.panel.with_columns(pl.Series("revenue", kpi.ravel()))
    result, cost = fit(varying(s.formula), panel, s.lift_tests, a, seed)
    eff = result.effectiveness(hdi_prob=0.9).filter(pl.col("channel") == "tv")
    true = np.asarray(s.truth.effect)[:, s.truth.channels.index("tv")]
    inside = (eff["hdi_low"].to_numpy() <= true) & (true <= eff["hdi_high"].to_numpy())
    return {"seed": seed, "noise_draw": noise_draw, "path_coverage": round(float(inside.mean()), 3),
            "path_mean_abs_err": round(float(np.abs(eff["mean"].to_numpy() - true).mean()), 3), **cost}


#: A tv go-dark in half the geos at the drift's trough (weeks 76-79 of exp(0.3 sin(2 pi t / 104)),
#: effectiveness ~0.74): the lift test the issue asks to pin the path *there*.
TROUGH_TEST = {"channel": "tv", "geos": [f"geo_{g:02d}" for g in range(0, 10, 2)], "start": 76, "weeks": 4,
               "multiplier": 0.0, "post": 4}


def lift_anchor(a, seed: int) -> dict:
    """One noisier drifting panel (noise 0.1, so the panel alone leaves the path uncertain)
    with a tv go-dark at the trough, fitted with and without the test's row."""
    halves = (TROUGH_TEST["geos"], [f"geo_{g:02d}" for g in range(1, 10, 2)])
    # tv's national plan pauses now and then: the first trough window (weeks 68-87, effectiveness
    # 0.70-0.73) where one half of the geos is live
    for start, geos in ((start, geos) for start in (76, 80, 72, 84, 68) for geos in halves):
        design = {**TROUGH_TEST, "geos": geos, "start": start}
        try:
            s = sim.simulate(n_geos=10, n_weeks=156, n_channels=a.channels, seed=seed, noise=a.anchor_noise,
                             lift_design=[design], lift_noise=0.1, effect_drift=DRIFT)
            break
        except gm.GeoMMMError:
            continue
    else:
        raise RuntimeError(f"seed {seed}: tv pauses in every trough window")
    true = np.asarray(s.truth.effect)[:, s.truth.channels.index("tv")]
    test = np.arange(design["start"], design["start"] + design["weeks"] + design["post"])
    away = np.concatenate([test - 52, test + 52])  # a year before and after: the path should stay put
    out: dict = {"seed": seed, "geos": s.lift_tests["geos"][0], "test_start_week": design["start"], "true_lift": float(s.lift_tests["true_lift"][0]),
                 "measured_lift": float(s.lift_tests["lift"][0]), "lift_se": float(s.lift_tests["lift_se"][0])}
    paths = {}
    for name, lifts in (("without", None), ("with", s.lift_tests)):
        result, cost = fit(varying(s.formula), s.panel, lifts, a, seed)
        eff = result.effectiveness(hdi_prob=0.9).filter(pl.col("channel") == "tv")
        mean, lo, hi = (eff[c].to_numpy() for c in ("mean", "hdi_low", "hdi_high"))
        paths[name] = mean
        out[name] = {
            "test_weeks_abs_err": round(float(np.abs(mean[test] - true[test]).mean()), 4),
            "test_weeks_band_width": round(float((hi - lo)[test].mean()), 4),
            "test_weeks_covered": round(float(((lo <= true) & (true <= hi))[test].mean()), 3),
            "year_away_abs_err": round(float(np.abs(mean[away] - true[away]).mean()), 4),
            "year_away_band_width": round(float((hi - lo)[away].mean()), 4),
            "path_coverage": round(float(((lo <= true) & (true <= hi)).mean()), 3), **cost}
    shift = paths["with"] - paths["without"]
    out["mean_shift_at_test_weeks"] = round(float(shift[test].mean()), 4)
    out["mean_abs_shift_year_away"] = round(float(np.abs(shift[away]).mean()), 4)
    out["true_at_test_weeks"] = round(float(true[test].mean()), 3)
    return out


def static_agreement(a) -> dict:
    s = sim.simulate(n_geos=10, n_weeks=156, n_channels=a.channels, seed=a.static_seed, n_lift_tests=2)
    static, cost_s = fit(s.formula, s.panel, s.lift_tests, a, a.static_seed)
    moving, cost_v = fit(varying(s.formula), s.panel, s.lift_tests, a, a.static_seed)
    rs, _ = roi_samples(static.forward, by="channel")
    rv, _ = roi_samples(moving.forward, by="channel")
    gap = np.abs(rv.mean(axis=0) - rs.mean(axis=0)) / rs.std(axis=0)
    amp = moving.idata.posterior["effect_path_amplitude"].values.reshape(-1)
    eff = moving.effectiveness().filter(pl.col("channel") == "tv")
    return {"roi_gap_in_sd": dict(zip(static.channels, np.round(gap, 3).tolist())),
            "amplitude_mean": round(float(amp.mean()), 4),
            "amplitude_q90": round(float(np.quantile(amp, 0.9)), 4),
            "amplitude_prior_mean": round(0.15 * np.sqrt(2 / np.pi), 4),
            "multiplier_range_of_means": [round(float(eff["mean"].min()), 3), round(float(eff["mean"].max()), 3)],
            "static": cost_s, "varying": cost_v}


def demo_cost(a) -> dict:
    """The static demo, then tv varying with each ``--demo-variants`` value (one fit at a time)."""
    demo = load_demo()
    _, cost_s = fit(demo.formula, demo.panel, demo.lift_tests, a, 1)
    out: dict = {"static": cost_s}
    for value in a.demo_variants:
        _, cost_v = fit(varying(demo.formula, value=value), demo.panel, demo.lift_tests, a, 1)
        out[f"varying={value}"] = {**cost_v, "sampling_ratio": round(cost_v["sampling_s"] / max(cost_s["sampling_s"], 1e-9), 2)}
        print(json.dumps(out[f"varying={value}"]), flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--static-seed", type=int, default=7)
    p.add_argument("--demo-variants", nargs="+", default=["True"], help="varying= values for tv on the demo")
    p.add_argument("--anchor-seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--anchor-noise", type=float, default=0.1)
    p.add_argument("--parts", nargs="+", default=["drift", "anchor", "static", "demo"],
                   choices=["drift", "anchor", "static", "demo"])
    p.add_argument("--noise-draws", type=int, default=0, metavar="K",
                   help="with drift: refit each seed K more times with new KPI noise (same truth and design)")
    p.add_argument("--out", type=Path, default=OUT, help="JSON file (parts not run keep their old entry)")
    a = p.parse_args()
    out: dict = json.loads(a.out.read_text()) if a.out.exists() else {}
    out["run"] = f"nutpie {a.chains} chains x {a.tune}+{a.draws}, {a.channels} channels (drift/anchor/static)"
    if "drift" in a.parts:
        out["drifting"] = [r for r in out.get("drifting", []) if r["seed"] not in a.seeds]
        for seed in a.seeds:
            out["drifting"].append(drifting(a, seed))
            print(json.dumps(out["drifting"][-1]), flush=True)
        if a.noise_draws:
            out["renoised"] = [r for r in out.get("renoised", []) if r["seed"] not in a.seeds]
            for seed in a.seeds:
                for k in range(a.noise_draws):
                    out["renoised"].append(renoised(a, seed, k))
                    print(json.dumps(out["renoised"][-1]), flush=True)
    if "anchor" in a.parts:
        out["lift_anchor"] = [r for r in out.get("lift_anchor", []) if r["seed"] not in a.anchor_seeds]
        for seed in a.anchor_seeds:
            out["lift_anchor"].append(lift_anchor(a, seed))
            print(json.dumps(out["lift_anchor"][-1]), flush=True)
    if "static" in a.parts:
        out["static_panel"] = static_agreement(a)
        print(json.dumps(out["static_panel"]), flush=True)
    if "demo" in a.parts:
        out["demo_cost"] = demo_cost(a)
        print(json.dumps(out["demo_cost"]), flush=True)
    a.out.parent.mkdir(exist_ok=True)
    a.out.write_text(json.dumps(out, indent=1))
    print(f"\n{out['run']}\n")
    for r in out.get("drifting", []):
        print(f"| drift seed {r['seed']} | path in 90% band {r['path_coverage']:.0%} | ROI covered "
              f"{sum(r['roi_covered'].values())}/{len(r['roi_covered'])} (tv {r['roi_covered'].get('tv')}) | "
              f"tilt se {r.get('tilt_se')} | tv lift test error {r.get('tv_lift_error_in_se')} se | "
              f"{r['sampling_s']} s, {r['divergences']} div, R-hat {r['max_r_hat']} |")


if __name__ == "__main__":
    main()
