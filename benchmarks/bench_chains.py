"""Do nutpie's chains run in parallel on the JAX density? Chains side by side against one after another.

    python benchmarks/bench_chains.py                       # demo panel, 2 chains x (300 + 300)
    python benchmarks/bench_chains.py --draws 1000 --repeat 3

Samples the demo model with nutpie as ``GeoMMM.fit`` builds it (JAX backend, geommm's
ahead-of-time density), with every density call counted and timed from inside: 2
chains on 2 cores (side by side, nutpie's threads) and 2 chains on 1 core (one after
the other), alternated ``--repeat`` times. Both make the same calls (same seed, same
draws), so the throughput (calls per second of wall time) compares the two directly:
side by side should approach 2x the other on two free cores. Two plain Python threads
calling the same executable reach ~1.6x at the demo's size (``bench_gradient.py
--panel 10x104x4``); a run far below that points at the call-back path, not at XLA.
On 2026-12-03 (a machine with ~50% steal), at 300 + 300 the side-by-side runs took
58.8-98.6 s and the one-after-another runs 76.4-108.8 s: too noisy to conclude; a short
``--draws 50 --repeat 1`` run gave 1380 against 1051 calls per second (1.31x). Later that
day, on a faster machine, 300 + 300 gave 1371 and 1687 side by side against 1207 and 1442
one after the other (1.1-1.2x), and pinned to one CPU (``taskset -c 0``) 1392 / 1495: the
second core barely helps (docs/performance.md, "Does the second core help NUTS?"). Run it alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import threading
import time
import warnings


def demo_density():
    """nutpie's compiled demo model, as ``sampling._nutpie`` builds it."""
    import geommm as gm
    from geommm import _jax_speed
    from geommm.demo import load_demo

    data = load_demo()
    model = gm.GeoMMM(data.formula, data.panel, geo="geo", time="week", lift_tests=data.lift_tests)
    _jax_speed.tune_xla_flags()
    return _jax_speed.nutpie_density(model.model)


def counted(compiled):
    """``compiled`` with its density call counted and timed: (model, stats dict)."""
    inner = compiled._make_logp_func()
    stats = {"calls": 0, "seconds": 0.0}
    lock = threading.Lock()

    def logp(x, **data):
        t0 = time.perf_counter()
        out = inner(x, **data)
        spent = time.perf_counter() - t0
        with lock:
            stats["calls"] += 1
            stats["seconds"] += spent
        return out

    return dataclasses.replace(compiled, _make_logp_func=lambda: logp), stats


def run(compiled, chains: int, cores: int, draws: int) -> dict:
    import nutpie

    model, stats = counted(compiled)
    cpu0, t0 = time.process_time(), time.perf_counter()
    trace = nutpie.sample(model, draws=draws, tune=draws, chains=chains, cores=cores, seed=0,
                          target_accept=0.9, progress_bar=False)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {"chains": chains, "cores": cores, "wall": wall, "cpu": cpu, "calls": stats["calls"],
            "ms_per_call": 1000 * stats["seconds"] / stats["calls"], "calls_per_s": stats["calls"] / wall,
            "steps": float(trace.sample_stats.n_steps.mean())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--draws", type=int, default=300, help="draws and warm-up per chain (default %(default)s)")
    p.add_argument("--repeat", type=int, default=2, help="rounds of the two settings (default %(default)s)")
    a = p.parse_args()
    warnings.simplefilter("ignore")
    compiled = demo_density()
    print(f"demo panel, 2 chains x ({a.draws} + {a.draws}), seed 0")
    print("| chains on cores | wall s | CPU s | density calls | ms inside a call | calls per wall s | steps per draw |")
    print("|---|---|---|---|---|---|---|")
    for _ in range(a.repeat):
        for cores in (2, 1):
            r = run(compiled, 2, cores, a.draws)
            print(f"| 2 on {cores} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['calls']} | {r['ms_per_call']:.2f} "
                  f"| {r['calls_per_s']:.0f} | {r['steps']:.1f} |", flush=True)
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
