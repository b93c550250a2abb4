"""Spend patterns for hand-built scenarios beside the simulator's own flighting.

The simulator's channels are flighted (bursts and dark weeks). Some questions need
a channel that never goes dark, as email or always-on search often are: its effect
is hard to tell from the baseline, which is what pre-flight must notice.
"""

from __future__ import annotations

import numpy as np


def always_on(
    rng: np.random.Generator, n_geos: int, n_weeks: int, low: float = 0.3,
    run_weeks: tuple[int, int] = (4, 8), noise: float = 0.15,
) -> np.ndarray:
    """(geos, weeks) spend level that is never dark: alternating runs of ``run_weeks``
    weeks at full level and at ``low``, each geo on its own phase, times lognormal
    weekly noise of sd ``noise``; scaled to mean 1."""
    level = np.ones((n_geos, n_weeks))
    for g in range(n_geos):
        t, on = int(rng.integers(0, 6)), True
        while t < n_weeks:
            n = int(rng.integers(run_weeks[0], run_weeks[1] + 1))
            level[g, t:t + n] = 1.0 if on else low
            t, on = t + n, not on
    return level * rng.lognormal(0.0, noise, (n_geos, n_weeks)) / level.mean()
