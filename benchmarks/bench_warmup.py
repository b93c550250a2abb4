"""Where NUTS spends its gradient evaluations: warm-up phases against draws, per chain.

    python benchmarks/bench_warmup.py                         # demo panel, 4 x (1000 + 1000)
    python benchmarks/bench_warmup.py --tune 500
    python benchmarks/bench_warmup.py --maxdepth 8
    python benchmarks/bench_warmup.py --start laplace         # chains and coordinates from the Laplace fit

Samples the demo model (or ``--panel GxWxC``, geommm's simulated panel) as ``fit()``
does, chains in worker processes, but keeps the warm-up draws, and prints per chain the
density-and-gradient evaluations (nutpie's leapfrog steps) in the first 50 and 100
warm-up iterations, the whole warm-up and the draws, then max R-hat, min bulk ESS and
the national ROI means (the same posterior whatever the settings, within Monte Carlo error).
The counts depend on the seed and settings only, not on the machine's speed (which
varied 2x within minutes on the 2-core machine), so settings are compared on them;
sampling seconds are printed too. One fit per call; run it alone.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from bench_chain_processes import model  # the demo or a simulated panel, as that benchmark fits it


def laplace_start(m, compiled):
    """Chains start near the Laplace fit's posterior, on coordinates standardised by its
    sds (geommm.warm_start; the media deviations are parameterised differently in the
    Laplace model and keep nutpie's start)."""
    from geommm import warm_start

    t0 = time.perf_counter()
    first = m.fit(method="laplace", progressbar=False)
    warm = warm_start.from_posterior(m.model, first.posterior, compiled, skip=("media_effect_geo_u",))
    print(f"Laplace start in {time.perf_counter() - t0:.1f} s")
    return warm_start.precondition(compiled, warm)


def sampling_settings(**kw):
    from geommm import sampling

    return sampling.SamplerSettings(chain_processes=True, **kw)


def sample_keeping_warmup(m, s, start=None, maxdepth: int | None = None):
    """(idata with the warm-up draws, sampling seconds): ``m`` sampled as ``fit()``
    samples it, chains in worker processes. ``start(compiled)`` may return another
    compiled model (a warm start)."""
    from geommm import _jax_speed, chain_processes, sampling
    from geommm._interrupts import InterruptGuard
    from geommm._progress import Progress

    sampling.check_settings(s, cells=m.data.n_cells)
    _jax_speed.tune_xla_flags()
    workers = chain_processes.start(s)
    if workers is None:
        raise SystemExit("worker processes cannot run here (one CPU, or not Linux)")
    try:
        _jax_speed.persistent_cache()
        compiled = _jax_speed.compiled_density(m.model, s.backend, s.precision, lean=False)
        if start is not None:
            compiled = start(compiled)
        extra = {"use_grad_based_mass_matrix": s.mass_matrix == "gradients", "save_warmup": True}
        if maxdepth is not None:
            extra["maxdepth"] = maxdepth
        t0 = time.perf_counter()
        with InterruptGuard() as guard:
            idata = chain_processes.sample(workers, compiled, s, extra, guard, Progress(False))
        return idata, time.perf_counter() - t0
    finally:
        workers.stop()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--maxdepth", type=int, default=None, help="nutpie's tree depth cap (its default: 10)")
    p.add_argument("--start", choices=("nutpie", "laplace"), default="nutpie")
    p.add_argument("--panel", default=None, help="GxWxC: a simulated panel instead of the demo's")
    a = p.parse_args()
    warnings.simplefilter("ignore")

    import arviz as az

    m, name = model(a.panel)
    s = sampling_settings(draws=a.draws, tune=a.tune, chains=a.chains, seed=a.seed)
    start = (lambda compiled: laplace_start(m, compiled)) if a.start == "laplace" else None
    idata, seconds = sample_keeping_warmup(m, s, start, a.maxdepth)
    print(f"{name}, {a.chains} chains x ({a.tune} warm-up + {a.draws} draws), seed {a.seed}, "
          f"maxdepth {a.maxdepth or 10}, start {a.start}; sampled in {seconds:.1f} s")
    warm = idata.warmup_sample_stats["n_steps"].values.astype(int)
    draws = idata.sample_stats["n_steps"].values.astype(int)
    divergent = idata.sample_stats["diverging"].values.sum(axis=1)
    print("| chain | first 50 warm-up | first 100 warm-up | whole warm-up | draws | all | divergences |")
    print("|---|---|---|---|---|---|---|")
    for c in range(a.chains):
        w = np.cumsum(warm[c])
        print(f"| {c} | {w[min(49, len(w) - 1)]:,} | {w[min(99, len(w) - 1)]:,} | {w[-1]:,} | {draws[c].sum():,} "
              f"| {w[-1] + draws[c].sum():,} | {int(divergent[c])} |")
    total = warm.sum() + draws.sum()
    print(f"all chains: {total:,} evaluations, {warm.sum() / total:.0%} in warm-up, "
          f"{warm[:, :50].sum() / total:.0%} in its first 50 iterations")
    rhat = max(float(v.max()) for v in az.rhat(idata.posterior).data_vars.values())
    ess = min(float(v.min()) for v in az.ess(idata.posterior).data_vars.values())
    print(f"max R-hat {rhat:.3f}, min bulk ESS {ess:.0f}, ESS per 1,000 evaluations {1000 * ess / total:.2f}; "
          f"load average {os.getloadavg()[0]:.1f}")
    roi = idata.posterior["roi"]
    print("national ROI mean (sd): " + ", ".join(
        f"{v:.3f} ({sd:.3f})" for v, sd in zip(roi.mean(("chain", "draw")).values, roi.std(("chain", "draw")).values)))


if __name__ == "__main__":
    main()
