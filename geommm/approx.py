"""A first look in seconds: the mode (MAP) and a Laplace approximation, on JAX.

PyMC's ``find_MAP`` and ADVI compile the model with PyTensor's C backend (tens of
seconds, and a BLAS warning on pip installs), and L-BFGS needs thousands of steps on
this badly scaled density (curvatures from 1 to 1e8). Here the model's log density
over its unconstrained value variables goes through PyMC's own JAX conversion, is
compiled once by XLA together with its gradient, and a trust-region Newton-Krylov
method (Hessian-vector products from differences of the gradient, preconditioned by a
Hessian once near the mode: ``mode_search.py``) finds the mode in tens of steps
(L-BFGS-B had not converged after 2,000 steps and 13 s on the demo panel;
``docs/performance.md``, history in ``benchmarks/results/history.md``).

Laplace: the Hessian at the mode (central differences of JAX's gradient) is the precision of a multivariate
normal in the unconstrained space; its draws go back through the model's own
value -> variables map (constrained parameters and every deterministic, batched
with ``jax.vmap``), so the posterior has the same names, coords and dims as NUTS.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass

import arviz as az
import numpy as np
import pymc as pm

from geommm import variables_map
from geommm._gc_pause import paused_gc
from geommm._jax_speed import joined_value_and_grad, lean_graphs, value_and_gradient
from geommm.errors import ConvergenceWarning
from geommm.mode_search import (  # noqa: F401 - this module's API since issue 18
    GRADIENT_TOLERANCE,
    HESSIAN_STEP,
    MIN_CURVATURE,
    MODE_GTOL,
    SEARCH_STEP,
    difference_hessian,
    find_mode,
    hessp_from_gradient,
)
from geommm.variables_map import Deferred, background_compiles, python_map

#: Curvature given to a direction the Hessian at the mode calls flat or a saddle: the
#: unconstrained coordinates' priors have a scale of about 1 (logs, logits, standard-normal
#: deviations). At MIN_CURVATURE (sd 10) a 4-geo panel whose geo spread heads to zero got
#: draws whose media effects overflowed.
FLAT_CURVATURE = 1.0
#: Pareto k above which importance weights are not trusted (PSIS's own threshold), and
#: the Laplace draws on which k is estimated before weighting them all.
PARETO_K_MAX, PSIS_PROBE = 0.7, 200
#: Draws pushed through the value -> variables map per compiled call.
CHUNK = 250


def jaxify(inputs: Sequence, outputs: Sequence) -> Callable:
    """A PyTensor graph as a JAX function (``geommm._jax_graph.jaxify``)."""
    from geommm._jax_graph import jaxify as _jaxify

    return _jaxify(inputs, outputs)


@dataclass
class JaxDensity:
    """The model's log density on a flat vector of its unconstrained value variables.

    Only the density and its gradient are compiled; Hessian-vector products are
    differences of the gradient. XLA compiled JAX's exact forward-over-reverse
    product in over twice the time of the gradient, and it ran slower per call than
    two gradients, while the differences agree with it to rounding. ``logp_data`` and
    ``vars_data`` are this model's values of the constants lifted to arguments when
    one compile serves several models (:func:`densities`)."""

    model: pm.Model
    x0: np.ndarray  # the model's initial point, flattened
    shapes: list[tuple[int, ...]]
    variable_names: list[str]  # constrained free variables and deterministics
    batch: int  # points per call of the value -> variables map
    _value_grad: Callable  # x -> [value, *gradient] (_jax_speed.joined_value_and_grad)
    _variables: Callable
    logp_data: tuple = ()
    vars_data: tuple = ()
    _hessp: Callable | None = None  # built on first use

    @classmethod
    def from_model(cls, model: pm.Model, seed: int | None = 0, batch: int = 1) -> JaxDensity:
        """Convert and compile once: the density with its gradient, and the map from
        ``batch`` unconstrained points to every named variable."""
        return densities([model], seed, batch)[0]

    @property
    def size(self) -> int:
        return self.x0.size

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log density and its gradient."""
        return value_and_gradient(self._value_grad(x, *self.logp_data))

    def grad(self, x: np.ndarray) -> np.ndarray:
        return value_and_gradient(self._value_grad(x, *self.logp_data))[1]

    def hessp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Hessian of the negative log density at ``x`` times ``v``: a one-sided difference
        of the gradient (``mode_search.hessp_from_gradient``)."""
        if self._hessp is None:
            self._hessp = hessp_from_gradient(self.value_and_grad)
        return self._hessp(x, v)

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """Full Hessian: central differences of the gradient (``mode_search.difference_hessian``)."""
        return difference_hessian(self.grad, x, central=True)

    def variables(self, xs: np.ndarray) -> dict[str, np.ndarray]:
        """Every named variable for a batch ``(N, size)`` of unconstrained points."""
        n, size = xs.shape[0], self.batch
        parts: list[list[np.ndarray]] = []
        for start in range(0, n, size):
            chunk = xs[start : start + size]
            pad = size - chunk.shape[0]  # keep one shape: one compile
            if pad:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad, axis=0)])
            out = self._variables(chunk, *self.vars_data)
            parts.append([np.asarray(o)[: size - pad] for o in out])
        return {
            name: np.concatenate([p[i] for p in parts]) for i, name in enumerate(self.variable_names)
        }


def _logp_graph(model: pm.Model) -> tuple:
    """(inputs, outputs) of the model's joint log density over its value variables."""
    return model.value_vars, [model.logp()]


