"""A first look in seconds: the mode (MAP) and a Laplace approximation, on JAX.

PyMC's ``find_MAP`` and ADVI compile the model with PyTensor's C backend (tens of
seconds, and a BLAS warning on pip installs), and L-BFGS needs thousands of steps on
this badly scaled density (curvatures from 1 to 1e8). Here the model's log density
over its unconstrained value variables goes through PyMC's own JAX conversion, is
compiled once by XLA together with its gradient and Hessian-vector product, and a
trust-region Newton-Krylov method finds the mode in tens of steps (measured on the
demo panel: 42 steps, ~1,200 Hessian-vector products, under a second; L-BFGS-B had
not converged after 2,000 steps and 13 s; ``benchmarks/results/history.md``).

Laplace: the Hessian at the mode (from JAX) is the precision of a multivariate
normal in the unconstrained space; its draws go back through the model's own
value -> variables map (constrained parameters and every deterministic, batched
with ``jax.vmap``), so the posterior has the same names, coords and dims as NUTS.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import arviz as az
import numpy as np
import pymc as pm

from geommm.errors import ConvergenceWarning, FitError

#: Curvature below which a direction at the mode counts as flat (unconstrained
#: parameters are logs, logits and standard-normal deviations, so a standard
#: deviation of 10 in any direction is already no information at all).
MIN_CURVATURE = 1e-2
#: A mode whose largest gradient entry is above this is reported as not converged.
GRADIENT_TOLERANCE = 1e-3
#: Draws pushed through the value -> variables map per compiled call.
CHUNK = 250
#: The one PyTensor rewrite skipped: a sparse-matrix rewrite that reads the C
#: compiler's BLAS flags (and warns about BLAS) although JAX never uses them.
_SKIPPED_REWRITES = ("local_usmm",)


def jaxify(inputs: Sequence, outputs: Sequence) -> Callable:
    """A PyTensor graph as a JAX function, rewritten as PyMC's ``get_jaxified_graph``
    does, minus the rewrite that would trigger PyTensor's BLAS check."""
    import pytensor.tensor as pt
    from pytensor.compile.mode import get_mode
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph import FunctionGraph, clone_replace
    try:
        from pytensor.graph.traversal import graph_inputs
    except ImportError:  # PyTensor before 2.31
        from pytensor.graph.basic import graph_inputs
    from pytensor.link.jax.dispatch import jax_funcify

    shared = [v for v in graph_inputs(outputs) if isinstance(v, SharedVariable)]
    graph = clone_replace(list(outputs), replace={v: pt.constant(v.get_value()) for v in shared})
    fgraph = FunctionGraph(inputs=list(inputs), outputs=graph, clone=True)
    get_mode("JAX").excluding(*_SKIPPED_REWRITES).optimizer.rewrite(fgraph)
    with warnings.catch_warnings():
        # PyTensor says it drops runtime checks (e.g. sigma > 0) that JAX cannot trace;
        # the transforms keep every value in its support, so nothing is lost here
        warnings.filterwarnings("ignore", message=r"Skipping .* as JAX tracing would remove it")
        return jax_funcify(fgraph)


@dataclass
class JaxDensity:
    """The model's log density on a flat vector of its unconstrained value variables."""

    model: pm.Model
    x0: np.ndarray  # the model's initial point, flattened
    shapes: list[tuple[int, ...]]
    variable_names: list[str]  # constrained free variables and deterministics
    batch: int  # points per call of the value -> variables map
    _value_grad_hvp: Callable
    _variables: Callable

    @classmethod
    def from_model(cls, model: pm.Model, seed: int | None = 0, batch: int = 1) -> JaxDensity:
        """Convert and compile once: the density with its derivatives, and the map from
        ``batch`` unconstrained points to every named variable."""
        import jax
        from pymc.util import get_default_varnames

        from geommm import _jax_speed

        _jax_speed.tune_xla_flags()  # before JAX starts its CPU backend
        values = model.value_vars
        start = model.initial_point(seed)  # pure Python evaluation, no C compile
        init = [np.asarray(start[v.name], dtype="float64") for v in values]
        shapes = [x.shape for x in init]
        x0 = np.concatenate([x.ravel() for x in init]) if init else np.zeros(0)
        logp = jaxify(values, [model.logp()])
        split = _splitter(shapes)

        def neg_logp(x):
            return -logp(*split(x))[0]

        def value_grad_hvp(x, v):
            (value, grad), (_, hv) = jax.jvp(jax.value_and_grad(neg_logp), (x,), (v,))
            return value, grad, hv

        # XLA compiles without the GIL: the density compiles in the background while
        # PyTensor rewrites and XLA compiles the value -> variables map (2 cores overlap)
        lowered = jax.jit(value_grad_hvp).lower(x0, x0)
        with ThreadPoolExecutor(max_workers=1) as pool:
            density = pool.submit(lowered.compile)
            wanted = list(get_default_varnames(model.unobserved_value_vars, include_transformed=False))
            to_variables = jaxify(values, wanted)
            points = np.zeros((batch, x0.size))
            batched = jax.jit(jax.vmap(lambda x: to_variables(*split(x)))).lower(points).compile()
            compiled = density.result()
        return cls(model, x0, shapes, [v.name for v in wanted], batch, compiled, batched)

    @property
    def size(self) -> int:
        return self.x0.size

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log density and its gradient."""
        value, grad, _ = self._value_grad_hvp(x, np.zeros_like(x))
        return float(value), np.asarray(grad, dtype="float64")

    def hessp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Hessian of the negative log density at ``x`` times ``v``."""
        return np.asarray(self._value_grad_hvp(x, v)[2], dtype="float64")

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """Full Hessian, one Hessian-vector product per coordinate (no second compile)."""
        basis = np.eye(self.size)
        h = np.stack([self.hessp(x, e) for e in basis])
        return 0.5 * (h + h.T)

    def variables(self, xs: np.ndarray) -> dict[str, np.ndarray]:
        """Every named variable for a batch ``(N, size)`` of unconstrained points."""
        n, size = xs.shape[0], self.batch
        parts: list[list[np.ndarray]] = []
        for start in range(0, n, size):
            chunk = xs[start : start + size]
            pad = size - chunk.shape[0]  # keep one shape: one compile
            if pad:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
            out = self._variables(chunk)
            parts.append([np.asarray(o)[: size - pad] for o in out])
        return {
            name: np.concatenate([p[i] for p in parts]) for i, name in enumerate(self.variable_names)
        }


