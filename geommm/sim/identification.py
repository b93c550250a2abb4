"""Three panels whose identifiability is known in advance: pre-flight's yardsticks.

Pre-flight (``geommm/workflows/preflight/simulate.py``) says, before a fit, which
channels a design can identify. These scenarios are built so that a full NUTS fit
of the panel itself gives a clear answer, and pre-flight is scored against it
(``benchmarks/bench_preflight.py``, the slow tests in
``tests/test_preflight_simulate.py``):

- ``"strict"``: tv and search on one buying plan, search's weekly spend a fixed
  multiple of tv's in every geo (``simulate(collinear="strict")``), and search given
  tv's carryover and response curve (:data:`STRICT_SEARCH`). The data fix the pair's
  combined effect, not the split: the pair is *not identified*. With the book's own
  curves (tv retains 0.6 a week, search 0.2) two years of weekly data split the pair
  partly through the carryover alone (NUTS contraction 0.57 and 0.50 on seed 0).
- ``"independent"``: tv on its national plan, search on its own per-geo flighting
  with dark pauses (the book's search is never dark, 35% spend in its short pauses,
  which leaves it only weakly identified even on independent plans). Both channels
  go dark at times of their own: *identified*.
- ``"weak"``: tv and social flighted as in the book plus a smaller email channel that
  is always on (never dark; its weekly spend only wobbles, ~35% week to week),
  explaining :data:`WEAK_SHARE` of the KPI at an ROI of :data:`WEAK_ROI` (the ROI
  prior's centre is about 2.2, so the truth sits where pre-flight plants its
  markets); its spend is about a third of tv's. Never dark, the channel's level is
  hard to tell from the geo's baseline, and only its weekly wobble speaks: *weak*,
  neither fixed by the data nor left to the prior. The share was set with NUTS
  probes (4 geos x 104 weeks, 2 x 500, posterior sd of log ROI over the prior's, by
  the realised share after the simulator's jitter): 1.2% -> 0.82, 2.8% -> 0.78
  (seed 1), 3.7% -> 0.66, 6.1% -> 0.54 (seed 0); the book's email (1%) is not
  identified at all on such a panel, and the middle of the weak band (0.5-0.7)
  needs ~5%.

All three keep every other setting of the simulator's book (noise 5% of the KPI,
trend, seasonality, price and promo controls) and have no lift tests.
"""

from __future__ import annotations

from geommm.errors import DataError
from geommm.sim.generate import simulate
from geommm.sim.store import SimulatedPanel

__all__ = ["SCENARIOS", "WEAK_ROI", "WEAK_SHARE", "identification_scenario"]

SCENARIOS = ("strict", "independent", "weak")
#: Share of the KPI the always-on email channel explains in the "weak" scenario.
WEAK_SHARE = 0.045
#: Its true national ROI (before the simulator's per-seed jitter).
WEAK_ROI = 2.0
#: search's carryover and curve in the "strict" scenario: tv's book values.
STRICT_SEARCH = {"retention": 0.60, "half_saturation": 0.45, "slope": 1.8}
#: search's own flighting in the "independent" scenario: bursts of 3-8 weeks and dark
#: pauses of 2-8 weeks, each geo on its own plan.
INDEPENDENT_SEARCH = {"flight": "geo", "off_level": 0.0, "on_weeks": (3, 8), "off_weeks": (2, 8)}


def identification_scenario(kind: str, seed: int = 0, n_geos: int = 4, n_weeks: int = 104,
                            weak_share: float = WEAK_SHARE) -> SimulatedPanel:
    """The ``kind`` scenario (``strict``, ``independent`` or ``weak``) on ``n_geos`` x
    ``n_weeks``; see the module docstring for what each should show. ``weak_share``
    changes the email channel's share of the KPI (for probes)."""
    common = dict(n_geos=n_geos, n_weeks=n_weeks, seed=seed, n_lift_tests=0)
    if kind == "strict":
        return simulate(channels=["tv", "search"], collinear="strict",
                        profiles={"search": dict(STRICT_SEARCH)}, **common)
    if kind == "independent":
        return simulate(channels=["tv", "search"], collinear=False,
                        profiles={"search": dict(INDEPENDENT_SEARCH)}, **common)
    if kind == "weak":
        return simulate(channels=["tv", "social", "email"], collinear=False,
                        profiles={"email": {"share": weak_share, "roi": WEAK_ROI}}, **common)
    raise DataError(f"identification_scenario got kind={kind!r}; kinds are {list(SCENARIOS)}")
