"""Lift tests as a second likelihood: each test's measured lift around the lift the
model implies for the same spend change in the same geos and weeks.

The implied lift reuses the media term's adstocked media and curves
(``model/lift.py``), so the experiment and the panel speak through one model.
"""

from __future__ import annotations

from typing import Any

import pymc as pm

from geommm.model.lift import implied_lift
from geommm.model.terms.context import TermContext


def build(ctx: TermContext) -> dict[str, Any]:
    """``lift_implied`` per test and the observed ``lift_observed`` (when tests exist)."""
    cells = ctx.lift_cells
    if cells is None or not cells.n_tests:
        return {}
    values = ctx.values
    level = None
    if ctx.data.log_kpi:  # KPI with minus KPI without the test's spend, on the log model
        level = values["mu"] + 0.5 * values["noise_sd"][:, None] ** 2
    implied = implied_lift(cells, ctx.transform, values, values["adstocked"], ctx.data.kpi_scale, level)
    stored = pm.Deterministic("lift_implied", implied, dims="lift_test")
    pm.Normal("lift_observed", mu=implied, sigma=cells.lift_se, observed=cells.lift, dims="lift_test")
    return {"lift_implied": stored}