#: (inputs, outputs) of the value -> variables map, and the variables' names.
_vars_graph = variables_map.vars_graph


def _graphs(model: pm.Model) -> tuple:
    """(inputs, outputs) of the density and of the value -> variables map, and the
    variables' names."""
    vars_graph, names = _vars_graph(model)
    return _logp_graph(model), vars_graph, names


def _start(model: pm.Model, seed: int | None) -> list[np.ndarray]:
    """The model's initial point, one array per value variable (pure Python evaluation,
    no C compile)."""
    start = model.initial_point(seed)
    return [np.asarray(start[v.name], dtype="float64") for v in model.value_vars]


def _flat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([p.ravel() for p in parts]) if parts else np.zeros(0)


def densities(models: Sequence[pm.Model], seed: int | None = 0, batch: int = 1) -> list[JaxDensity]:
    """One :class:`JaxDensity` per model. Models built by the same code on data of the
    same shapes share one compile: the constants that differ between them (their
    data, data-driven priors and scales) become arguments. Models whose graphs differ
    otherwise (``_jax_graph.alike``) are compiled in groups."""
    with lean_graphs(), paused_gc():
        return _densities(list(models), seed, batch)


def _densities(models: list[pm.Model], seed: int | None, batch: int) -> list[JaxDensity]:
    import jax

    from geommm import _jax_speed
    from geommm._jax_graph import alike, lift_plan
    from geommm._jax_graph import jaxify as _jaxify

    _jax_speed.tune_xla_flags()  # before JAX starts its CPU backend
    _jax_speed.persistent_cache()  # a warm process loads the executables (cold: compiles)
    n = len(models)
    plans = (([], [[]] * n), ([], [[]] * n))
    vars_graph = None
    if n > 1:  # every model's graphs first: which constants differ between them
        graphs = [_graphs(m) for m in models]
        groups = alike([g[:2] for g in graphs])
        if len(groups) > 1:  # one compile per group of models with the same graph
            out: list[JaxDensity] = [None] * n  # type: ignore[list-item]
            for group in groups:
                for k, d in zip(group, _densities([models[k] for k in group], seed, batch)):
                    out[k] = d
            return out
        logp_plan = lift_plan([g[0] for g in graphs])
        vars_plan = lift_plan([g[1] for g in graphs]) if logp_plan is not None else None
        if logp_plan is None or vars_plan is None:
            return [_densities([m], seed, batch)[0] for m in models]
        plans = (logp_plan, vars_plan)
        logp_graph, vars_graph = graphs[0][0], graphs[0][1:]
    else:
        logp_graph = _logp_graph(models[0])
    (logp_lift, logp_data), (vars_lift, vars_data) = plans
    inits = [_start(m, seed) for m in models]
    shapes = [x.shape for x in inits[0]]
    split = _splitter(shapes)
    starts = [_flat(x) for x in inits]
    logp = _jaxify(*logp_graph, lifted=logp_lift)

    def neg_logp(x, *data):
        return -logp(*split(x), *data)[0]

    # XLA compiles without the GIL: the density compiles on the second core while
    # PyTensor builds the value -> variables map (variables_map.py)
    lowered = jax.jit(joined_value_and_grad(neg_logp)).lower(starts[0], *logp_data[0])
    with background_compiles() as submit:
        density = submit(lowered)
        maps = [python_map(m, split) for m in models] if batch == 1 else [None]
        if all(maps):  # one point per call: no compile
            names, mapped, vars_data = maps[0][1], [f for f, _ in maps], [()] * len(models)
        else:  # compiled once the density is, while the mode search runs
            (vars_in, vars_out), names = vars_graph or _vars_graph(models[0])
            to_variables = _jaxify(vars_in, vars_out, lifted=vars_lift)
            axes = (0, *([None] * len(vars_lift)))
            batched = jax.vmap(lambda x, *d: to_variables(*split(x), *d), in_axes=axes)
            points = np.zeros((batch, starts[0].size))
            mapped = [Deferred(submit(jax.jit(batched).lower(points, *vars_data[0])))] * len(models)
        _rehearse(models[0], maps[0] or python_map(models[0], split), starts[0])
        compiled = density.result()
    return [
        JaxDensity(m, x0, shapes, names, batch, compiled, f, tuple(ld), tuple(vd))
        for m, x0, f, ld, vd in zip(models, starts, mapped, logp_data, vars_data)
    ]


