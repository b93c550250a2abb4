"""Measured speed-ups for nutpie's JAX path on a CPU (see docs/performance.md).

1. XLA's YNNPACK fusions are slower than XLA's own loops on our small (geo, week,
   channel) tensors: turning them off cut one log-density-and-gradient call from
   ~390 to ~335 microseconds on the 20-geo panel. The flag is experimental, and XLA
   aborts on flags it does not know, so it is only set for the jaxlib versions it
   was measured with, and only before JAX starts its CPU backend.
2. nutpie calls a ``jax.jit`` function from its sampler threads; an ahead-of-time
   compiled executable skips jit's dispatch checks (~7% less time per gradient).
   This touches a private nutpie field, so it falls back to nutpie's own function
   whenever anything differs from what was tested.
3. MAP, Laplace and NUTS compile the model's density with XLA each time a process fits
   (most of the first look's cold time). :func:`persistent_cache` points JAX's own compilation cache at
   a user cache directory, so a later process fitting the same model on the same data
   loads the executables instead (``GEOMMM_JAX_CACHE=0`` turns it off, a path moves
   it; a cache the user configured in JAX is left alone).
4. ``precision="float32"`` (opt-in): the density and its gradient traced and compiled in
   single precision, sampling ~1.3x faster on a CPU (docs/performance.md); the draws
   and everything computed from them stay float64.
5. The first look (MAP, Laplace) compiles with XLA's newer CPU fusion emitters off
   (:func:`compile_quickly`): the demo density's compile took 1.1-1.7 s instead of
   2.3-2.6 s, and each gradient 0.67-0.76 ms instead of 0.57-0.69 ms. Right for the
   first look's few thousand calls; NUTS makes hundreds of thousands, and keeps XLA's
   default.
6. PyTensor records a creation traceback on every new graph node (a walk up the Python
   stack); :func:`lean_graphs` turns it off while the first look builds and converts its
   graphs. Not for NUTS: nutpie's conversion does its heavy work inside PyTensor's
   compile, which already records none (4.1-4.5 s of CPU lean, 4.2-4.8 s not, on
   the 8-geo panel of ``examples/design_next_test.py``, session 24).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@contextmanager
def lean_graphs() -> Iterator[None]:
    """PyTensor without the creation traceback it records on every new graph node (a
    walk up the Python stack per node: ~15% of the CPU time of building, rewriting and
    converting the model's graphs). The traceback only decorates PyTensor's own error
    messages about a node; geommm's own checks name the user's column or argument. A
    model built inside keeps no traceback, so only models compiled by JAX alone (the
    first look's) are built this way."""
    import pytensor

    with pytensor.config.change_flags(traceback__limit=0):
        yield


#: jaxlib (major, minor) versions on which the flag below was measured to help.
_YNN_FLAG_VERSIONS = {(0, 10)}
_YNN_FLAG = "--xla_cpu_experimental_ynn_fusion_type="


def tune_xla_flags() -> bool:
    """Add the YNNPACK-off flag to XLA_FLAGS if it is safe and still has an effect."""
    if os.environ.get("GEOMMM_KEEP_XLA_FLAGS"):
        return False
    try:
        import jaxlib
        from jax._src import xla_bridge

        version = tuple(int(p) for p in jaxlib.__version__.split(".")[:2])
        if version not in _YNN_FLAG_VERSIONS or getattr(xla_bridge, "_backends", None):
            return False  # unknown jaxlib, or the CPU backend already read its flags
    except Exception:  # noqa: BLE001 - any surprise: leave XLA alone
        return False
    flags = os.environ.get("XLA_FLAGS", "")
    if "ynn_fusion_type" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {_YNN_FLAG}".strip()
    return True


#: Per-compile XLA options of :func:`compile_quickly` (measured on jaxlib 0.10).
QUICK_COMPILE_OPTIONS = {"xla_cpu_use_fusion_emitters": False}


def compile_quickly(lowered):
    """``lowered.compile()`` with :data:`QUICK_COMPILE_OPTIONS` on the jaxlib versions they
    were measured on; XLA's defaults elsewhere, or if this XLA does not know them."""
    if not os.environ.get("GEOMMM_KEEP_XLA_FLAGS"):
        try:
            import jaxlib

            known = tuple(int(p) for p in jaxlib.__version__.split(".")[:2]) in _YNN_FLAG_VERSIONS
        except Exception:  # noqa: BLE001 - any surprise: XLA's defaults
            known = False
        if known:
            try:
                return lowered.compile(compiler_options=QUICK_COMPILE_OPTIONS)
            except Exception as e:  # an option this build does not have: re-raised otherwise
                if "compile option" not in str(e):
                    raise
    return lowered.compile()


def worker_xla_flags(env: dict) -> dict:
    """``env`` with the YNNPACK-off flag for a new process (one that has not started
    JAX), for the jaxlib versions it was measured on, whatever this process's state."""
    if os.environ.get("GEOMMM_KEEP_XLA_FLAGS"):
        return env
    try:
        import jaxlib

        if tuple(int(p) for p in jaxlib.__version__.split(".")[:2]) not in _YNN_FLAG_VERSIONS:
            return env
    except Exception:  # noqa: BLE001 - any surprise: leave XLA alone
        return env
    flags = env.get("XLA_FLAGS", "")
    return env if "ynn_fusion_type" in flags else {**env, "XLA_FLAGS": f"{flags} {_YNN_FLAG}".strip()}


def single_precision_model(model):
    """``model`` frozen as nutpie's JAX path freezes it, with PyMC's parameter checks off.

    Why: in float32 the zero-sum geo deviations fail PyMC's own check (|mean| <= 1e-9)
    from rounding alone, and a failed check makes the whole density -inf. The checks
    only guard values the transforms already keep valid (positive scales, zero sums)."""
    from pymc.model.transform.optimization import freeze_dims_and_data

    frozen = freeze_dims_and_data(model)
    frozen.check_bounds = False
    return frozen


def nutpie_density(model, precision: str = "float64", lean: bool = True):
    """``model`` compiled by nutpie's JAX path with the AOT-compiled density below: the
    one place the sampler (and the tests and benchmarks that mimic it) builds it.
    ``lean=False`` skips that AOT compile (chains in processes export the density
    instead; :func:`lean_logp` adds it later if they cannot)."""
    import nutpie

    with warnings.catch_warnings():
        # PyMC's JAX rewrites include a sparse rewrite that asks the C compiler's BLAS
        # flags, and pip installs warn that PyTensor found no BLAS. This graph runs on
        # JAX (XLA's own BLAS), never on that C backend: the advice does not apply here.
        warnings.filterwarnings("ignore", message=r"(?s).*PyTensor could not link to a BLAS")
        if precision == "float32":  # frozen here, with the checks float32 cannot meet off
            compiled = nutpie.compile_pymc_model(single_precision_model(model), backend="jax",
                                                 gradient_backend="jax", freeze_model=False)
        else:
            compiled = nutpie.compile_pymc_model(model, backend="jax", gradient_backend="jax")
    return lean_logp(compiled, precision) if lean else compiled


#: nutpie's compiled density per PyMC model, weakly keyed (it goes when the model goes):
#: refitting the same GeoMMM (another seed, target_accept or draws, as the convergence
#: advice asks) skips nutpie's conversion, 4-9 s on an 8-geo panel (numba: 30-55 s).
#: geommm never changes a built model; a user who adds to ``GeoMMM.model`` changes its
#: shape (:func:`_shape`), which compiles afresh. nutpie's compiled model is only read
#: when sampling: chain starts are set on a copy.
_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def compiled_density(model, backend: str = "jax", precision: str = "float64", lean: bool = True):
    """nutpie's compiled ``model`` for ``backend`` (see :func:`nutpie_density`), compiled
    once per model and reused by its later fits. The plain conversion is kept whichever
    is asked first, so a refit that moves between threads (``lean``) and worker
    processes (plain) still converts nothing."""
    import nutpie

    cache = _COMPILED.setdefault(model, {})
    plain = (backend, precision, False, _shape(model))
    if plain not in cache:
        for stale in [k for k in cache if k[3] != plain[3]]:  # the model changed in place
            del cache[stale]
        cache[plain] = (nutpie.compile_pymc_model(model) if backend != "jax"
                        else nutpie_density(model, precision, lean=False))
    if not lean or backend != "jax":
        return cache[plain]
    fast = (*plain[:2], True, plain[3])
    if fast not in cache:
        cache[fast] = lean_logp(cache[plain], precision)
    return cache[fast]


def _shape(model) -> tuple:
    """What a user could add to a built model: variables, potentials, bounds checks."""
    return (len(model.named_vars), len(model.potentials), bool(model.check_bounds))


def lean_logp(compiled, precision: str = "float64"):
    """``compiled`` (a nutpie JAX model) whose log-density call is AOT-compiled.

    float64 falls back to nutpie's own call if its internals differ from what was
    tested; ``precision="float32"`` has no such fallback and raises instead."""
    if precision == "float32":
        return _aot_logp(compiled, single=True)
    try:
        return _aot_logp(compiled, single=False)
    except Exception:  # noqa: BLE001 - nutpie internals changed: use its own call
        return compiled


def density_function(compiled, single: bool):
    """nutpie's JAX density as one jitted ``(x, *shared) -> [value, *gradient]`` and the
    shared data it takes (cast to float32 when ``single``); what the AOT executable here
    and the chain workers' exported program are both made from.

    Why one vector, not a (value, gradient) pair: reading a JAX scalar back into Python
    (``float(value)``) costs ~60 us on CPU, a quarter of a density call on the 8-geo
    design panel; one array read once and split in numpy costs almost nothing
    (:func:`value_and_gradient`)."""
    import jax
    import numpy as np

    raw = compiled._raw_logp_fn
    if raw is None or not dataclasses.is_dataclass(compiled):
        raise RuntimeError("this nutpie version does not expose its JAX log density")
    shared = [np.asarray(compiled._shared_data[k]) for k in compiled._shared_data]
    if single:
        shared = [a.astype(np.float32) if a.dtype == np.float64 else a for a in shared]

    return jax.jit(joined_value_and_grad(lambda x, *s: raw(x, *s)[0])), shared


def joined_value_and_grad(fn):
    """``(x, *data) -> [fn(x, *data), *d fn / d x]``: one array, see :func:`density_function`."""
    import jax
    import jax.numpy as jnp

    def joined(x, *data):
        value, grad = jax.value_and_grad(fn)(x, *data)
        return jnp.concatenate([jnp.reshape(value, (1,)).astype(grad.dtype), grad])

    return joined


def value_and_gradient(joined) -> tuple[float, np.ndarray]:
    """(value, float64 C-ordered gradient) from :func:`density_function`'s vector, as
    nutpie wants them."""
    import numpy as np

    out = np.asarray(joined, dtype=np.float64)
    return float(out[0]), out[1:]


def _aot_logp(compiled, single: bool):
    """nutpie's JAX density and gradient compiled once here (fail now, not inside a
    sampler thread; chains share it). ``single``: traced in float32, with the shared
    data cast once and nutpie's float64 positions cast on each call; the value and
    gradient go back to nutpie as float64."""
    import jax
    import numpy as np

    names = list(compiled._shared_data)
    dtype = np.float32 if single else np.float64
    density, shared = density_function(compiled, single)
    with jax.enable_x64(not single), warnings.catch_warnings():  # float32: every constant too
        warnings.filterwarnings("ignore", message="Explicitly requested dtype float64", category=UserWarning)
        executable = density.lower(np.zeros(compiled.n_dim, dtype), *shared).compile()

    if single:  # the shared data are fixed for a fit: the cast copies are used
        def logp(x, **data):
            return value_and_gradient(executable(np.asarray(x, dtype=np.float32), *shared))
    else:
        def logp(x, **data):
            return value_and_gradient(executable(x, *[data[k] for k in names]))

    def make_logp_func():
        return logp

    return dataclasses.replace(compiled, _make_logp_func=make_logp_func)


#: Upper bound on geommm's JAX cache directory.
CACHE_BYTES = 512 * 2**20
#: Programs compiled faster than this are not cached (the density takes seconds; jit's
#: small staging programs are not worth a file).
CACHE_MIN_COMPILE_SECONDS = 0.5


def cache_dir() -> str:
    """Where geommm keeps JAX's compiled executables: $XDG_CACHE_HOME/geommm/jax
    (~/.cache/geommm/jax)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "geommm", "jax")


def persistent_cache() -> bool:
    """Turn on JAX's persistent compilation cache in :func:`cache_dir` (or the directory
    in ``GEOMMM_JAX_CACHE``) unless the user set one in JAX or ``GEOMMM_JAX_CACHE=0``;
    True when geommm's cache is in use."""
    setting = os.environ.get("GEOMMM_JAX_CACHE", "")
    if setting == "0":
        return False
    try:
        import jax

        if jax.config.jax_compilation_cache_dir:
            return False  # the user's own cache (or ours, set earlier)
        path = setting if setting not in ("", "1") else cache_dir()
        os.makedirs(path, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", CACHE_MIN_COMPILE_SECONDS)
        # least recently used entries go past this (a density is a few MB)
        jax.config.update("jax_compilation_cache_max_size", CACHE_BYTES)
        repair_cache(path)
    except Exception:  # noqa: BLE001 - an unwritable home or an unknown JAX: compile as usual
        return False
    return True


def repair_cache(path: str) -> int:
    """Give every entry of the JAX cache at ``path`` the access-time file JAX's eviction
    reads; the number repaired. Why: JAX writes an entry, then its ``-atime`` file; a
    process killed in between (a worker stopped on Ctrl-C is killed) leaves an entry
    without one, and from then on every write to the cache fails with a warning
    ("Error writing persistent compilation cache entry ... FileNotFoundError") and
    nothing new is cached. The entry is kept, dated by its file's modification time."""
    repaired = 0
    for name in os.listdir(path):
        if not name.endswith("-cache"):
            continue
        atime = os.path.join(path, name[: -len("cache")] + "atime")
        if os.path.exists(atime):
            continue
        try:
            stamp = os.stat(os.path.join(path, name)).st_mtime_ns
            with open(atime, "xb") as f:  # "x": another process repairing it first is fine
                f.write(int(stamp).to_bytes(8, "little"))
            repaired += 1
        except FileExistsError:
            continue
        except OSError:  # gone meanwhile (evicted) or unwritable: JAX copes or warns
            continue
    return repaired
