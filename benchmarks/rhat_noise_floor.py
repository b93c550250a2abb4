"""How low can max R-hat go? Independent draws, as many parameters as the model has.

    python benchmarks/rhat_noise_floor.py --params 415

R-hat of a perfect sampler is not exactly 1: with 2 chains x 500 draws (4 split halves
of 250), the largest of ~400 rank-normalised split R-hats of *independent* normal draws
is already about 1.009 (and above 1.01 in about 1 run in 10). So "max R-hat <= 1.01" over every parameter is a coin flip at
that run length even for an ideal sampler, and needs longer runs (4 x 1000 gives a
floor near 1.003) to mean something. This script prints that floor.
"""

from __future__ import annotations

import argparse

import arviz as az
import numpy as np


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--params", type=int, default=415, help="number of parameters (geommm: 415 on the 20-geo panel)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    print(f"max R-hat over {a.params} independent N(0, 1) parameters, {a.repeats} repeats")
    print("chains x draws | median | 90th percentile | share of repeats > 1.01")
    for chains, draws in ((2, 500), (4, 500), (2, 1000), (4, 1000)):
        worst = []
        for _ in range(a.repeats):
            x = rng.standard_normal((chains, draws, a.params))
            worst.append(float(az.rhat(az.convert_to_dataset({"x": x}))["x"].max()))
        worst = np.array(worst)
        print(f"{chains} x {draws:<11} | {np.median(worst):.4f} | {np.quantile(worst, 0.9):.4f}          "
              f"| {np.mean(worst > 1.01):.0%}")


if __name__ == "__main__":
    main()