def _rehearse(model: pm.Model, found: tuple | None, x0: np.ndarray) -> None:
    """The start point as a one-draw posterior, made while XLA compiles: a process's first
    arviz conversion imports modules for ~0.9 s (xarray's check for dask arrays), Python
    work that would otherwise wait until after the mode search. ``found``: the model's
    Python-linker map (:func:`variables_map.python_map`); None skips the rehearsal."""
    if found is None:
        return
    with suppress(Exception):  # a rehearsal only: the real conversion reports any error
        f, names = found
        to_idata(model, dict(zip(names, f(x0[None, :]))), chains=1)


def _splitter(shapes: list[tuple[int, ...]]) -> Callable:
    sizes = [int(np.prod(s)) for s in shapes]
    bounds = np.cumsum([0, *sizes])

    def split(x):
        return [x[a:b].reshape(s) for a, b, s in zip(bounds[:-1], bounds[1:], shapes)]

    return split


def laplace_draws(density: JaxDensity, mode: np.ndarray, n: int, seed: int | None) -> np.ndarray:
    """``n`` draws of the normal approximation at ``mode``, covariance the inverse Hessian."""
    return _laplace(density, mode, n, seed)[0]


def _laplace(density: JaxDensity, mode: np.ndarray, n: int, seed: int | None, hessian: np.ndarray | None = None):
    """Laplace draws and their squared norms in standard-normal coordinates (-2 log q + c);
    ``hessian``: the normal's precision at ``mode`` (default: the density's Hessian there)."""
    curvature, axes = np.linalg.eigh(density.hessian(mode) if hessian is None else hessian)
    flat = curvature < MIN_CURVATURE
    if flat.any():
        warnings.warn(
            f"the Hessian at the mode is not negative definite in {int(flat.sum())} of "
            f"{curvature.size} directions (smallest curvature {curvature.min():.3g}): the "
            f"Laplace approximation gave them the prior's scale (curvature {FLAT_CURVATURE}); "
            "use method='nuts' for this model",
            ConvergenceWarning, stacklevel=4,
        )
        curvature = np.where(flat, FLAT_CURVATURE, curvature)
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal((n, mode.size))
    return mode[None, :] + (eps / np.sqrt(curvature)[None, :]) @ axes.T, (eps**2).sum(axis=1)


def _log_weights(density: JaxDensity, xs: np.ndarray, sq: np.ndarray) -> np.ndarray:
    """log p(x) - log q(x) up to a constant; ``sq``: the draws' squared norms in the
    normal's standard coordinates (one compiled density call per draw)."""
    logp = np.array([-density.value_and_grad(x)[0] for x in xs])
    return logp + 0.5 * sq


