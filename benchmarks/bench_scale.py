"""How fitting cost grows with geos x weeks x channels: a measured cost curve.

    python benchmarks/bench_scale.py --rows 10x66x5,20x66x5 --chains 2 --draws 200 --tune 200
    python benchmarks/bench_scale.py --geos 10,40,100,183 --weeks 66,156 --channels 5,10,36

Every row (geos x weeks x channels) is a simulated panel (``geommm.sim.simulate``)
fitted in its own child process, so its peak RSS is that process's alone (read with
``os.wait4``, i.e. getrusage of the child). A row reports compile, sampling and
total wall seconds, the seconds of the analysis tables after the fit (ROI by geo and
channel, marginal ROI, contributions by geo), peak RSS, min bulk ESS per sampling
second, mean leapfrog steps per draw, max R-hat and divergences. With ``--report``
the child also writes the HTML report (timed as "report s"), so the peak RSS covers
fit + tables + report; the child's own peak RSS at the end of the fit is kept too.

Rows are appended to ``benchmarks/results/scale.jsonl`` (so big rows run on another
day join the same curve) and ``benchmarks/results/scale.md`` is rewritten from all
rows: the table and a least-squares cost model
``log(wall) = a + b log(geos) + c log(weeks) + d log(channels)`` over the rows of one
run setting (terms whose factor never varies are left out). Run one benchmark at a
time: on 2 cores a second job doubles every time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
COLUMNS = (
    ("panel", "geos x weeks x channels"), ("seed", "seed"), ("run", "run"), ("compile_s", "compile s"),
    ("sampling_s", "sampling s"), ("fit_wall_s", "fit wall s"), ("tables_s", "tables s"),
    ("report_s", "report s"), ("peak_rss_gb", "peak RSS GB"), ("fit_rss_gb", "RSS after fit GB"),
    ("ess_per_s", "min ESS / s"), ("leapfrog_per_draw", "leapfrog / draw"),
    ("max_r_hat", "max R-hat"), ("divergences", "divergences"), ("load", "load avg"), ("when", "measured"),
    ("commit", "commit"),
)


def one_row(geos: int, weeks: int, channels: int, a: argparse.Namespace) -> dict:
    """Simulate, fit and tabulate one panel (runs in the child process)."""
    import resource
    import tempfile
    import warnings

    import geommm as gm
    from geommm import sim

    result = sim.simulate(n_geos=geos, n_weeks=weeks, n_channels=channels, seed=a.seed, n_lift_tests=0)
    t0 = time.perf_counter()
    model = gm.GeoMMM(result.formula, data=result.panel, geo="geo", time="week")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(draws=a.draws, tune=a.tune, chains=a.chains, sampler=a.sampler, seed=a.seed,
                        precision=a.precision, progressbar=False)
    fit_wall = time.perf_counter() - t0
    fit_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB -> GiB
    if a.save_dir:  # the posterior, to find which parameters mix slowly (not timed)
        Path(a.save_dir).mkdir(parents=True, exist_ok=True)
        fit.idata.to_netcdf(str(Path(a.save_dir) / f"idata_{geos}x{weeks}x{channels}_seed{a.seed}.nc"))
    t1 = time.perf_counter()
    fit.roi(by="geo"), fit.roi(by="channel"), fit.marginal_roi(by="channel"), fit.contributions(by="geo")
    tables = time.perf_counter() - t1
    report = None
    if a.report:
        t2 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            fit.report(Path(tmp) / "report.html")
        report = round(time.perf_counter() - t2, 1)
    d = fit.diagnostics()
    s = fit.settings
    stats = fit.idata.sample_stats
    steps = float(stats["n_steps"].values.mean()) if "n_steps" in stats else float("nan")
    return {
        "geos": geos, "weeks": weeks, "channels": channels,
        "panel": f"{geos} x {weeks} x {channels}", "seed": a.seed,
        "run": f"{a.sampler} {a.chains} x ({a.tune} + {a.draws})"
               + ("" if s.precision == "float64" else f", {s.precision}"),
        "compile_s": round(s.compile_seconds, 1), "sampling_s": round(s.sampling_seconds, 1),
        "fit_wall_s": round(fit_wall, 1), "tables_s": round(tables, 1), "report_s": report,
        "fit_rss_gb": round(fit_rss, 2),
        "ess_per_s": round(d.min_ess_bulk / max(s.sampling_seconds, 1e-9), 2),
        "leapfrog_per_draw": round(steps, 1), "max_r_hat": round(float(d.max_r_hat), 3),
        "divergences": int(d.divergences), "min_ess_bulk": round(float(d.min_ess_bulk)),
    }


def _commit() -> str:
    """The checkout's short commit ("+" when it has uncommitted changes), or ""."""
    try:
        here = Path(__file__).resolve().parent
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + ("+" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return ""


def run_child(geos: int, weeks: int, channels: int, a: argparse.Namespace) -> dict:
    """One row in a fresh process; its peak RSS from the kernel's accounting of that child."""
    cmd = [sys.executable, __file__, "--child", f"{geos}x{weeks}x{channels}", "--chains", str(a.chains),
           "--draws", str(a.draws), "--tune", str(a.tune), "--sampler", a.sampler, "--seed", str(a.seed),
           "--precision", a.precision]
    cmd += ["--save-dir", str(a.save_dir)] if a.save_dir else []
    cmd += ["--report"] if a.report else []
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"row {geos}x{weeks}x{channels} failed (exit {proc.returncode})")
    row = json.loads(out.strip().splitlines()[-1])
    row["peak_rss_gb"] = round(usage.ru_maxrss / 1024**2, 2)  # ru_maxrss is in KiB on Linux
    row["when"] = time.strftime("%Y-%m-%d")
    row["load"] = round(os.getloadavg()[0], 1)  # 1-minute load average as the row ends
    row["commit"] = _commit()
    return row


