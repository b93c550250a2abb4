"""The budget problem: planning units with their reference plans and the response
model, a solved plan, and the objective the solver maximises.

Unit ``u`` spends ``multiplier[u] * reference[u]``; the KPI of a plan is
:meth:`ForwardModel.plan_response` over thinned posterior draws, with its exact
gradient and Hessian in the multipliers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

from geommm.analysis.draws import thin_draws
from geommm.analysis.forward import ForwardModel
from geommm.analysis.optimize.allocation import NATIONAL, Units

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

    def __init__(
        self, forward: ForwardModel, units: Units, weeks: int, max_draws: int | None,
        effectiveness: str = "latest",
    ) -> None:
        data = forward.data
        self.units, self.weeks = units, weeks
        plan = data.media_input[:, -weeks:, :]
        spend = data.spend[:, -weeks:, :].sum(axis=1)  # (G, C)
        self._cell_to_unit = np.zeros((units.unit_of_cell.size, units.n_units))
        self._cell_to_unit[np.arange(units.unit_of_cell.size), units.unit_of_cell.reshape(-1)] = 1.0
        self.weekly_reference = data.spend[:, -weeks:, :].astype("float64")  # (G, W, C)
        self.times = data.times[-weeks:]
        cell_ref, plan = self._open_empty_units(data, units, spend, plan.copy())
        self.reference = self.to_units(cell_ref[None])[0]  # (U,) spend at multiplier 1
        has_ref = self.reference > 0
        ref = np.where(has_ref, self.reference, 1.0)
        self.current = np.where(has_ref, units.current / ref, 0.0)
        self.lower = np.where(has_ref, units.lower / ref, 0.0)
        self.upper = np.where(has_ref, units.upper / ref, 0.0)
        self.free = has_ref & (self.upper > self.lower * (1 + TOL))
        self.pinned = np.where(
            self.free, 0.0, self.lower
        )  # multiplier of the units that cannot move
        self.response = forward.with_draws(thin_draws(forward.draws, max_draws)).plan_response(
            plan, effectiveness, start=data.n_times - weeks)

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
                if len(cells) > 1 and dark:
                    units.notes[u].append(
                        f"not bought in {len(dark)} geo(s) ({', '.join(dark[:5])}"
                        f"{', ...' if len(dark) > 5 else ''}): kept at 0 there"
                    )
                continue
            if units.upper[u] <= 0 or units.kind[u] == "relative":
                units.notes[u].append(
                    f"no spend in the planning weeks: kept at 0 (give absolute bounds "
                    f"to plan spend for {channel!r}{'' if geo == NATIONAL else ' in ' + repr(geo)})"
                )
                units.lower[u] = units.upper[u] = 0.0
                continue
            share = np.array([past[g, c] for g, _ in cells], dtype="float64")
            share = (
                share / share.sum() if share.sum() > 0 else np.full(len(cells), 1.0 / len(cells))
            )
            for (g, _), s in zip(cells, share):
                cell_ref[g, c] = units.upper[u] * s
                plan[g, :, c] = cell_ref[g, c] * per_spend[g, c] / plan.shape[1]
                self.weekly_reference[g, :, c] = cell_ref[g, c] / plan.shape[1]
            units.notes[u].append(
                f"no spend in the planning weeks: new spend spread evenly over the "
                f"{plan.shape[1]} weeks"
                + (" and over geos by past spend" if len(cells) > 1 else "")
            )
        return cell_ref, plan

    # ------------------------------------------------------------------ evaluation
    def multipliers(self, x: np.ndarray) -> np.ndarray:
        """Unit multipliers (U,) from the free ones ``x``."""
        v = self.pinned.copy()
        v[self.free] = x
        return v

    def to_units(self, cells: np.ndarray) -> np.ndarray:
        """(D, G, C) per cell -> (D, U) per unit (a unit sums its cells)."""
        return cells.reshape(cells.shape[0], -1) @ self._cell_to_unit

    def evaluate(self, v: np.ndarray, order: int = 1) -> list[np.ndarray]:
        """Per draw and unit: [KPI, d KPI / d m, d2 KPI / d m2][: order + 1], each (D, U)."""
        cell_m = v[self.units.unit_of_cell]
        return [self.to_units(x) for x in self.response.derivatives(cell_m, order)]

    def cross_terms(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The Hessian's ``synergy()`` entries: unit rows, unit columns (K,) and values
        (D, K), one per geo and pair; None without synergy (a diagonal Hessian)."""
        cross = self.response.cross(v[self.units.unit_of_cell])
        if cross is None:
            return None
        firsts, seconds = self.response.synergy.firsts, self.response.synergy.seconds
        rows, cols = self.units.unit_of_cell[:, firsts], self.units.unit_of_cell[:, seconds]
        return rows.reshape(-1), cols.reshape(-1), cross.reshape(cross.shape[0], -1)

    def spend(self, v: np.ndarray) -> np.ndarray:
        return v * self.reference

    def weekly_spend(self, v: np.ndarray) -> np.ndarray:
        """(G, W, C) spend per cell and planning week of the plan with unit multipliers ``v``."""
        return v[self.units.unit_of_cell][:, None, :] * self.weekly_reference

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
            if w.sum() <= 0:
                return float(ratio[inside].mean())
            return float((ratio[inside] * w).sum() / w.sum())
        can_grow = v < hi - gap
        return float(ratio[can_grow].max() if can_grow.any() else ratio.min())


