"""The solver: scipy's trust-constr over the free multipliers, with the budget as one
linear equality and the bounds as a box, and a projection onto that feasible set.

(SLSQP, tried first, spends a costly iteration on every bound that becomes active,
and a per-geo plan has hundreds.)
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse
from scipy.optimize import Bounds, LinearConstraint, minimize

from geommm.analysis.optimize.problem import TOL, BudgetProblem, Objective, Plan


def project(problem: BudgetProblem, x: np.ndarray, budget: float) -> np.ndarray:
    """Nearest-in-spirit feasible point: clip to the box, then spread the budget gap
    over the units in proportion to their room to move."""
    f = problem.free
    lo, hi, R = problem.lower[f], problem.upper[f], problem.reference[f]
    x = np.clip(x, lo, hi)
    fixed = float(problem.spend(problem.pinned)[~f].sum())
    for _ in range(3):  # one pass is exact in exact arithmetic; repeat for rounding
        gap = budget - fixed - float(x @ R)
        room = (hi - x) if gap > 0 else (x - lo)
        capacity = float(room @ R)
        if capacity <= 0 or abs(gap) <= TOL * max(budget, 1.0):
            break
        x = np.clip(x + np.sign(gap) * room * min(abs(gap) / capacity, 1.0), lo, hi)
    return x


def solve(
    problem: BudgetProblem, objective: Objective, budget: float, starts: list[np.ndarray]
) -> Plan:
    """Best plan for ``budget``: a local optimum from each start, the best one wins.

    Never worse than the (projected) starts, so a stalled solver still returns a
    feasible plan at least as good as the current one.
    """
    f = problem.free
    low, high = problem.budget_range
    trivial = f.sum() <= 1 or min(budget - low, high - budget) <= TOL * max(budget, 1.0)
    converged, message, candidates = trivial, "", []
    for start in starts if f.any() else []:
        x0 = project(problem, start, budget)
        candidates.append(x0)
        if not trivial:
            x, ok, message = _trust_constr(problem, objective, x0, budget)
            converged = converged or ok
            if x is not None:
                candidates.append(project(problem, x, budget))
    if candidates:
        best = max(candidates, key=lambda x: objective.value(problem.multipliers(x)))
        v = problem.multipliers(best)
    else:
        v = problem.pinned.copy()
    kpi, grad = problem.evaluate(v, order=1)
    return Plan(v, kpi, grad, converged, message)


def _trust_constr(problem: BudgetProblem, objective: Objective, x0: np.ndarray, budget: float):
    """scipy's trust-constr from ``x0``: exact gradient and Hessian, the budget as a
    linear equality, the bounds as a box. Returns (x or None, converged, message).

    Variables are rescaled by sqrt(|curvature|) at ``x0`` so the trust region is
    round in the directions that matter: a big geo and a small one take the same
    number of steps.
    """
    f = problem.free
    lo, hi = problem.lower[f], problem.upper[f]
    h0 = objective.hessian(x0)
    s = np.sqrt(np.abs(h0 if h0.ndim == 1 else np.diag(h0)))
    s = np.maximum(s, 1e-3 * s.max()) if s.max() > 0 else np.ones_like(s)
    s = s / np.median(s)
    norm = max(budget, 1.0)
    fixed = float(problem.spend(problem.pinned)[~f].sum())
    target = (budget - fixed) / norm
    # sparse, so trust-constr factorises sparsely instead of a dense QR per step
    budget_row = scipy.sparse.csr_matrix(problem.reference[f][None, :] / norm / s)
    inner = lo + np.clip(x0 - lo, 1e-6 * (hi - lo), (1 - 1e-6) * (hi - lo))  # interior start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = minimize(
            lambda y: _rescaled(objective.fun(y / s), s),
            inner * s,
            jac=True,
            hess=lambda y: _rescaled_hessian(objective.hessian(y / s), s),
            method="trust-constr",
            bounds=Bounds(lo * s, hi * s),
            constraints=[LinearConstraint(budget_row, target, target)],
            options={"maxiter": 400, "gtol": 1e-9, "xtol": 1e-10},
        )
    x = res.x / s if np.all(np.isfinite(res.x)) else None
    return x, res.status in (1, 2), str(res.message)


def _rescaled_hessian(hess: np.ndarray, s: np.ndarray):
    if hess.ndim == 1:
        return scipy.sparse.diags(hess / s**2)
    return hess / np.outer(s, s)


def _rescaled(value_and_grad: tuple[float, np.ndarray], s: np.ndarray) -> tuple[float, np.ndarray]:
    value, grad = value_and_grad
    return value, grad / s