def cost_model(rows: list[dict]) -> str:
    """Least squares of log(fit wall) on the logs of the factors that vary; with too
    few distinct panels to separate them, on the log of their product (cells)."""
    if len(rows) < 2:
        return "Cost model: needs at least two rows."
    names = [n for n in ("geos", "weeks", "channels") if len({r[n] for r in rows}) > 1]
    panels = {(r["geos"], r["weeks"], r["channels"]) for r in rows}
    if not names:
        return f"Cost model: {len(rows)} rows of one panel; run more panels."
    if len(panels) < len(names) + 2:  # factors not separable (or an unchecked exact fit)
        names = ["cells"]
        rows = [{**r, "cells": r["geos"] * r["weeks"] * r["channels"]} for r in rows]
    X = np.column_stack([np.ones(len(rows))] + [np.log([r[n] for r in rows]) for n in names])
    y = np.log([r["fit_wall_s"] for r in rows])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    terms = " x ".join(f"{n}^{c:.2f}" for n, c in zip(names, coef[1:]))
    label = " (cells = geos x weeks x channels)" if names == ["cells"] else ""
    exact = (" (as many panels as parameters: an exact fit, no check of the model)"
             if len(panels) == len(names) + 1 else "")
    return (f"Cost model ({rows[0]['run']}, {len(rows)} rows, {len(panels)} panels): "
            f"fit wall ~ {np.exp(coef[0]):.3g} s x {terms}{label}{exact}.")


def write_markdown(rows: list[dict], path: Path) -> None:
    lines = [
        "# Scale: fit cost against geos x weeks x channels",
        "",
        "Written by `benchmarks/bench_scale.py` from `scale.jsonl` (every row ever run).",
        "Each row is one simulated panel fitted in its own process on the machine it was",
        "measured on; peak RSS is that process's (fit + tables). Shared machines make wall",
        "times noisy: read the cost model's exponents, not its last digit.",
        "",
        "| " + " | ".join(label for _, label in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for r in rows:
        lines.append("| " + " | ".join(("" if r.get(k) is None else str(r[k])) for k, _ in COLUMNS) + " |")
    lines.append("")
    for run, group in itertools.groupby(sorted(rows, key=lambda r: r["run"]), key=lambda r: r["run"]):
        lines.append(cost_model(list(group)))
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def parse_rows(a: argparse.Namespace) -> list[tuple[int, int, int]]:
    if a.rows:
        return [tuple(int(x) for x in r.split("x")) for r in a.rows.split(",")]
    ints = lambda text: [int(x) for x in text.split(",")]
    return list(itertools.product(ints(a.geos), ints(a.weeks), ints(a.channels)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--geos", default="10,40,100,183", help="comma-separated (default %(default)s)")
    p.add_argument("--weeks", default="66,156", help="comma-separated (default %(default)s)")
    p.add_argument("--channels", default="5,10,36", help="comma-separated (default %(default)s)")
    p.add_argument("--rows", help="explicit rows GxTxC,... instead of the grid, e.g. 10x66x5,20x66x5")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--sampler", default="nutpie", choices=("nutpie", "numpyro", "pymc"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="auto", choices=("auto", "float64", "float32"),
                   help="arithmetic of the density during NUTS (default %(default)s, as the library's)")
    p.add_argument("--results", type=Path, default=RESULTS, help="folder for scale.jsonl and scale.md")
    p.add_argument("--save-dir", type=Path, help="keep each row's posterior (netCDF) in this folder")
    p.add_argument("--report", action="store_true", help="also write (and time) the HTML report per row")
    p.add_argument("--table-only", action="store_true", help="rewrite scale.md from scale.jsonl, fit nothing")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(one_row(*(int(x) for x in a.child.split("x")), a)))
        return
    a.results.mkdir(parents=True, exist_ok=True)
    store = a.results / "scale.jsonl"
    for geos, weeks, channels in [] if a.table_only else parse_rows(a):
        print(f"row {geos} x {weeks} x {channels} ...", flush=True)
        row = run_child(geos, weeks, channels, a)
        print(json.dumps(row), flush=True)
        with store.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
    rows = [json.loads(line) for line in store.read_text(encoding="utf-8").splitlines() if line.strip()]
    write_markdown(rows, a.results / "scale.md")
    print(f"wrote {a.results / 'scale.md'}")


if __name__ == "__main__":
    main()
