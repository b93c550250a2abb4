"""Budget optimisation: the split of a budget that maximises expected incremental KPI.

Each planning unit (a channel nationally, or a geo x channel cell) scales its
weekly flighting by a multiplier, so the KPI of a plan is the response model of
:meth:`ForwardModel.plan_response` evaluated over thinned posterior draws, with an
exact gradient and Hessian. scipy's trust-constr then maximises the posterior
mean (or a risk-adjusted lower quantile) subject to total spend = budget and each
unit's bounds: a smooth problem with one linear equality and a box, solved in
about two seconds for 40 geos x 6 channels. (SLSQP, tried first, spends a costly
iteration on every bound that becomes active, and a per-geo plan has hundreds.)

Budget and spend are totals over the planning weeks: the whole analysed period
by default, or the last ``weeks`` weeks as the pattern of the next period. The
plan is evaluated on its own (no media before it), carryover after it included,
like ROI.

Modules: ``problem`` (units, reference plans, objective), ``solve`` (trust-constr and
projection), ``budget`` (optimize_budget and the target-marginal-ROI search),
``allocation`` (planning units, bounds and the Allocation result).
"""

from geommm.analysis.optimize.allocation import (
    BY,
    DEFAULT_BOUNDS,
    KINDS,
    NATIONAL,
    Allocation,
    Units,
    planning_units,
)
from geommm.analysis.optimize.budget import MAX_DRAWS, OBJECTIVES, TARGET_GRID, optimize_budget
from geommm.analysis.optimize.problem import TOL, BudgetProblem, Objective, Plan
from geommm.analysis.optimize.solve import project, solve

__all__ = [
    "BY",
    "DEFAULT_BOUNDS",
    "KINDS",
    "MAX_DRAWS",
    "NATIONAL",
    "OBJECTIVES",
    "TARGET_GRID",
    "TOL",
    "Allocation",
    "BudgetProblem",
    "Objective",
    "Plan",
    "Units",
    "optimize_budget",
    "planning_units",
    "project",
    "solve",
]