def _splitter(shapes: list[tuple[int, ...]]) -> Callable:
    sizes = [int(np.prod(s)) for s in shapes]
    bounds = np.cumsum([0, *sizes])

    def split(x):
        return [x[a:b].reshape(s) for a, b, s in zip(bounds[:-1], bounds[1:], shapes)]

    return split


def find_mode(density: JaxDensity) -> np.ndarray:
    """The posterior mode in the unconstrained space (trust-region Newton-Krylov)."""
    from scipy.optimize import minimize

    res = minimize(
        density.value_and_grad, density.x0, jac=True, hessp=density.hessp,
        method="trust-krylov", options={"maxiter": 1000},
    )
    if not np.isfinite(res.fun) or not np.all(np.isfinite(res.x)):
        raise FitError(
            "the mode search left the region where the model's density is finite; "
            "check the priors and the data, or use method='nuts'"
        )
    worst = float(np.max(np.abs(res.jac))) if res.jac is not None and res.jac.size else 0.0
    if not res.success and worst > GRADIENT_TOLERANCE:
        warnings.warn(
            f"the mode search stopped before converging ({res.message}; largest gradient "
            f"{worst:.2g} after {res.nit} steps): treat the estimates as rough",
            ConvergenceWarning, stacklevel=4,
        )
    return res.x


def laplace_draws(density: JaxDensity, mode: np.ndarray, n: int, seed: int | None) -> np.ndarray:
    """``n`` draws of the normal approximation at ``mode``, covariance the inverse Hessian."""
    curvature, axes = np.linalg.eigh(density.hessian(mode))
    flat = curvature < MIN_CURVATURE
    if flat.any():
        warnings.warn(
            f"the Hessian at the mode is not negative definite in {int(flat.sum())} of "
            f"{curvature.size} directions (smallest curvature {curvature.min():.3g}): the "
            f"Laplace approximation regularised them to curvature {MIN_CURVATURE} "
            "(wide intervals there); use method='nuts' for this model",
            ConvergenceWarning, stacklevel=4,
        )
        curvature = np.where(flat, MIN_CURVATURE, curvature)
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((n, mode.size))
    return mode[None, :] + (eps / np.sqrt(curvature)[None, :]) @ axes.T


def to_idata(model: pm.Model, variables: dict[str, np.ndarray], chains: int) -> az.InferenceData:
    """Named draws ``(chains * draws, ...)`` as a posterior with the model's coords and dims."""
    per = next(iter(variables.values())).shape[0] // chains
    posterior = {k: v[: chains * per].reshape(chains, per, *v.shape[1:]) for k, v in variables.items()}
    dims = {k: list(model.named_vars_to_dims.get(k, ())) for k in variables}
    coords = {k: np.asarray(v) for k, v in model.coords.items() if v is not None}
    return az.from_dict(posterior=posterior, coords=coords, dims=dims)


def run_map(model: pm.Model, settings) -> az.InferenceData:
    """The posterior mode as a one-draw posterior; fills the timing fields of ``settings``."""
    t0 = time.perf_counter()
    density = JaxDensity.from_model(model, settings.seed, batch=1)
    settings.compile_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    mode = find_mode(density)
    idata = to_idata(model, density.variables(mode[None, :]), chains=1)
    settings.sampling_seconds = time.perf_counter() - t0
    settings.chains, settings.draws = 1, 1
    return idata


def run_laplace(model: pm.Model, settings) -> az.InferenceData:
    """``draws x chains`` draws of the Laplace approximation, as ``chains`` pseudo-chains."""
    t0 = time.perf_counter()
    n = settings.draws * settings.chains
    density = JaxDensity.from_model(model, settings.seed, batch=min(CHUNK, n))
    settings.compile_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    mode = find_mode(density)
    xs = laplace_draws(density, mode, n, settings.seed)
    idata = to_idata(model, density.variables(xs), chains=settings.chains)
    settings.sampling_seconds = time.perf_counter() - t0
    return idata
