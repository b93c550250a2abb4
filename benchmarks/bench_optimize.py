"""How long the budget optimiser takes on a realistic panel: 40 geos x 6 channels.

The optimiser's cost does not depend on how the draws were obtained, so by
default the posterior is stood in for by 200 draws scattered around the
simulator's true parameters (no fitting, the timing is the optimiser's alone);
``--fit`` fits the model with MAP first. Prints wall and CPU seconds per run.

    python benchmarks/bench_optimize.py [--geos 40] [--channels 6] [--weeks 104] [--fit]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from geommm import GeoMMM
from geommm.analysis.forward import ForwardModel
from geommm.analysis.optimize import optimize_budget
from geommm.sim import simulate


def synthetic_forward(model: GeoMMM, truth, n_draws: int, seed: int = 0) -> ForwardModel:
    """Draws of the media parameters around the truth (the rest are not used by the optimiser)."""
    rng = np.random.default_rng(seed)
    G, C = truth.alpha.shape

    def jitter(x, sd):
        return x * np.exp(sd * rng.standard_normal((n_draws, *np.shape(x))))

    logit = np.log(truth.alpha) - np.log1p(-truth.alpha)
    draws = {
        "retention": 1 / (1 + np.exp(-(logit + 0.2 * rng.standard_normal((n_draws, G, C))))),
        "half_saturation": jitter(truth.half_saturation, 0.15),
        "slope": jitter(truth.slope, 0.1),
        "media_effect": jitter(truth.beta, 0.2),
        "baseline_geo": np.tile(truth.intercept, (n_draws, 1)),
        "noise_sd": np.tile(truth.noise_sd, (n_draws, 1)),
    }
    return ForwardModel(model.spec, model.data, draws)


def timed(label: str, fn):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"{label:<44} wall {wall:6.2f} s   cpu {cpu:6.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--geos", type=int, default=40)
    parser.add_argument("--channels", type=int, default=6)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument(
        "--fit", action="store_true", help="fit with MAP instead of synthetic draws"
    )
    args = parser.parse_args()

    sim = simulate(
        n_geos=args.geos, n_weeks=args.weeks, n_channels=args.channels, seed=0, n_lift_tests=0
    )
    model = GeoMMM(sim.formula, data=sim.panel, geo="geo", time="week")
    if args.fit:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = timed("MAP fit", lambda: model.fit(method="map", seed=0, progressbar=False))
        forward = fit.forward
    else:
        forward = synthetic_forward(model, sim.truth, args.draws)
    print(
        f"{args.geos} geos x {args.weeks} weeks x {args.channels} channels, "
        f"{forward.n_draws} draws (optimiser thins to 200)"
    )

    national = timed(
        "national plan (by='channel', 0.5-1.5)",
        lambda: optimize_budget(forward, by="channel", bounds=(0.5, 1.5)),
    )
    per_geo = timed(
        "per-geo plan (by='geo', 0.5-1.5)",
        lambda: optimize_budget(forward, by="geo", bounds=(0.5, 1.5)),
    )
    timed(
        "per-geo, risk-adjusted (10% quantile)",
        lambda: optimize_budget(forward, by="geo", bounds=(0.5, 1.5), objective="risk_adjusted"),
    )
    timed(
        "per-geo, last 13 weeks as the pattern",
        lambda: optimize_budget(forward, by="geo", bounds=(0.5, 1.5), weeks=13),
    )
    target = per_geo.summary["marginal_roi"]
    timed(
        f"per-geo, target marginal ROI {target:.2f}",
        lambda: optimize_budget(forward, by="geo", bounds=(0.5, 1.5), target_marginal_roi=target),
    )
    for name, alloc in [("national", national), ("per geo", per_geo)]:
        s = alloc.summary
        print(
            f"{name}: lift {s['expected_lift_mean']:+,.0f} on {s['current_kpi_mean']:,.0f} "
            f"({s['expected_lift_mean'] / s['current_kpi_mean']:+.2%}), converged {s['converged']}"
        )


if __name__ == "__main__":
    main()
