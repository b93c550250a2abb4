"""Start NUTS where a previous posterior is: chains near its mean, on coordinates
standardised by its spreads.

Why: nutpie learns each unconstrained parameter's scale (its mass matrix) during
warm-up, and while it does not know them its trees run long: on the 8-geo design panel
the first 100 of 500 warm-up iterations cost 12-15% of a fit's density evaluations
(docs/performance.md, "Warm start"). nutpie 0.16 takes no initial mass matrix (it
starts from the gradient at the first point), so a warm-started fit samples an affine
reparametrisation instead,

    z = (x - mean) / scale,

with ``mean`` and ``scale`` the previous posterior's mean and sd of each unconstrained
coordinate ``x``. NUTS on ``z`` with metric ``M`` is NUTS on ``x`` with metric
``scale**2 * M``, and the Jacobian of the map is a constant: the posterior is exactly
the same, whatever the previous fit was. Warm-up then adapts on coordinates whose
scales are already about 1: a good warm start makes it cheaper and lets it be shorter;
a poor one (another market, other channels) only costs warm-up. nutpie's JAX backend
only (the numba backend compiles the model differently).
Coordinates the previous posterior does not have keep ``mean`` 0, ``scale`` 1 and
nutpie's own start.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from geommm.errors import FitError

if TYPE_CHECKING:
    import pymc as pm
    import xarray as xr

#: Previous draws used for the means and scales (thinned evenly): enough for a sd within
#: ~5%, and the transform to the unconstrained space runs once over all of them.
MAX_DRAWS = 400
#: Warm-started chains start uniformly within this many previous sds of the mean.
START_SPREAD = 1.0


@dataclass(frozen=True)
class WarmStart:
    """Per unconstrained coordinate (nutpie's flat order): the previous posterior's
    mean and sd, and whether the previous posterior had it."""

    mean: np.ndarray
    scale: np.ndarray
    given: np.ndarray
    names: tuple[str, ...]  # the model's free variables the previous posterior supplied

    @property
    def n_given(self) -> int:
        return int(self.given.sum())


def from_posterior(model: pm.Model, posterior: xr.Dataset, compiled: Any, skip: tuple[str, ...] = (),
                   max_draws: int = MAX_DRAWS) -> WarmStart:
    """The :class:`WarmStart` of ``model`` (a PyMC model) compiled as ``compiled`` from
    ``posterior`` (an xarray Dataset of draws by variable name, as ``fit.posterior``):
    every free variable of the model found there under its name with the same shape,
    mapped to the unconstrained space draw by draw (one vectorised graph), then averaged."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.graph.replace import vectorize_graph

    shapes = model.eval_rv_shapes()  # constrained and unconstrained, one small function
    by_value = {model.rvs_to_values[rv].name: rv for rv in model.free_RVs}
    n = int(posterior.sizes.get("chain", 1)) * int(posterior.sizes.get("draw", 1))
    step = max(1, -(-n // max_draws))
    parts, inputs, outputs = [], [], []  # parts: (value name, rv, draws, index of its mapped output)
    for value in flat_order(model, compiled):
        rv = by_value[value]
        draws = None if rv.name in skip else _draws(posterior, rv.name, shapes[rv.name], step)
        index = None
        transform = model.rvs_to_transforms.get(rv)
        if draws is not None and transform is not None:
            one = pt.tensor(dtype="float64", shape=draws.shape[1:])
            many = pt.tensor(dtype="float64", shape=(None, *draws.shape[1:]))
            inputs.append(many)
            outputs.append(vectorize_graph(transform.forward(one, *rv.owner.inputs), {one: many}))
            index = len(inputs) - 1
        parts.append((value, rv, draws, index))
    mapped = []
    if outputs:
        fn = pytensor.function(inputs, outputs, on_unused_input="ignore", mode="FAST_COMPILE")
        mapped = fn(*[d for _, _, d, i in parts if i is not None])
    mean, scale, given, names = [], [], [], []
    for value, rv, draws, i in parts:
        size = int(np.prod(shapes[value]))
        u = None if draws is None else np.asarray(draws if i is None else mapped[i], dtype="float64")
        if u is None or u.shape[1:] != shapes[value] or not np.all(np.isfinite(u)):
            mean.append(np.zeros(size))
            scale.append(np.ones(size))
            given.append(np.zeros(size, dtype=bool))
            continue
        u = u.reshape(u.shape[0], -1)
        sd = u.std(axis=0)
        mean.append(u.mean(axis=0))
        scale.append(np.where(sd > 0, sd, 1.0))
        given.append(np.ones(size, dtype=bool))
        names.append(rv.name)
    flat = [np.concatenate(p) if p else np.zeros(0) for p in (mean, scale, given)]
    if flat[0].size != compiled.n_dim:
        raise FitError(f"warm start has {flat[0].size} unconstrained values, the compiled model {compiled.n_dim}")
    return WarmStart(flat[0], flat[1], flat[2].astype(bool), tuple(names))


def flat_order(model: pm.Model, compiled: Any) -> list[str]:
    """The value variables in the order of nutpie's flat vector. Not ``model.free_RVs``'
    order: nutpie samples the model with dims and data frozen, which orders them anew.
    nutpie's own list where it can be read (its starting-point function), else the
    frozen model's order, as nutpie makes it."""
    start = compiled._make_initial_points
    code = getattr(start, "__code__", None)
    cells = {} if code is None else dict(zip(code.co_freevars, (c.cell_contents for c in start.__closure__ or ())))
    names = cells.get("names")
    if isinstance(names, list) and all(isinstance(name, str) for name in names):
        return names
    from pymc.model.transform.optimization import freeze_dims_and_data

    return [value.name for value in freeze_dims_and_data(model).value_vars]


def _draws(posterior, name: str, shape: tuple | None, step: int) -> np.ndarray | None:
    """(draws, *shape) of ``name`` thinned by ``step``, or None if absent or shaped otherwise."""
    if shape is None or name not in posterior:
        return None
    arr = posterior[name]
    if tuple(arr.dims[:2]) != ("chain", "draw") or tuple(arr.shape[2:]) != shape:
        return None
    return np.asarray(arr.values.reshape(-1, *shape)[::step], dtype="float64")  # thinned, then copied


def precondition(compiled: Any, warm: WarmStart) -> Any:
    """A copy of nutpie's compiled model sampling ``z = (x - mean) / scale``: its log
    density (nutpie's call, and the JAX function a threads fallback compiles), its draw
    expansion (which still returns the model's variables) and its chain starts. The
    chain workers get the model's own programs and the map (``exported_parts``) and
    apply it in numpy (:mod:`geommm._chain_worker`)."""
    mean, scale, given = warm.mean, warm.scale, warm.given
    raw = getattr(compiled, "_raw_logp_fn", None)
    own_logp, own_expand, own_start = (compiled._make_logp_func, compiled._make_expand_func,
                                       compiled._make_initial_points)

    def make_logp_func():
        logp_x = own_logp()

        def logp(z, **shared):
            value, grad = logp_x(mean + scale * np.asarray(z, dtype="float64"), **shared)
            return value, np.ascontiguousarray(grad * scale)
        return logp

    def make_expand_func(seed1, seed2, chain):
        expand_x = own_expand(seed1, seed2, chain)
        return lambda z, **shared: expand_x(mean + scale * np.asarray(z, dtype="float64"), **shared)

    parts = getattr(own_expand, "exported_parts", None)
    if parts is not None and "affine" in parts:
        raise ValueError("this compiled model is warm-started already; precondition the original")
    if parts is None:
        from geommm.chain_processes import _closure  # nutpie's expansion, read once

        try:
            parts = _closure(own_expand)
        except RuntimeError:  # this nutpie builds it otherwise: no worker processes then
            parts = None
    if parts is not None and raw is not None:
        # the chain workers get the model's own programs (x) and map z to x in numpy: a
        # warm density compiled with the map inside ran 15-25% slower a call in them
        make_expand_func.exported_parts = dict(parts, affine=(mean, scale), raw_logp_x=raw)

    def start(seed):
        x = np.asarray(own_start(seed), dtype="float64")
        z = (x - mean) / scale
        rng = np.random.default_rng(seed)
        z[given] = rng.uniform(-START_SPREAD, START_SPREAD, int(given.sum()))
        return z

    changes = {"_make_logp_func": make_logp_func, "_make_expand_func": make_expand_func,
                   "_make_initial_points": start}
    if raw is not None:
        changes["_raw_logp_fn"] = lambda z, *s: raw(mean + scale * z, *s)
    return dataclasses.replace(compiled, **changes)
