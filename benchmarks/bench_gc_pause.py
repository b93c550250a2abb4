"""What pausing Python's cycle collector saves while geommm imports and compiles.

    python benchmarks/bench_gc_pause.py             # 3 rounds, on and off alternated
    python benchmarks/bench_gc_pause.py --rounds 5

Each measurement runs in a fresh process, with ``GEOMMM_GC_PAUSE=0`` (collector on,
as before the pause) or unset (paused, the default). A first round warms the caches
(JAX's and PyTensor's compile caches, the OS's file cache) and is not counted; then
the order of the two alternates from round to round.

- ``import``: ``import geommm; geommm.GeoMMM`` (PyMC, PyTensor, arviz load).
- ``worker import``: a real chain worker (``geommm/_chain_worker.py``, pinned to one
  CPU, the environment the fit gives it) timing its own imports of JAX and nutpie.
- ``conversion 1st / 2nd``: nutpie's conversion of the 8-geo design-panel model (two
  fresh models in one process), pinned to one CPU; and that process's peak memory.
- ``short fit``: a 4 x (20 + 20) NUTS fit of that model in worker processes (one per
  CPU, two on a 2-core machine): its compile and its wall time (the workers' imports
  share the CPUs with the compile).

Prints a markdown table of min-max and medians per measurement (docs/performance.md,
"Compiling with the cycle collector paused"). Run it alone: other jobs inflate every
number.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

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
    if what == "worker_import":  # the real worker, started as chain_processes starts it
        import geommm
        from geommm import _jax_speed

        worker = Path(geommm.__file__).with_name("_chain_worker.py")
        env = _jax_speed.worker_xla_flags(dict(os.environ, PYTHONWARNINGS="ignore", JAX_PLATFORMS="cpu",
                                               GEOMMM_CHAIN_DEBUG="1"))
        cpu = max(os.sched_getaffinity(0))
        run = subprocess.run([sys.executable, "-P", str(worker), str(cpu)], env=env, check=False,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,  # its messages: pickles
                             stderr=subprocess.PIPE)  # no job on stdin: it stops after importing
        err = run.stderr.decode(errors="replace")
        found = re.search(r"imported in ([0-9.]+) s", err)
        if not found:
            raise SystemExit(f"the worker did not report its imports:\n{err[-2000:]}")
        return {"worker import": float(found.group(1))}
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
        import resource

        out["conversion: peak memory MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
    for r in range(a.rounds + 1):  # round 0 warms the caches and is not counted
        for mode in ("on", "paused") if r % 2 == 0 else ("paused", "on"):
            env = dict(os.environ)
            env.pop("GEOMMM_GC_PAUSE", None)
            if mode == "on":
                env["GEOMMM_GC_PAUSE"] = "0"
            for what in ("import", "worker_import", "conversion", "fit"):
                run = subprocess.run([sys.executable, "-P", __file__, "--child", what], env=env, check=False,
                                     capture_output=True, text=True)
                line = next((x for x in run.stdout.splitlines() if x.startswith("RESULT ")), None)
                if run.returncode or line is None:
                    raise SystemExit(f"{what} ({mode}) failed:\n{run.stderr[-3000:]}")
                for k, v in json.loads(line[7:]).items():
                    if r:
                        results.setdefault((k, mode), []).append(v)
        print(f"round {r} done{' (warm-up, not counted)' if not r else ''}", file=sys.stderr, flush=True)
    print(f"| measurement ({a.rounds} runs each, s) | collector on: min-max (median) | paused | change of medians |")
    print("|---|---|---|---|")
    for k in dict.fromkeys(k for k, _ in results):
        on, off = results[(k, "on")], results[(k, "paused")]
        m_on, m_off = statistics.median(on), statistics.median(off)
        print(f"| {k} | {min(on):.2f}-{max(on):.2f} ({m_on:.2f}) | {min(off):.2f}-{max(off):.2f} ({m_off:.2f}) "
              f"| {m_off / m_on - 1:+.0%} |")
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
