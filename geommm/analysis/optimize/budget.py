"""optimize_budget: the best plan for a budget, or the budget for a target marginal
ROI, turned into an Allocation (the table and summary the user reads)."""

from __future__ import annotations

import numpy as np
import polars as pl

from geommm.analysis.draws import summarise
from geommm.analysis.forward import EFFECTIVENESS, as_forward
from geommm.analysis.optimize.allocation import DEFAULT_BOUNDS, Allocation, planning_units
from geommm.analysis.optimize.problem import TOL, BudgetProblem, Objective, Plan
from geommm.analysis.optimize.solve import project, solve
from geommm.analysis.tables import CLEAR_MOVE
from geommm.errors import OptimizationError

OBJECTIVES = ("mean", "risk_adjusted")
#: Posterior draws the optimiser works with (evenly thinned): stable means, fast steps.
MAX_DRAWS = 200


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
    national_channels=None,
    effectiveness: str = "latest",
) -> Allocation:
    """Split ``budget`` over channels (``by="channel"``) or geo x channel cells (``by="geo"``).

    ``budget`` is total spend over the planning weeks (default: what was spent);
    ``weeks`` plans over the last N weeks' flighting instead of the whole period.
    ``bounds``: (lower, upper) multipliers of current spend, or a Polars table
    ``[geo,] channel, lower, upper[, kind]`` with kind "relative" or "absolute".
    ``fixed``: channels or (geo, channel) cells held at current spend.
    ``objective="risk_adjusted"`` maximises the ``risk_quantile`` lower quantile of
    incremental KPI instead of its mean (solved through its normal approximation,
    mean - z * sd, then checked on the draws' sample quantile). ``target_marginal_roi`` (without a budget)
    finds the largest budget whose best plan still earns that marginal ROI.
    ``national_channels`` (with ``by="geo"``): channels bought nationally; each is one
    unit over all geos, so its total moves while its geo split stays as it is.
    ``Allocation.weekly_plan()`` gives the plan per geo x channel x week.
    ``effectiveness`` ("latest" or "average"): a time-varying channel's multiplier for the
    planning weeks (its last fitted week's, or its average); stated in the notes.
    """
    forward = as_forward(fit)
    data = forward.data
    if objective not in OBJECTIVES:
        raise OptimizationError(f"objective={objective!r} is not one of {OBJECTIVES}")
    if not 0 < risk_quantile < 1:
        raise OptimizationError(f"risk_quantile={risk_quantile} must be between 0 and 1 (e.g. 0.1)")
    n_weeks = _planning_weeks(weeks, data.n_times)
    current = data.spend[:, -n_weeks:, :].sum(axis=1)
    units = planning_units(
        data.geos, data.channels, current, by=by, bounds=bounds, fixed=fixed,
        national_channels=national_channels,
    )
    if effectiveness not in EFFECTIVENESS:
        raise OptimizationError(f"effectiveness={effectiveness!r} is not one of {EFFECTIVENESS}")
    problem = BudgetProblem(forward, units, n_weeks, max_draws, effectiveness)
    low, high = problem.budget_range
    notes = []
    if forward.varying_channels:
        varying = ", ".join(forward.varying_channels)
        notes.append(f"time-varying channel(s) {varying}: planned at the {effectiveness} "
                     f"effectiveness ({'last fitted week' if effectiveness == 'latest' else 'mean over the fitted weeks'})")
    if target_marginal_roi is not None:
        if budget is not None:
            raise OptimizationError("give either budget= or target_marginal_roi=, not both")
        budget, plan, note = _budget_for_marginal_roi(
            problem, float(target_marginal_roi), low, high
        )
        notes.append(note)
    else:
        budget = _check_budget(
            units.current.sum() if budget is None else budget, low, high, n_weeks
        )
        mean_obj = Objective(problem, "mean", risk_quantile)
        starts = [problem.current[problem.free], _even_start(problem, budget, low, high)]
        plan = solve(problem, mean_obj, budget, starts)
    if objective == "risk_adjusted":
        plan = _risk_adjusted(problem, plan, budget, risk_quantile)
    return _allocation(
        problem, plan, budget, objective, risk_quantile, hdi_prob, notes, target_marginal_roi
    )


