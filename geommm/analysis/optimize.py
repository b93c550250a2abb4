"""Budget optimisation: the split of a budget that maximises expected incremental KPI.

Each planning unit (a channel nationally, or a geo x channel cell) scales its
weekly flighting by a multiplier, so the KPI of a plan is the response model of
:mod:`geommm.analysis.response` evaluated over thinned posterior draws, with an
exact gradient. SLSQP then maximises the posterior mean (or a lower quantile)
subject to total spend = budget and each unit's bounds — a smooth problem with
one equality, solved in a second or two even for 40 geos x 6 channels.

Budget and spend are totals over the planning weeks: the whole analysed period
by default, or the last ``weeks`` weeks as the pattern of the next period. The
plan is evaluated on its own (no media before it), carryover after it included,
like ROI.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse
from scipy.optimize import Bounds, LinearConstraint, minimize

from geommm.analysis.allocation import DEFAULT_BOUNDS, NATIONAL, Allocation, Units, planning_units
from geommm.analysis.draws import summarise
from geommm.analysis.forward import ForwardModel
from geommm.analysis.response import MediaResponse, as_forward, thin_draws
from geommm.errors import OptimizationError

OBJECTIVES = ("mean", "risk_adjusted")
#: Posterior draws the optimiser works with (evenly thinned): stable means, fast steps.
MAX_DRAWS = 200
#: Relative tolerance on the budget equation and for "at a bound".
TOL = 1e-9


@dataclass
class Plan:
    """A solved plan: one multiplier per unit and what it earns per draw."""

    multipliers: np.ndarray  # (U,)
    kpi: np.ndarray  # (D, U)
    gradient: np.ndarray  # (D, U) d KPI / d multiplier
    converged: bool = True
    message: str = ""


class BudgetProblem:
    """Units, their reference plans and the response model, ready for the solver.

    Unit ``u`` spends ``multiplier[u] * reference[u]``; ``multiplier = 1`` is what was
    spent in the planning weeks. Units without spend there are opened only by
    absolute bounds, with spend spread evenly over the planning weeks.
    """

    def __init__(self, forward: ForwardModel, units: Units, weeks: int, max_draws: int | None) -> None:
        data = forward.data
        self.units, self.weeks = units, weeks
        plan = data.media_input[:, -weeks:, :]
        spend = data.spend[:, -weeks:, :].sum(axis=1)  # (G, C)
        cell_ref, plan = self._open_empty_units(data, units, spend, plan.copy())
        self.reference = self.to_units(cell_ref[None])[0]  # (U,) spend at multiplier 1
        has_ref = self.reference > 0
        ref = np.where(has_ref, self.reference, 1.0)
        self.current = np.where(has_ref, units.current / ref, 0.0)
        self.lower = np.where(has_ref, units.lower / ref, 0.0)
        self.upper = np.where(has_ref, units.upper / ref, 0.0)
        self.free = has_ref & (self.upper > self.lower * (1 + TOL))
        self.pinned = np.where(self.free, 0.0, self.lower)  # multiplier of the units that cannot move
        self.response = MediaResponse(forward, plan, draws=thin_draws(forward.draws, max_draws))

    def _open_empty_units(self, data, units: Units, spend: np.ndarray, plan: np.ndarray):
        """Reference spend per cell; units with no spend but a positive absolute upper bound
        get an even weekly plan (split over geos by past spend when by='channel')."""
        cell_ref = spend.copy()
        per_spend = data.input_per_spend
        past = data.spend.sum(axis=1)  # (G, C) over the whole panel
        for u, (geo, channel) in enumerate(units.labels):
            cells = np.argwhere(units.unit_of_cell == u)
            c = units.channels.index(channel)
            if units.current[u] > 0:
                dark = [units.geos[g] for g, _ in cells if spend[g, c] <= 0]
                if units.by == "channel" and dark:
                    units.notes[u].append(f"not bought in {len(dark)} geo(s) ({', '.join(dark[:5])}"
                                          f"{', ...' if len(dark) > 5 else ''}): kept at 0 there")
                continue
            if units.upper[u] <= 0 or units.kind[u] == "relative":
                units.notes[u].append(
                    f"no spend in the planning weeks: kept at 0 (give absolute bounds "
                    f"to plan spend for {channel!r}{'' if geo == NATIONAL else ' in ' + repr(geo)})"
                )
                units.lower[u] = units.upper[u] = 0.0
                continue
            share = np.array([past[g, c] for g, _ in cells], dtype="float64")
            share = share / share.sum() if share.sum() > 0 else np.full(len(cells), 1.0 / len(cells))
            for (g, _), s in zip(cells, share):
                cell_ref[g, c] = units.upper[u] * s
                plan[g, :, c] = cell_ref[g, c] * per_spend[g, c] / plan.shape[1]
            units.notes[u].append(f"no spend in the planning weeks: new spend spread evenly over the "
                                  f"{plan.shape[1]} weeks" + (" and over geos by past spend"
                                                              if units.by == "channel" else ""))
        return cell_ref, plan

    # ------------------------------------------------------------------ evaluation
    def multipliers(self, x: np.ndarray) -> np.ndarray:
        """Unit multipliers (U,) from the free ones ``x``."""
        v = self.pinned.copy()
        v[self.free] = x
        return v

    def to_units(self, cells: np.ndarray) -> np.ndarray:
        """(D, G, C) per cell -> (D, U) per unit."""
        if self.units.by == "channel":
            return cells.sum(axis=1)
        return cells.reshape(cells.shape[0], -1)

    def evaluate(self, v: np.ndarray, order: int = 1) -> list[np.ndarray]:
        """Per draw and unit: [KPI, d KPI / d m, d2 KPI / d m2][: order + 1], each (D, U)."""
        cell_m = v[self.units.unit_of_cell]
        return [self.to_units(x) for x in self.response.derivatives(cell_m, order)]

    def spend(self, v: np.ndarray) -> np.ndarray:
        return v * self.reference

    @property
    def budget_range(self) -> tuple[float, float]:
        fixed = float(self.spend(self.pinned)[~self.free].sum())
        R = self.reference[self.free]
        return fixed + float(self.lower[self.free] @ R), fixed + float(self.upper[self.free] @ R)

    def marginal_roi(self, plan: Plan) -> float:
        """KPI per unit of extra budget at ``plan``: the units still able to grow set it."""
        f = self.free
        if not f.any():
            return float("nan")
        ratio = plan.gradient.mean(axis=0)[f] / self.reference[f]  # KPI per extra unit of spend
        v = plan.multipliers[f]
        lo, hi = self.lower[f], self.upper[f]
        gap = 1e-3 * (hi - lo)
        inside = (v > lo + gap) & (v < hi - gap)
        if inside.any():
            w = (v * self.reference[f])[inside]
            return float((ratio[inside] * w).sum() / w.sum()) if w.sum() > 0 else float(ratio[inside].mean())
        can_grow = v < hi - gap
        return float(ratio[can_grow].max() if can_grow.any() else ratio.min())


# ------------------------------------------------------------------------- objective
class Objective:
    """Posterior mean, or a lower quantile, of total incremental KPI as a function of the
    unit multipliers, with exact gradient and (diagonal) Hessian; the last point is cached
    because scipy asks for value, gradient and Hessian separately."""

    def __init__(self, problem: BudgetProblem, kind: str, quantile: float) -> None:
        self.problem, self.kind, self.quantile = problem, kind, quantile
        self.scale = 1.0
        self._key, self._last = None, None
        current = self.evaluate(problem.current)[0]
        self.scale = abs(current) if abs(current) > 0 else 1.0  # SLSQP/trust-constr see O(1) numbers

    def evaluate(self, v: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Objective, gradient (U,) and Hessian diagonal (U,) at unit multipliers ``v``."""
        key = v.tobytes()
        if key == self._key:
            return self._last
        kpi, grad, hess = self.problem.evaluate(v, order=2)
        if self.kind == "mean":
            out = float(kpi.sum(axis=1).mean()), grad.mean(axis=0), hess.mean(axis=0)
        else:
            totals = kpi.sum(axis=1)
            order = np.argsort(totals)
            pos = self.quantile * (len(totals) - 1)
            i = int(np.floor(pos))
            a, b = order[i], order[min(i + 1, len(totals) - 1)]
            w = pos - i  # linear interpolation between the two neighbouring draws
            out = (float((1 - w) * totals[a] + w * totals[b]), (1 - w) * grad[a] + w * grad[b],
                   (1 - w) * hess[a] + w * hess[b])
        self._key, self._last = key, out
        return out

    def value(self, v: np.ndarray) -> float:
        return self.evaluate(v)[0]

    # scipy's view: minimise -objective / scale over the free multipliers
    def fun(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad, _ = self.evaluate(self.problem.multipliers(x))
        return -value / self.scale, -grad[self.problem.free] / self.scale

    def hess_diagonal(self, x: np.ndarray) -> np.ndarray:
        return -self.evaluate(self.problem.multipliers(x))[2][self.problem.free] / self.scale


# ---------------------------------------------------------------------------- solver
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


def solve(problem: BudgetProblem, objective: Objective, budget: float, starts: list[np.ndarray]) -> Plan:
    """Maximise ``objective`` with scipy's trust-constr (exact gradient and Hessian, the
    budget as a linear equality, bounds as a box) from each start; the best plan wins.

    Variables are rescaled by sqrt(|curvature|) at the start so the trust region is
    round in the directions that matter. (SLSQP needs one iteration per bound that
    becomes active, and a per-geo plan has hundreds.)
    """
    f = problem.free
    best_x, best_value, ok, msg = None, -np.inf, not f.sum() > 1, ""
    if f.any():
        fixed = float(problem.spend(problem.pinned)[~f].sum())
        norm = max(budget, 1.0)
        lo, hi = problem.lower[f], problem.upper[f]
        for start in starts:
            x0 = project(problem, start, budget)
            candidates = [x0]
            if f.sum() > 1:
                s = np.sqrt(np.abs(objective.hess_diagonal(x0)))
                s = np.where(s > 1e-3 * s.max(), s, 1e-3 * s.max()) if s.max() > 0 else np.ones_like(s)
                s = s / np.median(s)
                inner = lo + np.clip(x0 - lo, 1e-6 * (hi - lo), (1 - 1e-6) * (hi - lo))
                target = (budget - fixed) / norm
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = minimize(
                        lambda y, s=s: _rescaled(objective.fun(y / s), s), inner * s, jac=True,
                        hess=lambda y, s=s: scipy.sparse.diags(objective.hess_diagonal(y / s) / s**2),
                        method="trust-constr", bounds=Bounds(lo * s, hi * s),
                        constraints=[LinearConstraint(scipy.sparse.csr_matrix(problem.reference[f][None, :] / s / norm), target, target)],
                        options={"maxiter": 400, "gtol": 1e-9, "xtol": 1e-10},
                    )
                if np.all(np.isfinite(res.x)):
                    candidates.insert(0, project(problem, res.x / s, budget))
                ok, msg = ok or res.status in (1, 2), str(res.message)
            for x in candidates:
                value = objective.value(problem.multipliers(x))
                if best_x is None or value > best_value + 1e-12 * abs(best_value):
                    best_x, best_value = x, value
    v = problem.multipliers(best_x) if best_x is not None else problem.pinned.copy()
    kpi, grad = problem.evaluate(v, order=1)
    return Plan(v, kpi, grad, ok, msg)


def _rescaled(value_and_grad: tuple[float, np.ndarray], s: np.ndarray) -> tuple[float, np.ndarray]:
    value, grad = value_and_grad
    return value, grad / s


# ------------------------------------------------------------------------ public API
def optimize_budget(
    fit,
    budget: float | None = None,
    *,
    by: str = "channel",
    bounds=DEFAULT_BOUNDS,
    weeks: int | None = None,
    fixed=None,
    objective: str = "mean",
    risk_quantile: float = 0.1,
    target_marginal_roi: float | None = None,
    hdi_prob: float = 0.9,
    max_draws: int | None = MAX_DRAWS,
) -> Allocation:
    """Split ``budget`` over channels (``by="channel"``) or geo x channel cells (``by="geo"``).

    ``budget`` is total spend over the planning weeks (default: what was spent);
    ``weeks`` plans over the last N weeks' flighting instead of the whole period.
    ``bounds``: (lower, upper) multipliers of current spend, or a Polars table
    ``[geo,] channel, lower, upper[, kind]`` with kind "relative" or "absolute".
    ``fixed``: channels or (geo, channel) cells held at current spend.
    ``objective="risk_adjusted"`` maximises the ``risk_quantile`` lower quantile of
    incremental KPI instead of its mean. ``target_marginal_roi`` (without a budget)
    finds the largest budget whose best plan still earns that marginal ROI.
    """
    forward = as_forward(fit)
    data = forward.data
    if objective not in OBJECTIVES:
        raise OptimizationError(f"objective={objective!r} is not one of {OBJECTIVES}")
    if not 0 < risk_quantile < 1:
        raise OptimizationError(f"risk_quantile={risk_quantile} must be between 0 and 1 (e.g. 0.1)")
    n_weeks = _planning_weeks(weeks, data.n_times)
    current = data.spend[:, -n_weeks:, :].sum(axis=1)
    units = planning_units(data.geos, data.channels, current, by=by, bounds=bounds, fixed=fixed)
    problem = BudgetProblem(forward, units, n_weeks, max_draws)
    low, high = problem.budget_range
    notes = []
    if target_marginal_roi is not None:
        if budget is not None:
            raise OptimizationError("give either budget= or target_marginal_roi=, not both")
        budget, plan, note = _budget_for_marginal_roi(problem, float(target_marginal_roi), low, high)
        notes.append(note)
    else:
        budget = _check_budget(units.current.sum() if budget is None else budget, low, high, n_weeks)
        mean_obj = Objective(problem, "mean", risk_quantile)
        starts = [problem.current[problem.free], _even_start(problem, budget, low, high)]
        plan = solve(problem, mean_obj, budget, starts)
    if objective == "risk_adjusted":
        risk_obj = Objective(problem, "risk_adjusted", risk_quantile)
        plan = solve(problem, risk_obj, budget, [plan.multipliers[problem.free], problem.current[problem.free]])
    return _allocation(problem, plan, budget, objective, risk_quantile, hdi_prob, notes,
                       target_marginal_roi)


def _planning_weeks(weeks: int | None, n_times: int) -> int:
    if weeks is None:
        return n_times
    if not isinstance(weeks, (int, np.integer)) or not 1 <= weeks <= n_times:
        raise OptimizationError(
            f"weeks={weeks!r}: give the number of most recent weeks (1..{n_times}) whose flighting "
            "is the planning pattern, or None for the whole analysed period"
        )
    return int(weeks)


def _check_budget(budget, low: float, high: float, weeks: int) -> float:
    try:
        budget = float(budget)
    except (TypeError, ValueError):
        raise OptimizationError(f"budget must be a number (total spend over the planning weeks), got {budget!r}") from None
    if not np.isfinite(budget) or budget < 0:
        raise OptimizationError(f"budget must be a finite amount >= 0, got {budget}")
    slack = TOL * max(high, 1.0)
    if budget < low - slack or budget > high + slack:
        raise OptimizationError(
            f"budget {budget:,.2f} is outside what the bounds allow over the {weeks} planning "
            f"weeks: the feasible budget range is {low:,.2f} to {high:,.2f}; change the budget "
            "or widen the bounds"
        )
    return float(np.clip(budget, low, high))


def _even_start(problem: BudgetProblem, budget: float, low: float, high: float) -> np.ndarray:
    """The same relative position between lower and upper bound for every unit."""
    f = problem.free
    theta = 0.5 if high <= low else (budget - low) / (high - low)
    return problem.lower[f] + theta * (problem.upper[f] - problem.lower[f])


def _budget_for_marginal_roi(problem: BudgetProblem, target: float, low: float, high: float):
    """Bisection on the budget: the largest one whose best plan has marginal ROI >= target."""
    if not np.isfinite(target):
        raise OptimizationError(f"target_marginal_roi must be a finite number, got {target}")
    if not problem.free.any():
        raise OptimizationError("no unit can change spend within the bounds, so there is no budget to choose")
    obj = Objective(problem, "mean", 0.5)
    at_low = solve(problem, obj, low, [problem.lower[problem.free]])
    m_low = problem.marginal_roi(at_low)
    if m_low < target:
        raise OptimizationError(
            f"even the smallest budget the bounds allow ({low:,.2f}) has a marginal ROI of "
            f"{m_low:.3g}, below the target {target:g}; lower the target or the bounds' lower limits"
        )
    at_high = solve(problem, obj, high, [problem.upper[problem.free]])
    m_high = problem.marginal_roi(at_high)
    if m_high >= target:
        return high, at_high, (f"the bounds cap the budget: at the largest budget they allow "
                               f"({high:,.2f}) the marginal ROI is still {m_high:.3g} >= {target:g}")
    lo_b, hi_b, best = low, high, at_low
    for _ in range(40):
        if hi_b - lo_b <= 1e-4 * (high - low):
            break
        mid = 0.5 * (lo_b + hi_b)
        plan = solve(problem, obj, mid, [best.multipliers[problem.free]])
        if problem.marginal_roi(plan) >= target:
            lo_b, best = mid, plan
        else:
            hi_b = mid
    return lo_b, best, (f"budget {lo_b:,.2f} is the largest whose best plan keeps a marginal ROI "
                        f">= {target:g} (feasible range {low:,.2f} to {high:,.2f})")


def _allocation(problem: BudgetProblem, plan: Plan, budget: float, objective: str,
                quantile: float, hdi_prob: float, notes: list[str], target) -> Allocation:
    units = problem.units
    now_kpi = problem.evaluate(problem.current, order=0)[0]
    now_total, opt_total = now_kpi.sum(axis=1), plan.kpi.sum(axis=1)
    lift = summarise(opt_total - now_total, hdi_prob)
    optimal = problem.spend(plan.multipliers)
    has_ref = problem.reference > 0
    mroi = np.where(has_ref, plan.gradient.mean(axis=0) / np.where(has_ref, problem.reference, 1.0), np.nan)
    change = optimal - units.current
    table = pl.DataFrame(
        {
            "geo": [g for g, _ in units.labels],
            "channel": [c for _, c in units.labels],
            "current_spend": units.current,
            "optimal_spend": optimal,
            "change": change,
            "change_pct": [None if cur <= 0 else float(d / cur) for cur, d in zip(units.current, change)],
            "lower_spend": units.lower,
            "upper_spend": units.upper,
            "current_kpi_mean": now_kpi.mean(axis=0),
            "optimal_kpi_mean": plan.kpi.mean(axis=0),
            "marginal_roi": [float(x) if np.isfinite(x) else None for x in mroi],
            "note": ["; ".join(n) if n else None for n in units.notes],
        },
        schema_overrides={"change_pct": pl.Float64, "marginal_roi": pl.Float64, "note": pl.String},
    )
    summary = {
        "budget": float(budget),
        "weeks": problem.weeks,
        "by": units.by,
        "objective": objective,
        "hdi_prob": hdi_prob,
        "current_spend": float(units.current.sum()),
        "optimal_spend": float(optimal.sum()),
        "current_kpi_mean": float(now_total.mean()),
        "optimal_kpi_mean": float(opt_total.mean()),
        "expected_lift_mean": float(lift["mean"]),
        "expected_lift_hdi_low": float(lift["hdi_low"]),
        "expected_lift_hdi_high": float(lift["hdi_high"]),
        "marginal_roi": problem.marginal_roi(plan),
        "n_draws": int(now_kpi.shape[0]),
        "converged": plan.converged,
    }
    if objective == "risk_adjusted":
        summary["risk_quantile"] = quantile
        summary["current_kpi_quantile"] = float(np.quantile(now_total, quantile))
        summary["optimal_kpi_quantile"] = float(np.quantile(opt_total, quantile))
    if target is not None:
        summary["target_marginal_roi"] = float(target)
    if not plan.converged:
        notes.append(f"the optimiser stopped early ({plan.message}); the plan is feasible and "
                     "no worse than the starting plan, but may not be the best")
    notes += sorted({n for ns in units.notes for n in ns if n.startswith("no spend")})
    return Allocation(table=table, summary=summary, by=units.by, notes=notes)
