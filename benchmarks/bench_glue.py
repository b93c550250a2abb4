"""Result calls after a fit: load, diagnostics, summary, report and CLI optimize on the demo fit.

    python benchmarks/bench_glue.py                    # demo fit cached in /tmp/glue-demo/demo
    python benchmarks/bench_glue.py --fit-dir DIR      # another `geommm demo --out DIR` folder
    python benchmarks/bench_glue.py --repeat 5         # more fresh processes per call
    python benchmarks/bench_glue.py --save benchmarks/results/glue.md

The fit is the demo's NUTS 4 x 1000 posterior, made once with this checkout's
``geommm demo --out DIR`` (1-2 minutes) and reused. Every measurement runs in a fresh
Python process, so nothing is cached from an earlier call: the process first
imports geommm (and PyMC, arviz, polars; reported apart as "import s"), then
``load_fit`` and then the call measured. The bars (issue 18) are on the call alone,
after import: ``load_fit`` <= 1 s, ``diagnostics()`` <= 1 s, ``summary()`` <= 2 s,
``report()`` <= 5 s; ``geommm optimize`` <= 3 s for the in-process command (argument
parsing, loading the fit, optimising, printing and writing the plan), with the
whole process (interpreter start and imports included) reported next to it.
Times are the median over ``--repeat`` processes; the load average is printed
because other jobs on the machine inflate them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = Path("/tmp") / "glue-demo" / "demo"
#: name -> (what the bar measures, bar in seconds)
BARS = {
    "load_fit": ("load_fit(path)", 1.0),
    "diagnostics": ("fit.diagnostics() on a freshly loaded fit", 1.0),
    "summary": ("fit.summary() on a freshly loaded fit", 2.0),
    "report": ("fit.report(path) on a freshly loaded fit", 5.0),
    "optimize": ("geommm optimize DIR: the command in-process (after import)", 3.0),
}


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def ensure_fit(folder: Path) -> Path:
    """The demo's fit.nc in ``folder``, made with this checkout's CLI if missing."""
    path = folder / "fit.nc"
    if path.is_file():
        return path
    print(f"making the demo fit in {folder} (NUTS 4 x 1000, 1-2 minutes) ...", file=sys.stderr)
    folder.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "geommm.cli", "demo", "--out", str(folder), "--overwrite"],
                   check=True, env=_env(), stdout=subprocess.DEVNULL)
    return path


class _Clock:
    """Wall and CPU seconds (all threads of this process) of the last timed call."""

    def start(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self, record: dict) -> None:
        record["seconds"] = time.perf_counter() - self.wall
        record["cpu_seconds"] = time.process_time() - self.cpu


def child(what: str, fit_dir: Path) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    t0 = time.perf_counter()
    import arviz  # noqa: F401
    import numpy as np
    import polars  # noqa: F401
    import pymc  # noqa: F401
    import xarray as xr

    import geommm as gm
    import geommm.cli  # noqa: F401
    import geommm.fit  # noqa: F401  (geommm imports its modules on first use)

    if what in ("report", "optimize"):
        import geommm.report  # noqa: F401  (altair, vl-convert)
    xr.DataArray(np.zeros(1))  # xarray imports dask (if installed) on its first array

    imported = time.perf_counter() - t0
    path = fit_dir / "fit.nc"
    result = {"what": what, "import_seconds": imported}
    clock = _Clock()
    if what == "optimize":
        from geommm.cli import main

        with tempfile.TemporaryDirectory() as tmp:
            devnull = open(os.devnull, "w")
            stdout, stderr = sys.stdout, sys.stderr
            sys.stdout = sys.stderr = devnull
            try:
                clock.start()
                code = main(["optimize", str(fit_dir), "--out", str(Path(tmp) / "plan.csv")])
                clock.stop(result)
            finally:
                sys.stdout, sys.stderr = stdout, stderr
                devnull.close()
        result["exit_code"] = code
        print(json.dumps(result))
        return
    clock.start()
    fit = gm.load_fit(path)
    clock.stop(result)
    if what == "diagnostics":
        clock.start()
        d = fit.diagnostics()
        clock.stop(result)
        result["value"] = str(d).splitlines()[0]
    elif what == "summary":
        clock.start()
        table = fit.summary()
        clock.stop(result)
        result["value"] = f"{table.height} rows"
    elif what == "report":
        with tempfile.TemporaryDirectory() as tmp:
            clock.start()
            out = fit.report(Path(tmp) / "report.html")
            clock.stop(result)
            result["value"] = f"{out.stat().st_size / 1e6:.1f} MB"
    print(json.dumps(result))


def run_child(what: str, fit_dir: Path) -> dict:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", what, "--fit-dir", str(fit_dir)],
                          capture_output=True, text=True, env=_env())
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{what} failed:\n{done.stderr[-3000:]}")
    record = json.loads(done.stdout.strip().splitlines()[-1])
    record["process_seconds"] = wall
    return record


def cli_process(fit_dir: Path) -> float:
    """Wall time of the whole ``geommm optimize`` process, as a user runs it."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "geommm.cli", "optimize", str(fit_dir), "--out",
                        str(Path(tmp) / "plan.csv")], check=True, env=_env(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0


def table(runs: dict[str, list[dict]], optimize_process: list[float], fit_dir: Path) -> str:
    med = statistics.median
    load = os.getloadavg()
    lines = [
        f"Demo fit (NUTS 4 x 1000) in {fit_dir}; median of {len(next(iter(runs.values())))} fresh "
        f"processes; load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} on "
        f"{os.cpu_count()} cores.",
        "",
        "| call | measured | wall s (median) | wall s (min) | CPU s (median) | bar s | met (wall) "
        "| met (CPU) | import s | process s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for what, records in runs.items():
        label, bar = BARS[what]
        secs = [r["seconds"] for r in records]
        cpu = med(r["cpu_seconds"] for r in records)
        process = optimize_process if what == "optimize" else [r["process_seconds"] for r in records]
        lines.append(
            f"| {what} | {label} | {med(secs):.2f} | {min(secs):.2f} | {cpu:.2f} | {bar:g} "
            f"| {'yes' if med(secs) <= bar else 'no'} | {'yes' if cpu <= bar else 'no'} "
            f"| {med(r['import_seconds'] for r in records):.1f} | {med(process):.1f} |"
        )
    lines += [
        "",
        "\"process s\" is the whole child process (interpreter start, imports, load_fit and the "
        "call); for optimize it is `python -m geommm.cli optimize DIR` as a user runs it. "
        "\"import s\" is importing pymc, arviz, polars and geommm (its fit and, for report and "
        "optimize, report modules; and dask, which xarray imports on its first array). "
        "\"CPU s\" counts every thread of the process: with a load average above the core "
        "count, wall time includes waiting for a core and CPU time is the fairer measure of the work.",
    ]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fit-dir", type=Path, default=DEFAULT_DIR)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--only", nargs="+", choices=list(BARS), default=list(BARS))
    p.add_argument("--save", type=Path, help="also write the markdown table to this file")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child(a.child, a.fit_dir)
        return
    ensure_fit(a.fit_dir)
    runs: dict[str, list[dict]] = {}
    for what in a.only:
        runs[what] = [run_child(what, a.fit_dir) for _ in range(a.repeat)]
        print(f"{what}: {[round(r['seconds'], 2) for r in runs[what]]} "
              f"{runs[what][-1].get('value', '')}", file=sys.stderr)
    optimize_process = [cli_process(a.fit_dir) for _ in range(a.repeat)] if "optimize" in runs else []
    text = table(runs, optimize_process, a.fit_dir)
    print(text)
    if a.save:
        a.save.parent.mkdir(parents=True, exist_ok=True)
        a.save.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