def _risk_adjusted(problem: BudgetProblem, mean_plan: Plan, budget: float, quantile: float) -> Plan:
    """Solve the smooth mean - z * sd stand-in, then keep whichever of that plan, the
    mean-optimal plan and the (budget-adjusted) current plan has the highest sample
    ``quantile`` of KPI over the draws: the criterion the user asked for decides."""
    f = problem.free
    if not f.any():
        return mean_plan
    objective = Objective(problem, "risk_adjusted", quantile)
    risk = solve(problem, objective, budget, [mean_plan.multipliers[f], problem.current[f]])
    v = problem.multipliers(project(problem, problem.current[f], budget))
    current = Plan(v, *problem.evaluate(v, order=1))
    return max([risk, mean_plan, current], key=lambda p: np.quantile(p.kpi.sum(axis=1), quantile))


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
        raise OptimizationError(
            f"budget must be a number (total spend over the planning weeks), got {budget!r}"
        ) from None
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


#: Budgets tried, from the top down, to bracket the target marginal ROI before refining.
TARGET_GRID = 8


def _budget_for_marginal_roi(problem: BudgetProblem, target: float, low: float, high: float):
    """The largest budget whose best plan still has marginal ROI >= ``target``.

    Marginal ROI usually falls as the budget grows, but S-shaped (Hill slope > 1)
    channels make it rise first from a near-zero budget. So budgets are tried from
    the top down until one reaches the target, then the crossing above it is refined
    by regula falsi (Illinois variant).
    """
    if not np.isfinite(target):
        raise OptimizationError(f"target_marginal_roi must be a finite number, got {target}")
    if not problem.free.any():
        raise OptimizationError(
            "no unit can change spend within the bounds, so there is no budget to choose"
        )
    obj = Objective(problem, "mean", 0.5)
    f = problem.free
    start = problem.upper[f]
    above = None  # (budget, marginal ROI - target, plan) of the last budget below the target
    seen = []
    for budget in np.linspace(high, low, TARGET_GRID + 1):
        plan = solve(problem, obj, float(budget), [start])
        gap = problem.marginal_roi(plan) - target
        seen.append((gap + target, budget))
        if gap >= 0:
            break
        above, start = (float(budget), gap, plan), plan.multipliers[f]
    else:
        best_m, at = max(seen)
        raise OptimizationError(
            f"no budget the bounds allow ({low:,.2f} to {high:,.2f}) reaches a marginal ROI of "
            f"{target:g}; the highest is {best_m:.3g} at a budget of {at:,.2f}. Lower the "
            "target or widen the bounds"
        )
    if above is None:
        note = (
            f"the bounds cap the budget: at the largest budget they allow ({high:,.2f}) "
            f"the marginal ROI is still {gap + target:.3g} >= {target:g}"
        )
        return high, plan, note
    lo_b, f_lo, best = float(budget), gap, plan
    hi_b, f_hi, _ = above
    side = 0
    for _ in range(40):
        if hi_b - lo_b <= 1e-4 * (high - low) or f_lo <= 1e-6 * max(abs(target), 1e-9):
            break
        mid = hi_b - f_hi * (hi_b - lo_b) / (f_hi - f_lo)
        mid = float(np.clip(mid, lo_b + 0.02 * (hi_b - lo_b), hi_b - 0.02 * (hi_b - lo_b)))
        plan = solve(problem, obj, mid, [best.multipliers[f]])
        f_mid = problem.marginal_roi(plan) - target
        if f_mid >= 0:
            lo_b, f_lo, best = mid, f_mid, plan
            f_hi, side = (f_hi / 2 if side == 1 else f_hi), 1
        else:
            hi_b, f_hi = mid, f_mid
            f_lo, side = (f_lo / 2 if side == -1 else f_lo), -1
    note = (
        f"budget {lo_b:,.2f} is the largest whose best plan keeps a marginal ROI >= {target:g} "
        f"(feasible range {low:,.2f} to {high:,.2f})"
    )
    return lo_b, best, note




