"""NUTS chains in worker processes against nutpie's threads: the same fit, both ways.

    python benchmarks/bench_chain_processes.py                    # demo panel, 4 x (1000 + 1000)
    python benchmarks/bench_chain_processes.py --draws 300 --repeat 2
    python benchmarks/bench_chain_processes.py --panel 40x156x5 --draws 500

Fits one model with ``chain_processes=True`` and ``False`` alternately (``--repeat``
rounds, processes first), same seed, and prints per fit: compile and sampling seconds
(measured apart), the whole fit's wall and CPU seconds, max R-hat, min bulk ESS, ESS
per sampling second, and the national ROI means, so the speed-up is read against the
same posterior. ``--panel GxWxC`` fits geommm's simulated panel of that size instead
of the demo's. The two paths draw different numbers (processes seed each chain from
the seed and its index), so the ROI means agree within Monte Carlo error, not exactly.
Run it alone: on 2 cores a second job halves what either path gets.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings


def model(panel: str | None):
    import geommm as gm

    if panel is None:
        from geommm.demo import load_demo

        d = load_demo()
        return gm.GeoMMM(d.formula, d.panel, geo="geo", time="week", lift_tests=d.lift_tests), "demo panel"
    from geommm import sim

    g, w, c = (int(x) for x in panel.split("x"))
    r = sim.simulate(n_geos=g, n_weeks=w, n_channels=c, seed=0, n_lift_tests=0)
    return gm.GeoMMM(r.formula, r.panel, geo="geo", time="week"), f"simulated {panel}"


def run(m, processes: bool, a) -> dict:
    import arviz as az

    t0 = time.perf_counter()
    times0 = os.times()
    fit = m.fit(draws=a.draws, tune=a.draws, chains=a.chains, seed=a.seed, chain_processes=processes,
                progressbar=False)
    wall = time.perf_counter() - t0
    times1 = os.times()
    cpu = (times1.user + times1.system + times1.children_user + times1.children_system
           - times0.user - times0.system - times0.children_user - times0.children_system)
    s, post = fit.settings, fit.posterior
    ess = min(float(v.min()) for v in az.ess(post).data_vars.values())
    rhat = max(float(v.max()) for v in az.rhat(post).data_vars.values())
    roi = post["roi"].mean(("chain", "draw")).values
    return {"mode": "processes" if s.chain_processes else "threads", "compile": s.compile_seconds,
            "sampling": s.sampling_seconds, "wall": wall, "cpu": cpu, "rhat": rhat, "ess": ess,
            "ess_per_s": ess / s.sampling_seconds, "roi": " ".join(f"{v:.3f}" for v in roi)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--draws", type=int, default=1000, help="draws and warm-up per chain (default %(default)s)")
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeat", type=int, default=1, help="rounds of the two settings (default %(default)s)")
    p.add_argument("--panel", default=None, help="GxWxC: a simulated panel instead of the demo's")
    a = p.parse_args()
    warnings.simplefilter("ignore")
    m, name = model(a.panel)
    print(f"{name}, {a.chains} chains x ({a.draws} + {a.draws}), seed {a.seed}, CPUs {len(os.sched_getaffinity(0))}")
    print("| chains in | compile s | sampling s | fit wall s | CPU s | max R-hat | min ESS | ESS per sampling s | national ROI means |")
    print("|---|---|---|---|---|---|---|---|---|")
    for _ in range(a.repeat):
        for processes in (True, False):
            r = run(m, processes, a)
            print(f"| {r['mode']} | {r['compile']:.1f} | {r['sampling']:.1f} | {r['wall']:.1f} | {r['cpu']:.1f} "
                  f"| {r['rhat']:.3f} | {r['ess']:.0f} | {r['ess_per_s']:.1f} | {r['roi']} |", flush=True)
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
