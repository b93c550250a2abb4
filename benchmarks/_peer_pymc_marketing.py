"""Peer side of bench_vs_pymc_marketing.py: fit PyMC-Marketing's geo MMM on one panel.

This file runs inside the benchmark's own virtual environment (``.bench-venv-pmm/``,
PyMC-Marketing and its pins), never in geommm's. It imports nothing from geommm and
is started by bench_vs_pymc_marketing.py, one variant per process, so the parent can
read each fit's peak RSS and CPU seconds from the operating system.

    .bench-venv-pmm/bin/python benchmarks/_peer_pymc_marketing.py \
        --data PANEL.csv --variant default --chains 2 --tune 500 --draws 500 --out result.json

Variants
  default  PyMC-Marketing's default priors: every adstock, saturation and effect
           parameter is estimated per geo x channel on its own (no pooling).
  pooled   the same model, but the per-geo adstock retention, saturation lambda and
           media effect are partially pooled: non-centred Normal draws around a
           channel-level mean with a channel-level spread, mapped through sigmoid
           (retention) or exp (lambda, effect). Everything else keeps the defaults.

Timing: ``MMM.fit`` builds the PyMC model, and PyMC hands it to nutpie, which compiles
(numba) and then samples. The two nutpie entry points are wrapped with a stopwatch so
compile and sampling seconds are reported apart; the call path is otherwise unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings

CHANNELS = ["Channel0_spend", "Channel1_spend", "Channel2_spend", "Channel3_spend"]
CONTROLS = ["competitor_activity_score_control", "sentiment_score_control"]


def pooled_priors() -> dict:
    """Per-geo media parameters pooled towards channel-level hyperpriors (non-centred).

    The centres follow the defaults' typical values: Beta(1, 3) has mean 0.25 =
    sigmoid(-1.1); Gamma(3, 1) has median ~2.7 = exp(1.0); the effect centre exp(-1.2)
    ~0.3 is on the max-scaled target, as the HalfNormal(2) default is.
    """
    from pymc_extras.prior import Prior

    def pooled(centre: float, centre_sd: float, spread: float, link: str) -> Prior:
        return Prior(
            "Normal",
            mu=Prior("Normal", mu=centre, sigma=centre_sd, dims="channel"),
            sigma=Prior("HalfNormal", sigma=spread, dims="channel"),
            dims=("geo", "channel"),
            centered=False,
            transform=link,
        )

    return {
        "adstock_alpha": pooled(-1.1, 1.0, 0.5, "sigmoid"),
        "saturation_lam": pooled(1.0, 0.5, 0.5, "exp"),
        "saturation_beta": pooled(-1.2, 1.0, 0.5, "exp"),
    }


class Stopwatch:
    """Wrap a module-level function and add up the seconds spent inside it."""

    def __init__(self, module, name: str) -> None:
        self.seconds = 0.0
        inner = getattr(module, name)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0

        setattr(module, name, timed)


def parameter_names(posterior) -> list[str]:
    """Stored variables that are parameters: everything without a date dimension.

    PyMC-Marketing also stores per-date deterministics (contributions, mu); they are
    functions of the parameters and would only blow up the diagnostics' cost.
    """
    return [n for n, da in posterior.data_vars.items() if "date" not in da.dims]


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data")
    p.add_argument("--variant", choices=("default", "pooled"), default="default")
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="where to write the result as JSON")
    a = p.parse_args()
    if not (a.data and a.out):
        # `just bench` runs every benchmarks/*.py with geommm's interpreter; this file is
        # only the peer half, so say so and stop instead of failing the recipe.
        print(
            "peer half of bench_vs_pymc_marketing.py: run that script (it starts this one "
            "in its own virtual environment)"
        )
        return

    t_start = time.perf_counter()
    import arviz as az
    import numpy as np
    import nutpie
    import pandas as pd
    import pymc
    import pymc_marketing
    from pymc_marketing.mmm import GeometricAdstock, LogisticSaturation
    from pymc_marketing.mmm.multidimensional import MMM

    import_seconds = time.perf_counter() - t_start

    compile_watch = Stopwatch(nutpie, "compile_pymc_model")
    sample_watch = Stopwatch(nutpie, "sample")

    df = pd.read_csv(a.data)
    df["date"] = pd.to_datetime(df["time"])
    X = df[["date", "geo", *CHANNELS, *CONTROLS]]
    y = df["conversions"].rename("conversions")
    mmm = MMM(
        date_column="date",
        channel_columns=CHANNELS,
        target_column="conversions",
        dims=("geo",),
        adstock=GeometricAdstock(l_max=8),
        saturation=LogisticSaturation(),
        control_columns=CONTROLS,
        yearly_seasonality=2,
        model_config=pooled_priors() if a.variant == "pooled" else None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = mmm.fit(
            X,
            y,
            progressbar=False,
            random_seed=a.seed,
            chains=a.chains,
            tune=a.tune,
            draws=a.draws,
            nuts_sampler="nutpie",
        )
    fit_seconds = time.perf_counter() - t_start  # imports included, as on the geommm side

    post = idata.posterior
    names = parameter_names(post)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat = az.rhat(post[names])
        ess = az.ess(post[names], method="bulk")
    max_rhat = float(np.nanmax([np.nanmax(v.values) for v in rhat.data_vars.values()]))
    min_ess = float(np.nanmin([np.nanmin(v.values) for v in ess.data_vars.values()]))
    stats = idata.sample_stats
    result = {
        "side": f"peer-{a.variant}",
        "versions": {
            "pymc_marketing": pymc_marketing.__version__,
            "pymc": pymc.__version__,
            "nutpie": nutpie.__version__,
        },
        "import_seconds": import_seconds,
        "compile_seconds": compile_watch.seconds,
        "sampling_seconds": sample_watch.seconds,
        "fit_seconds": fit_seconds,
        "divergences": int(stats["diverging"].values.sum()),
        "max_r_hat": max_rhat,
        "min_ess_bulk": min_ess,
        "mean_steps_per_draw": float(stats["n_steps"].values.mean())
        if "n_steps" in stats
        else None,
        "target_accept": "0.8 (PyMC default)",
        "n_parameters_checked": len(names),
        "unconstrained_dims": int(sum(v.size for v in mmm.model.initial_point().values())),
        "pid": os.getpid(),
    }
    with open(a.out, "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