def move_probability(
    problem: BudgetProblem, plan: Plan, gradient: np.ndarray, change: np.ndarray
) -> np.ndarray:
    """Per unit, the posterior probability that its move points the right way (NaN if it
    does not move).

    At the best plan every unit that can still move earns the same next-dollar return
    (the plan's marginal ROI). A unit should therefore grow when its next unit of spend
    at *current* spend earns more than that, and shrink when it earns less. The share of
    draws in which that holds for the recommended direction says whether the data support
    the move or whether it sits within its own uncertainty (an approximate or weakly
    identified fit leaves such moves near 0.5).
    """
    out = np.full(change.shape, np.nan)
    f = problem.free & (problem.reference > 0)
    level = _plan_marginal_roi_per_draw(problem, plan)
    if f.sum() < 2 or level is None:
        return out
    mroi = gradient[:, f] / problem.reference[f]  # (D, F) KPI per extra unit of spend now
    moved = np.abs(change[f]) > 1e-6 * np.maximum(problem.units.current[f], 1.0)
    direction = np.sign(change[f]) * moved
    right = ((mroi - level[:, None]) * direction > 0).mean(axis=0)
    out[f] = np.where(moved, right, np.nan)
    return out


def _plan_marginal_roi_per_draw(problem: BudgetProblem, plan: Plan) -> np.ndarray | None:
    """(D,) the plan's marginal ROI per draw: spend-weighted over the units strictly inside
    their bounds (those the budget constraint balances), else over all movable units."""
    f = problem.free & (problem.reference > 0)
    if not f.any():
        return None
    ratio = plan.gradient[:, f] / problem.reference[f]
    v, lo, hi = plan.multipliers[f], problem.lower[f], problem.upper[f]
    gap = 1e-3 * (hi - lo)
    inside = (v > lo + gap) & (v < hi - gap)
    use = inside if inside.any() else np.ones_like(inside)
    w = (v * problem.reference[f])[use]
    w = w / w.sum() if w.sum() > 0 else np.full(w.shape, 1.0 / w.size)
    return ratio[:, use] @ w


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _allocation(
    problem: BudgetProblem,
    plan: Plan,
    budget: float,
    objective: str,
    quantile: float,
    hdi_prob: float,
    notes: list[str],
    target,
) -> Allocation:
    units = problem.units
    now_kpi, now_gradient = problem.evaluate(problem.current, order=1)
    now_total, opt_total = now_kpi.sum(axis=1), plan.kpi.sum(axis=1)
    lift = summarise(opt_total - now_total, hdi_prob)
    optimal = problem.spend(plan.multipliers)
    has_ref = problem.reference > 0
    ref = np.where(has_ref, problem.reference, 1.0)
    mroi = np.where(
        has_ref, plan.gradient.mean(axis=0) / ref, np.nan
    )  # KPI per extra unit of spend
    change = optimal - units.current
    sure = move_probability(problem, plan, now_gradient, change)
    for u, p in enumerate(sure):
        if np.isfinite(p) and p < CLEAR_MOVE:
            units.notes[u].append(
                f"within its own uncertainty: P(right direction) = {p:.2f}; "
                "a lift test would settle it"
            )
    table = pl.DataFrame(
        {
            "geo": [g for g, _ in units.labels],
            "channel": [c for _, c in units.labels],
            "current_spend": units.current,
            "optimal_spend": optimal,
            "change": change,
            "change_pct": [
                None if cur <= 0 else float(d / cur) for cur, d in zip(units.current, change)
            ],
            "lower_spend": units.lower,
            "upper_spend": units.upper,
            "current_kpi_mean": now_kpi.mean(axis=0),
            "optimal_kpi_mean": plan.kpi.mean(axis=0),
            "marginal_roi": [_finite_or_none(x) for x in mroi],
            "move_probability": [_finite_or_none(p) for p in sure],
            "note": ["; ".join(n) if n else None for n in units.notes],
        },
        schema_overrides={
            "change_pct": pl.Float64, "marginal_roi": pl.Float64,
            "move_probability": pl.Float64, "note": pl.String,
        },
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
        "marginal_roi": _finite_or_none(problem.marginal_roi(plan)),
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
        notes.append(
            f"the optimiser stopped early ({plan.message}); the plan is feasible and "
            "no worse than the starting plan, but may not be the best"
        )
    notes += sorted({n for ns in units.notes for n in ns if n.startswith("no spend")})
    weekly = (
        units.geos,
        units.channels,
        problem.times,
        problem.weekly_spend(problem.current),
        problem.weekly_spend(plan.multipliers),
    )
    return Allocation(table=table, summary=summary, by=units.by, notes=notes, weekly=weekly)