def importance_resample(
    density: JaxDensity, xs: np.ndarray, sq: np.ndarray, seed: int | None
) -> tuple[np.ndarray, float]:
    """Laplace draws corrected towards the posterior by Pareto-smoothed importance
    sampling (arviz's ``psislw``), and the Pareto k of the weights.

    k is first estimated on :data:`PSIS_PROBE` draws (a few hundred density calls). Above
    :data:`PARETO_K_MAX` the weights cannot be trusted (Vehtari et al., "Pareto smoothed
    importance sampling"): the draws are returned unchanged and k says how far the
    normal is from the posterior (on the demo panel's 247 dimensions k is ~8: the
    normal's draws fit the data far worse than posterior draws do, jointly). Below it
    every draw is weighted and ``len(xs)`` draws are resampled by their smoothed
    weights (systematic resampling), so the posterior keeps equal-weight draws."""
    n = xs.shape[0]
    if n < 2:
        return xs, float("nan")
    probe = min(n, PSIS_PROBE)
    lw = _log_weights(density, xs[:probe], sq[:probe])
    _, k = _psis(lw)
    if not k <= PARETO_K_MAX:  # NaN included
        return xs, k
    if probe < n:
        lw = np.concatenate([lw, _log_weights(density, xs[probe:], sq[probe:])])
    smoothed, k = _psis(lw)
    if not k <= PARETO_K_MAX:
        return xs, k
    w = np.exp(smoothed - smoothed.max())
    cum = np.cumsum(w / w.sum())
    cum[-1] = 1.0
    u = (np.random.default_rng(seed).random() + np.arange(n)) / n
    return xs[np.minimum(np.searchsorted(cum, u), n - 1)], k


def _psis(lw: np.ndarray) -> tuple[np.ndarray, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz warns on k > 0.7; the caller reports k
        smoothed, k = az.psislw(np.asarray(lw, dtype="float64").copy())
    return np.asarray(smoothed), float(k)


def to_idata(model: pm.Model, variables: dict[str, np.ndarray], chains: int) -> az.InferenceData:
    """Named draws ``(chains * draws, ...)`` as a posterior with the model's coords and dims."""
    per = next(iter(variables.values())).shape[0] // chains
    posterior = {k: v[: chains * per].reshape(chains, per, *v.shape[1:]) for k, v in variables.items()}
    dims = {k: list(model.named_vars_to_dims.get(k, ())) for k in variables}
    coords = {k: np.asarray(v) for k, v in model.coords.items() if v is not None}
    return az.from_dict(posterior=posterior, coords=coords, dims=dims)


def run_density(density: JaxDensity, settings, corrected: bool = False) -> az.InferenceData:
    """MAP (one draw) or ``draws x chains`` Laplace draws on a compiled density; fills the
    run time of ``settings`` (and its draws and chains for MAP). ``corrected``: the
    spread-corrected normal with each channel's log ROI on its line marginal
    (``approx_corrected.py``) where importance weights cannot be trusted."""
    t0 = time.perf_counter()
    mode = find_mode(density)
    if settings.method == "map":
        idata = to_idata(density.model, density.variables(mode[None, :]), chains=1)
        settings.chains, settings.draws = 1, 1
    else:
        from geommm.approx_corrected import first_look_draws

        xs, k = first_look_draws(density, mode, settings, corrected)
        settings.pareto_k = round(k, 3) if np.isfinite(k) else None
        idata = to_idata(density.model, density.variables(xs), chains=settings.chains)
    settings.sampling_seconds = time.perf_counter() - t0
    return idata


def run_map(model: pm.Model, settings) -> az.InferenceData:
    """The posterior mode as a one-draw posterior; fills the timing fields of ``settings``."""
    t0 = time.perf_counter()
    density = JaxDensity.from_model(model, settings.seed, batch=1)
    settings.compile_seconds = time.perf_counter() - t0
    return run_density(density, settings)


def run_laplace(model: pm.Model, settings) -> az.InferenceData:
    """``draws x chains`` draws of the Laplace approximation, as ``chains`` pseudo-chains."""
    t0 = time.perf_counter()
    n = settings.draws * settings.chains
    density = JaxDensity.from_model(model, settings.seed, batch=min(CHUNK, n))
    settings.compile_seconds = time.perf_counter() - t0
    return run_density(density, settings, corrected=True)
