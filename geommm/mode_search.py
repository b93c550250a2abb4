"""The posterior mode for MAP and Laplace: trust-region Newton-Krylov, preconditioned.

Why preconditioned: the unconstrained density is badly scaled (curvatures from about
1 to 1e8 across geo deviations, log spreads and log ROIs), so each Newton step's
Krylov solve needs tens of Hessian-vector products, each one gradient call. In
coordinates whitened by a Hessian, ``x = x0 + A y`` with ``A^T H A = I``, the same
trust-region search needs a few per step. So the search runs in two phases: the plain
search until the gradient is moderate (:data:`PRECONDITION_GTOL`), one Hessian there,
then the whitened search to the mode. If that Hessian is not positive definite the
plain search goes on instead: on a 4-geo test panel whose geo spread heads to zero the
whitened search ran further into that funnel. The spread-corrected objective of
``approx_corrected.py`` is searched whitened by the Hessian at the mode.

Measured on the demo panel (gradient calls; ``docs/performance.md``, "A first look"):
the mode 1,842 -> 745 (248 of them the hand-over's Hessian), the
corrected centre ~1,880 -> ~320; both end within 2e-5 of the plain search's point.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from scipy.optimize import OptimizeResult, minimize

from geommm.errors import ConvergenceWarning, FitError

#: Curvature below which a direction at the mode counts as flat (unconstrained
#: parameters are logs, logits and standard-normal deviations, so a standard
#: deviation of 10 in any direction is already no information at all).
MIN_CURVATURE = 1e-2
#: A search that stops early with a gradient norm (whitened) above this is reported as
#: not converged.
GRADIENT_TOLERANCE = 1e-3
#: The search stops when the gradient's norm in whitened coordinates (about
#: ``sqrt(2 (f - f_min))``) is below this: the demo panel's mode is then within 2e-5 of
#: the plain search's at a largest gradient entry of 1e-4.
MODE_GTOL = 1e-4
#: The plain search hands over to the whitened one when the gradient's norm is below
#: this (demo panel: 446 gradient calls to there from the initial point; at 1.0 it
#: took 905 calls to there and 17 after, at 0.1 1,214 and 5).
PRECONDITION_GTOL = 10.0
#: Finite-difference steps (relative to max(1, |x|)): one-sided differences of the
#: gradient (Hessian-vector products and the preconditioner's Hessian), central ones for
#: the Laplace Hessian (on the demo panel they agree with JAX's exact Hessian to 1e-12).
SEARCH_STEP, HESSIAN_STEP = 1.5e-8, 1e-5

ValueGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]


def find_mode(density) -> np.ndarray:
    """The posterior mode in the unconstrained space of a ``JaxDensity``."""
    fun = remembering(density.value_and_grad)
    res = _trust_krylov(fun, density.x0, hessp_from_gradient(fun), PRECONDITION_GTOL)
    if _finite(res) and res.jac_norm > MODE_GTOL:
        hessian = difference_hessian(density.grad, res.x)
        if np.all(np.isfinite(hessian)) and np.linalg.eigvalsh(hessian)[0] > 0:
            res = minimize_whitened(fun, res.x, hessian, MODE_GTOL)
        else:  # not in a convex basin yet (e.g. a geo spread heading to zero on a small
            # panel, where the whitened search ran further into the funnel): plain search
            res = _trust_krylov(fun, res.x, hessp_from_gradient(fun), MODE_GTOL)
    if not _finite(res):
        raise FitError(
            "the mode search left the region where the model's density is finite; "
            "check the priors and the data, or use method='nuts'"
        )
    if not res.success and res.jac_norm > GRADIENT_TOLERANCE:
        warnings.warn(
            f"the mode search stopped before converging ({res.message}; gradient norm "
            f"{res.jac_norm:.2g} after {res.nit} steps): treat the estimates as rough",
            ConvergenceWarning, stacklevel=4,
        )
    return res.x


def minimize_whitened(fun: ValueGrad, x0: np.ndarray, hessian: np.ndarray, gtol: float) -> OptimizeResult:
    """Trust-region Newton-Krylov on ``fun`` in the coordinates ``hessian`` whitens
    around ``x0`` (its curvatures in absolute value, floored at :data:`MIN_CURVATURE`,
    so any symmetric matrix gives a valid change of variables). The result's ``x`` is in
    the original coordinates; a non-finite ``hessian`` falls back to the plain search."""
    if not np.all(np.isfinite(hessian)):
        return _trust_krylov(fun, x0, hessp_from_gradient(fun), gtol)
    curvature, axes = np.linalg.eigh(0.5 * (hessian + hessian.T))
    scale = axes / np.sqrt(np.maximum(np.abs(curvature), MIN_CURVATURE))[None, :]
    fun = remembering(fun)
    hessp = hessp_from_gradient(fun)

    def whitened(y: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = fun(x0 + scale @ y)
        return value, scale.T @ grad

    def whitened_hessp(y: np.ndarray, v: np.ndarray) -> np.ndarray:
        return scale.T @ hessp(x0 + scale @ y, scale @ v)

    res = _trust_krylov(whitened, np.zeros(x0.size), whitened_hessp, gtol)
    res.x = x0 + scale @ res.x
    return res


def difference_hessian(grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray, central: bool = False) -> np.ndarray:
    """Hessian from differences of the gradient, one coordinate at a time. One-sided
    (``central=False``, step :data:`SEARCH_STEP`): one call per coordinate, for the
    preconditioner; on the demo panel's mode within 1.4e-9 of the central one relative
    to its largest entry, but not near a degenerate mode, so Laplace uses the central
    ones (step :data:`HESSIAN_STEP`, two calls per coordinate)."""
    step = (HESSIAN_STEP if central else SEARCH_STEP) * np.maximum(1.0, np.abs(x))
    g0 = None if central else grad(x)
    rows = np.empty((x.size, x.size))
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = step[j]
        if central:
            rows[j] = (grad(x + e) - grad(x - e)) / (2 * step[j])
        else:
            rows[j] = (grad(x + e) - g0) / step[j]
    return 0.5 * (rows + rows.T)


def remembering(fun: ValueGrad) -> ValueGrad:
    """``fun`` keeping its last point and gradient (``.last``), so that a Hessian-vector
    product at the point a search just evaluated costs no second call there."""

    def wrapped(x: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = fun(x)
        wrapped.last = (x, grad)
        return value, grad

    wrapped.last = None
    return wrapped


def hessp_from_gradient(fun: ValueGrad) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Hessian-vector products as one-sided differences of ``fun``'s gradient; the
    gradient at ``x`` is computed at most once per point (a Krylov solve asks for many
    products at the same ``x``), and not at all if ``fun`` is :func:`remembering` and
    was last called there."""
    at: list = [None, None]

    def hessp(x: np.ndarray, v: np.ndarray) -> np.ndarray:
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            return np.zeros_like(v)
        if at[0] is None or not np.array_equal(at[0], x):
            last = getattr(fun, "last", None)
            known = last is not None and np.array_equal(last[0], x)
            at[:] = [np.array(x), last[1] if known else fun(x)[1]]
        h = SEARCH_STEP * max(1.0, float(np.linalg.norm(x))) / norm
        return (fun(x + h * v)[1] - at[1]) / h

    return hessp


def _finite(res: OptimizeResult) -> bool:
    return bool(np.isfinite(res.fun) and np.all(np.isfinite(res.x)))


def _trust_krylov(fun: ValueGrad, x0: np.ndarray, hessp, gtol: float) -> OptimizeResult:
    res = minimize(fun, x0, jac=True, hessp=hessp, method="trust-krylov",
                   options={"maxiter": 1000, "gtol": gtol})
    res.jac_norm = float(np.linalg.norm(res.jac)) if res.jac is not None else np.inf
    return res
