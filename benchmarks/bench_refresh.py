"""Refresh benchmark: sequential refresh vs a full refit on 104 + 13 simulated weeks, and drift.

One command runs every seed and reports every seed. Per seed:

- a first fit on weeks 1-104 (NUTS 4 x 1000 after 1000 tuning steps, the library's default;
  cached in ``--cache``
  so a re-run reuses it, which is also how the lead can re-time the refreshes alone);
- (the first ``--agree`` seeds) a full refit on all 117 weeks (``method="full"``, the
  parent's tuning, ``--draws`` draws per chain) and a sequential refresh at the same
  draws, the current defaults (``prior_space="sampler"``; ``--reference-sums``
  picks exact sums, the default, or the quadrature). Per channel: the national ROI difference (sequential - full) in the
  full refit's posterior sds, the 90% interval width ratio; both fit the refresh's step
  change in effectiveness (``effect_shift``), and the same comparison runs again with
  constant effects in both (``effect_shift_sd=0``); time as compile +
  sampling (wall) and as CPU seconds of the whole ``refresh`` call;
- drift: the same panel with tv's true response cut by 40% from week 105 on (revenue
  minus 0.4 x tv's true contribution on those weeks: the parent is the same fit) and
  without; per channel P(the new weeks' ROI fell > 10%) and the flag (> 0.9), and the
  forecast-coverage alarm.

``--exact-seed`` also times a sequential refresh with the other reference sums on that
seed, and every seed reports the quadrature's largest error at the draws its refresh
visited. One fit at a time; the load average is printed with
every timing; a tiny fit first takes the process's one-off compile start-up off the
first timed refresh (added after the session-8 table in docs/refresh.md, whose seed 0
sequential compile carries it). Results: ``benchmarks/results/refresh.md`` (rewritten
after each seed).

Run: python benchmarks/bench_refresh.py --seeds 0 1 2 3 4 --agree 3 --draws 1000 [--reference-sums quadrature]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl

import geommm as gm
from geommm import sim
from geommm.analysis.roi import roi_samples

OPTIONS = {"n_geos": 6, "n_weeks": 117, "n_channels": 3, "n_lift_tests": 0}
CHANGE = ("tv", 104, 0.6)  # channel, first changed week (0-based), factor
#: the library's default NUTS fit (4 x 1000 after 1000 tuning steps): the Gaussian prior of
#: a sequential refresh summarises these draws (2 x 500 left it noisier than the bar allows)
PARENT = {"draws": 1000, "tune": 1000, "chains": 4}
#: refreshes: 2 chains x --draws each (the parent's would be 4)
CHAINS = 2
OUT = Path(__file__).parent / "results" / "refresh.md"


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def first_fit(seed: int, market, cache: Path):
    """The fit on weeks 1-104 (cached: the same parent for every comparison of a seed)."""
    path = cache / f"parent{seed}"
    if path.exists():
        return gm.load_fit(path)
    weeks = market.panel["week"].unique().sort()
    history = market.panel.filter(pl.col("week") <= weeks[103])
    fit = gm.GeoMMM(market.formula, data=history, geo="geo", time="week").fit(
        seed=seed, progressbar=False, **PARENT
    )
    fit.save(path)
    return fit


def warm_up() -> None:
    """One tiny NUTS fit before anything is timed: the first model a process compiles
    also pays JAX's and PyTensor's start-up (seed 0's first sequential refresh compiled
    in 58.7 s, its twin later in 21.2 s, at load ~12), which no later fit pays."""
    tiny = sim.simulate(seed=99, n_geos=2, n_weeks=30, n_channels=1, n_lift_tests=0)
    gm.GeoMMM(tiny.formula, data=tiny.panel, geo="geo", time="week").fit(
        draws=20, tune=20, chains=1, progressbar=False, preflight="warn")


def with_drop(market, channel: str, start: int, factor: float) -> pl.DataFrame:
    """The panel with ``channel``'s true response times ``factor`` from week index
    ``start`` on (weeks before it unchanged, so the parent fit is the same)."""
    weeks = market.panel["week"].unique().sort()
    cut = (market.truth.contributions
           .filter((pl.col("channel") == channel) & (pl.col("week") >= weeks[start]))
           .select("geo", "week", (pl.col("contribution") * (1.0 - factor)).alias("cut")))
    return (market.panel.join(cut, on=["geo", "week"], how="left")
            .with_columns((pl.col("revenue") - pl.col("cut").fill_null(0.0)).alias("revenue"))
            .drop("cut"))


def timed(label: str, make):
    wall, cpu = time.perf_counter(), time.process_time()
    out = make()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    s = out.settings
    steps = float(out.idata.sample_stats["n_steps"].mean())
    print(f"  {label}: {wall:.1f}s wall, {cpu:.1f} CPU s (compile {s.compile_seconds:.1f}s, sampling "
          f"{s.sampling_seconds:.1f}s, {steps:.0f} leapfrog steps/draw); load {load()}", flush=True)
    return out, {"compile_s": s.compile_seconds, "sampling_s": s.sampling_seconds,
                 "cs": s.compile_seconds + s.sampling_seconds, "cpu_s": cpu, "wall_s": wall,
                 "steps": steps, "load1": os.getloadavg()[0]}


def agreement(seed, first, seq, full) -> list[dict]:
    a, b = roi_samples(seq.forward, by="channel")[0], roi_samples(full.forward, by="channel")[0]
    rows = []
    for c, ch in enumerate(first.channels):
        ws, wf = (np.subtract(*np.quantile(x[:, c], [0.95, 0.05])) for x in (a, b))
        diff = (a[:, c].mean() - b[:, c].mean()) / b[:, c].std()
        rows.append({"seed": seed, "channel": ch, "roi_full": float(b[:, c].mean()), "roi_seq": float(a[:, c].mean()),
                     "diff_in_sd": float(diff), "width_ratio": float(ws / wf),
                     "ok": bool(abs(diff) <= 0.25 and abs(ws / wf - 1) <= 0.2)})
    return rows


def drift(seed, changed: bool, first, seq) -> tuple[list[dict], object]:
    changes = seq.what_changed(first, budget=False)
    forecast = changes.forecast.row(0, named=True)
    return [{
        "seed": seed, "tv_x0.6": changed, "channel": r["channel"], "shift_median": r["change_median"],
        "prob_down": r["prob_down"], "flag": r["flag"], "coverage": forecast["coverage"],
        "coverage_p": forecast["coverage_p_value"], "forecast_alarm": forecast["alarm"],
    } for r in changes.shift.iter_rows(named=True)], changes


def quadrature_error(first, seq) -> float:
    """Largest relative error of the quadrature's reference sums at the draws the
    sequential refresh visited (NaN when it used the exact sums)."""
    from geommm.model.normaliser import curve_parameter_names, fit_normaliser, max_rel_error
    from geommm.workflows.refresh import _thinned, reference_data

    ref, _ = reference_data(first, seq.data)
    norm = fit_normaliser(first.spec, ref, _thinned(first))
    if norm is None:
        return float("nan")
    post = seq.idata.posterior
    params = {n: np.asarray(post[n].values).reshape(-1, *post[n].shape[2:]) for n in curve_parameter_names(post)}
    return max_rel_error(norm, first.spec, ref, params)


def run_seed(seed: int, args, tables: dict) -> None:
    market = sim.simulate(seed=seed, **OPTIONS)
    print(f"seed {seed}; load {load()}", flush=True)
    first = first_fit(seed, market, args.cache)
    kw = {"draws": args.draws, "chains": CHAINS, "seed": seed, "reference_sums": args.reference_sums}
    seq, t_seq = timed("sequential refresh", lambda: first.refresh(market.panel, method="sequential", **kw))
    rows, _ = drift(seed, False, first, seq)
    tables["Drift"] += rows
    tables["Quadrature"].append({"seed": seed, "max_rel_error_at_refresh_draws": quadrature_error(first, seq)})
    if seed == args.exact_seed:
        other = "exact" if args.reference_sums == "quadrature" else "quadrature"
        _, t_other = timed(f"sequential refresh, reference sums {other}",
                           lambda: first.refresh(market.panel, method="sequential", **{**kw, "reference_sums": other}))
        tables["Time (s)"].append({"seed": seed, "fit": f"sequential, {other} sums", **t_other})
    if seed in args.seeds[: args.agree]:
        full, t_full = timed("full refit (117 weeks)", lambda: first.refresh(market.panel, method="full", **kw))
        tables["Sequential vs full: national ROI"] += agreement(seed, first, seq, full)
        # the same comparison with constant effects in both (effect_shift_sd=0)
        steady = {**kw, "effect_shift_sd": 0.0}
        seq0, _ = timed("sequential refresh, constant effects", lambda: first.refresh(market.panel, method="sequential", **steady))
        full0, _ = timed("full refit, constant effects", lambda: first.refresh(market.panel, method="full", **steady))
        tables["Sequential vs full, constant effects (effect_shift_sd=0)"] += agreement(seed, first, seq0, full0)
        tables["Time (s)"] += [{"seed": seed, "fit": "full refit", **t_full},
                               {"seed": seed, "fit": "sequential", **t_seq,
                                "ratio_cs": t_seq["cs"] / t_full["cs"], "ratio_cpu": t_seq["cpu_s"] / t_full["cpu_s"]}]
    else:
        tables["Time (s)"].append({"seed": seed, "fit": "sequential", **t_seq})
    dropped = with_drop(market, *CHANGE)
    seq_drop, _ = timed("sequential refresh, tv x0.6 from week 105",
                        lambda: first.refresh(dropped, method="sequential", **kw))
    rows, changes = drift(seed, True, first, seq_drop)
    tables["Drift"] += rows
    print(pl.DataFrame([r for r in tables["Drift"] if r["seed"] == seed]), flush=True)


def write(tables: dict, args) -> None:
    lines = ["# Refresh benchmark (generated by benchmarks/bench_refresh.py)", "",
             f"Command: `python benchmarks/bench_refresh.py --seeds {' '.join(map(str, args.seeds))} --agree {args.agree} "
             f"--draws {args.draws} --reference-sums {args.reference_sums} --exact-seed {args.exact_seed}`; panel {OPTIONS}; first fits {PARENT}; "
             (f"refreshes {CHAINS} chains x --draws (full: the parent's {PARENT['tune']} tuning steps; "
              "sequential: a third, at least 200)."),
             f"Machine load (1/5/15 min) at writing: {load()} on {os.cpu_count()} cores.", ""]
    for title, rows in tables.items():
        if rows:
            lines += [f"## {title}", "", _markdown(pl.DataFrame(rows, infer_schema_length=None)), ""]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines))


def _markdown(df: pl.DataFrame) -> str:
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    head = "| " + " | ".join(df.columns) + " |"
    rule = "|" + "---|" * len(df.columns)
    return "\n".join([head, rule] + ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.iter_rows()])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--agree", type=int, default=3, help="the first N seeds also get a full refit")
    p.add_argument("--draws", type=int, default=1000, help="draws per chain of every refresh")
    p.add_argument("--reference-sums", choices=("exact", "quadrature"), default="exact")
    p.add_argument("--exact-seed", type=int, default=0, help="seed that also times the other reference sums (-1: none)")
    p.add_argument("--cache", type=Path, default=Path("/tmp/refresh-bench"), help="first fits, reused when present")
    args = p.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore")
    tables = {"Sequential vs full: national ROI": [], "Sequential vs full, constant effects (effect_shift_sd=0)": [], "Time (s)": [], "Drift": [], "Quadrature": []}
    warm_up()
    for seed in args.seeds:
        run_seed(seed, args, tables)
        write(tables, args)
    for title, rows in tables.items():
        if rows:
            print(title)
            print(pl.DataFrame(rows, infer_schema_length=None))


if __name__ == "__main__":
    main()
