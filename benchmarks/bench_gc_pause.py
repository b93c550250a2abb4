"""What pausing Python's cycle collector saves while geommm imports and compiles.

    python benchmarks/bench_gc_pause.py             # 3 rounds, on and off alternated
    python benchmarks/bench_gc_pause.py --rounds 5

Each measurement runs in a fresh process, with ``GEOMMM_GC_PAUSE=0`` (collector on,
as before the pause) or unset (paused, the default):

- ``import``: ``import geommm; geommm.GeoMMM`` (PyMC, PyTensor, arviz load).
- ``worker import``: what a chain worker imports (JAX and nutpie), as the worker does.
- ``conversion 1st / 2nd``: nutpie's conversion of the 8-geo design-panel model (two
  fresh models in one process), pinned to one CPU.
- ``short fit``: a 4 x (20 + 20) NUTS fit of that model in worker processes, 2 CPUs:
  its compile and its wall time (the workers' imports share the CPUs with the compile).

Prints a markdown table of min-max per measurement (docs/performance.md, "Compiling
with the cycle collector paused"). Run it alone: other jobs inflate every number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

WEAK = {"email": {"share": 0.03, "on_weeks": (52, 104), "off_weeks": (1, 1), "weekly_noise": 0.05}}


def _design_model():
    import geommm as gm
    from geommm import sim

    market = sim.simulate(n_geos=8, n_weeks=134, seed=0, n_lift_tests=0, noise=0.03, collinear=False,
                          channels=["tv", "search", "social", "email"], profiles=WEAK)
    return gm.GeoMMM(market.formula, data=sim.panel_until(market.panel, 104), geo="geo", time="week")


def child(what: str) -> dict:
    import warnings

    warnings.simplefilter("ignore")
    if what == "import":
        t = time.perf_counter()
        import geommm

        geommm.GeoMMM  # noqa: B018 - the lazy import is what is timed
        return {"import": time.perf_counter() - t}
    if what == "worker_import":
        import gc

        if os.environ.get("GEOMMM_GC_PAUSE") != "0":
            gc.disable()
        t = time.perf_counter()
        import jax  # noqa: F401
        import nutpie  # noqa: F401

        return {"worker import": time.perf_counter() - t}
    if what == "conversion":
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
        from geommm import _jax_speed
        from geommm._gc_pause import paused_gc

        out = {}
        for label in ("conversion 1st", "conversion 2nd"):
            model = _design_model().model
            t = time.perf_counter()
            with paused_gc():
                _jax_speed.nutpie_density(model, "float64", lean=False)
            out[label] = time.perf_counter() - t
        return out
    if what == "fit":
        mmm = _design_model()
        t = time.perf_counter()
        fit = mmm.fit(draws=20, tune=20, chains=4, seed=0, max_treedepth=6, progressbar=False,
                      chain_processes=True)
        return {"short fit: compile": fit.settings.compile_seconds, "short fit: wall": time.perf_counter() - t}
    raise SystemExit(f"unknown measurement {what!r}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print("RESULT " + json.dumps(child(a.child)))
        return
    results: dict[tuple[str, str], list[float]] = {}
    for r in range(a.rounds):
        for mode in ("on", "paused") if r % 2 == 0 else ("paused", "on"):
            env = dict(os.environ)
            env.pop("GEOMMM_GC_PAUSE", None)
            if mode == "on":
                env["GEOMMM_GC_PAUSE"] = "0"
            for what in ("import", "worker_import", "conversion", "fit"):
                run = subprocess.run([sys.executable, "-P" if what == "worker_import" else "-u", __file__,
                                      "--child", what], env=env, capture_output=True, text=True, check=True)
                line = next(x for x in run.stdout.splitlines() if x.startswith("RESULT "))
                for k, v in json.loads(line[7:]).items():
                    results.setdefault((k, mode), []).append(v)
        print(f"round {r + 1} done", file=sys.stderr, flush=True)
    print(f"| measurement ({a.rounds} runs each, s) | collector on | paused | change (medians) |")
    print("|---|---|---|---|")
    for k in dict.fromkeys(k for k, _ in results):
        on, off = sorted(results[(k, "on")]), sorted(results[(k, "paused")])
        change = off[len(off) // 2] / on[len(on) // 2] - 1
        print(f"| {k} | {on[0]:.2f}-{on[-1]:.2f} | {off[0]:.2f}-{off[-1]:.2f} | {change:+.0%} |")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
