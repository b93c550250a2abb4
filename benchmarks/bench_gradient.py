"""How fast one log-density-and-gradient call is: the unit of every NUTS step.

    python benchmarks/bench_gradient.py --panel 40x156x5
    python benchmarks/bench_gradient.py --panel 60x156x6 --threads 1,2 --calls 300
    python benchmarks/bench_gradient.py --panel 40x156x5 --precision float32

NUTS spends nearly all of its time in this call (63 of them per draw at 40 geos), so
its cost times the leapfrog steps bounds the sampling time from below. The model is
geommm's own simulated panel (``geommm.sim.simulate``, no lift tests) compiled as the
sampler compiles it (nutpie's JAX path with geommm's ahead-of-time executable). With
``--threads 2`` two threads call it at once, as nutpie's two chains on two cores do:
the calls per second then show what the machine can give the sampler. Run it alone.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import warnings


def compiled_density(panel: str, precision: str = "float64"):
    """nutpie's compiled model of a simulated panel "GxTxC" and its gradient call."""

    import geommm as gm
    from geommm import _jax_speed, sim

    geos, weeks, channels = (int(x) for x in panel.split("x"))
    data = sim.simulate(n_geos=geos, n_weeks=weeks, n_channels=channels, seed=0, n_lift_tests=0)
    model = gm.GeoMMM(data.formula, data=data.panel, geo="geo", time="week").model
    _jax_speed.tune_xla_flags()
    compiled = _jax_speed.nutpie_density(model, precision)  # as sampling._nutpie builds it
    return compiled, compiled._make_logp_func()


def calls_per_second(call, shared: dict, n_dim: int, threads: int, calls: int) -> tuple[float, float]:
    """(ms per call in each thread, calls per second over all threads)."""
    import numpy as np

    x = 0.1 * np.random.default_rng(0).standard_normal(n_dim)
    for _ in range(5):
        call(x, **shared)

    def work() -> None:
        for i in range(calls):
            call(x + 1e-3 * i, **shared)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    t0 = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    return 1000 * elapsed / calls, threads * calls / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--panel", default="40x156x5", help="geos x weeks x channels (default %(default)s)")
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts (default %(default)s)")
    p.add_argument("--calls", type=int, default=300, help="calls per thread (default %(default)s)")
    p.add_argument("--precision", default="float64", choices=("float64", "float32"),
                   help="arithmetic of the density (default %(default)s)")
    a = p.parse_args()
    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    compiled, call = compiled_density(a.panel, a.precision)
    print(f"panel {a.panel}, {a.precision}: {compiled.n_dim} free parameters, built and compiled in "
          f"{time.perf_counter() - t0:.1f} s")
    print("| threads | ms per call (each thread) | calls per second (all threads) |")
    print("|---|---|---|")
    for threads in (int(t) for t in a.threads.split(",")):
        ms, rate = calls_per_second(call, compiled._shared_data, compiled.n_dim, threads, a.calls)
        print(f"| {threads} | {ms:.2f} | {rate:.0f} |")
    print(f"load average (1 min): {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