# ------------------------------------------------------------------------- objective
class Objective:
    """What the plan maximises, as a function of the unit multipliers, with its exact
    gradient and Hessian; the last point is cached because scipy asks for them apart.

    ``"mean"``: posterior mean of total incremental KPI (separable: diagonal Hessian).
    ``"risk_adjusted"``: ``mean - z * sd``, the normal approximation of the ``quantile``
    lower quantile. A sample quantile of draws is not differentiable (the ranking of the
    draws changes with the plan); this smooth stand-in keeps the solver exact and fast.
    """

    def __init__(self, problem: BudgetProblem, kind: str, quantile: float) -> None:
        self.problem, self.kind = problem, kind
        self.z = float(-scipy.stats.norm.ppf(quantile))
        self._key, self._last = None, None
        current = abs(float(problem.evaluate(problem.current, order=0)[0].sum(axis=1).mean()))
        self.scale = current if current > 0 else 1.0  # the solver sees numbers of order one

    def evaluate(self, v: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Objective, gradient (U,) and Hessian: its diagonal (U,) or the full (U, U)."""
        key = v.tobytes()
        if key == self._key:
            return self._last
        kpi, grad, hess = self.problem.evaluate(v, order=2)
        cross = self.problem.cross_terms(v)  # synergy(): off-diagonal entries, else None
        total = kpi.sum(axis=1)
        out = float(total.mean()), grad.mean(axis=0), _with_cross(hess.mean(axis=0), cross, None)
        sd = float(total.std())
        if self.kind == "risk_adjusted" and sd > 1e-12 * max(abs(out[0]), 1.0):
            D = len(total)
            dev, g_dev = total - total.mean(), grad - grad.mean(axis=0)
            cov = dev @ grad / D  # covariance of total KPI with each unit's gradient
            dev_hess = _as_matrix(_with_cross(dev @ hess / D, cross, dev / D))
            h_sd = (g_dev.T @ g_dev / D + dev_hess) / sd - np.outer(cov, cov) / sd**3
            out = (
                out[0] - self.z * sd,
                out[1] - self.z * cov / sd,
                _as_matrix(out[2]) - self.z * h_sd,
            )
        self._key, self._last = key, out
        return out

    def value(self, v: np.ndarray) -> float:
        return self.evaluate(v)[0]

    # scipy's view: minimise -objective / scale over the free multipliers
    def fun(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad, _ = self.evaluate(self.problem.multipliers(x))
        return -value / self.scale, -grad[self.problem.free] / self.scale

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """Hessian of ``fun`` over the free units: a diagonal (n,) or a full (n, n) matrix."""
        hess = self.evaluate(self.problem.multipliers(x))[2]
        f = self.problem.free
        return -(hess[f] if hess.ndim == 1 else hess[np.ix_(f, f)]) / self.scale



def _with_cross(diagonal: np.ndarray, cross, weights: np.ndarray | None) -> np.ndarray:
    """The diagonal as it is without synergy; with it, the full matrix: the diagonal plus
    the cross entries averaged over draws (``weights`` per draw, else the mean)."""
    if cross is None:
        return diagonal
    rows, cols, values = cross
    avg = values.mean(axis=0) if weights is None else weights @ values
    full = np.diag(diagonal)
    np.add.at(full, (rows, cols), avg)
    np.add.at(full, (cols, rows), avg)
    return full


def _as_matrix(hess: np.ndarray) -> np.ndarray:
    return hess if hess.ndim == 2 else np.diag(hess)
