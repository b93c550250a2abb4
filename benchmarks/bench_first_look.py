"""A first look in seconds: MAP and Laplace on the demo panel against its NUTS posterior.

    python benchmarks/bench_first_look.py                 # NUTS 4 x 1000 cached under /tmp
    python benchmarks/bench_first_look.py --nuts-cache F  # another cache file
    python benchmarks/bench_first_look.py --refit-nuts    # ignore the cache

Each approximation runs in a fresh Python process, so its time includes everything a
user waits for after ``import geommm``: building the model, PyMC's JAX conversion,
the XLA compile, the mode search, the Hessian, the draws and the fit's arviz groups.
Each runs twice: cold (an empty JAX compilation cache, what a first fit costs) and
warm (a new process that finds the compiled density in the cache the cold run filled).
The bar (issue 18): MAP and Laplace each <= 10 s on 2 cores, cold; Laplace's national ROI
within 10% of the NUTS posterior mean and its 90% HDI covering that mean for every
channel. Prints markdown tables and the load average (other jobs inflate the times).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

DEFAULT_CACHE = Path("/tmp") / "geommm-bench-first-look-nuts.nc"


def demo_model():
    import geommm as gm
    from geommm.demo import load_demo

    data = load_demo()
    return gm.GeoMMM(data.formula, data.panel, geo="geo", time="week", lift_tests=data.lift_tests)


def child(method: str) -> None:
    """Fit ``method`` once and print one JSON line: timings and the national ROI table."""
    t0 = time.perf_counter()
    import pymc  # noqa: F401

    import geommm  # noqa: F401

    imported = time.perf_counter() - t0
    model = demo_model()
    cpu0, t0 = os.times(), time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = model.fit(method=method, draws=1000, chains=4, seed=0, progressbar=False)
    wall = time.perf_counter() - t0
    cpu1 = os.times()
    roi = fit.roi(by="channel")
    print(json.dumps({
        "method": method, "import_seconds": imported, "fit_seconds": wall,
        "cpu_seconds": (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system),
        "compile_seconds": fit.settings.compile_seconds,
        "run_seconds": fit.settings.sampling_seconds, "pareto_k": fit.settings.pareto_k,
        "load": os.getloadavg()[0],
        "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:120]}" for w in caught}),
        "roi": roi.select("channel", "roi_mean", "roi_hdi_low", "roi_hdi_high").to_dicts(),
    }))


def nuts_roi(cache: Path, refit: bool):
    import geommm as gm

    if cache.exists() and not refit:
        fit = gm.load_fit(cache)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = demo_model().fit(draws=1000, tune=1000, chains=4, seed=0, progressbar=False)
        fit.save(cache)
    return fit.roi(by="channel"), fit.diagnostics()


def run_child(method: str, cache: str) -> dict:
    """One fit in a fresh process; ``cache``: JAX's compilation cache directory for it
    (GEOMMM_JAX_CACHE), "0" for none."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", method], capture_output=True, text=True, check=True,
        env={**os.environ, "GEOMMM_JAX_CACHE": cache,
             "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                            os.environ.get("PYTHONPATH", "")])},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nuts-cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--refit-nuts", action="store_true")
    p.add_argument("--child", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        child(a.child)
        return
    # cold: an empty compilation cache per method (what a first fit costs: MAP and
    # Laplace compile the same density, so a shared cache would make the second one
    # warm); warm: the same fit in a new process that finds its executables in the
    # cache its cold run filled
    runs, warm = {}, {}
    for m in ("map", "laplace"):
        with tempfile.TemporaryDirectory() as cache:
            runs[m] = run_child(m, cache)
            warm[f"{m} (warm cache)"] = run_child(m, cache)
    nuts, diag = nuts_roi(a.nuts_cache, a.refit_nuts)
    print(f"NUTS 4 x 1000 ({a.nuts_cache}): {diag.verdict}, max R-hat {diag.max_r_hat:.3f}, "
          f"min bulk ESS {diag.min_ess_bulk:.0f}\n")
    print("| method | fit s (wall) | CPU s | compile s | mode + draws s | import s | load (1 min) "
          "| <= 10 s |")
    print("|---|---|---|---|---|---|---|---|")
    for m, r in {**runs, **warm}.items():
        print(f"| {m} | {r['fit_seconds']:.1f} | {r['cpu_seconds']:.1f} | {r['compile_seconds']:.1f} "
              f"| {r['run_seconds']:.1f} | {r['import_seconds']:.1f} | {r['load']:.1f} "
              f"| {'yes' if r['fit_seconds'] <= 10 else 'no'} |")
    k = runs["laplace"].get("pareto_k")
    print(f"\nLaplace Pareto k (PSIS, its draws against the model's density): {k} "
          f"({'reweighted' if k is not None and k <= 0.7 else 'not reweighted: k > 0.7'})")
    print("\n| channel | NUTS mean | MAP | Laplace mean | Laplace vs NUTS | Laplace 90% HDI "
          "| within 10% | HDI covers NUTS mean |")
    print("|---|---|---|---|---|---|---|---|")
    mode = {r["channel"]: r["roi_mean"] for r in runs["map"]["roi"]}
    ok = True
    for row, lap in zip(nuts.to_dicts(), runs["laplace"]["roi"]):
        ref = row["roi_mean"]
        err = lap["roi_mean"] / ref - 1
        within, covers = abs(err) <= 0.10, lap["roi_hdi_low"] <= ref <= lap["roi_hdi_high"]
        ok &= within and covers
        print(f"| {row['channel']} | {ref:.3f} | {mode[row['channel']]:.3f} | {lap['roi_mean']:.3f} "
              f"| {err:+.1%} | {lap['roi_hdi_low']:.2f}-{lap['roi_hdi_high']:.2f} "
              f"| {'yes' if within else 'no'} | {'yes' if covers else 'no'} |")
    fast = all(r["fit_seconds"] <= 10 for r in runs.values())
    print(f"\nbar: accuracy {'met' if ok else 'NOT met'}; time (cold) {'met' if fast else 'NOT met'}")
    for m, r in runs.items():
        for w in r["warnings"]:
            print(f"{m} warned: {w}")
    print("load average (1, 5, 15 min):", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
