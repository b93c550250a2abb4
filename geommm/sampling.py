"""Run a sampler or a fast approximation on a built PyMC model, timing compile and sampling.

Compile time is part of what users wait for, so it is measured apart from
sampling and stored with the fit.
"""

from __future__ import annotations

import os
import time
import warnings
from dataclasses import asdict, dataclass

import arviz as az
import numpy as np
import pymc as pm

from geommm.errors import FitError

SAMPLERS = ("nutpie", "pymc", "numpyro")
MASS_MATRICES = ("draws", "gradients")
METHODS = ("nuts", "laplace", "map", "advi")
BACKENDS = ("auto", "jax", "numba")


def resolve_backend(backend: str) -> str:
    """"auto" picks JAX when it is installed: it compiles in ~2 s where numba takes 30-50 s."""
    if backend != "auto":
        return backend
    try:
        import jax  # noqa: F401
    except ImportError:
        return "numba"
    return "jax"


@dataclass
class SamplerSettings:
    method: str = "nuts"
    sampler: str = "nutpie"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int | None = None
    seed: int | None = 0
    target_accept: float = 0.9
    backend: str = "auto"  # nutpie's compiler: "jax" (compiles in seconds), "numba", or "auto"
    # nutpie's mass matrix: "draws" (variances of the warm-up draws, as Stan does) or
    # "gradients" (nutpie's default, adapts faster). On geommm's models "draws" gave
    # 2.5-2.9x the min effective sample size for ~1.3x the time (docs/performance.md).
    mass_matrix: str = "draws"
    compile_seconds: float = 0.0
    sampling_seconds: float = 0.0
    cpu_seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def check_settings(s: SamplerSettings) -> None:
    if s.method not in METHODS:
        raise FitError(f"method={s.method!r} is not one of {METHODS}")
    if s.method == "nuts" and s.sampler not in SAMPLERS:
        raise FitError(f"sampler={s.sampler!r} is not one of {SAMPLERS}")
    for name in ("draws", "chains"):
        if int(getattr(s, name)) < 1:
            raise FitError(f"{name} must be at least 1, got {getattr(s, name)}")
    if s.tune < 0:
        raise FitError(f"tune must be >= 0, got {s.tune}")
    if s.backend not in BACKENDS:
        raise FitError(f"backend={s.backend!r} is not one of {BACKENDS}")
    s.backend = resolve_backend(s.backend) if s.method == "nuts" and s.sampler == "nutpie" else s.backend
    if s.backend == "jax":
        try:
            import jax  # noqa: F401
        except ImportError:
            raise FitError("backend='jax' needs JAX: pip install jax") from None
    if s.mass_matrix not in MASS_MATRICES:
        raise FitError(f"mass_matrix={s.mass_matrix!r} is not one of {MASS_MATRICES}")
    if not 0.5 <= s.target_accept < 1:
        raise FitError(f"target_accept must be in [0.5, 1), got {s.target_accept}")
    if s.method == "nuts" and s.sampler == "numpyro":
        try:
            import numpyro  # noqa: F401
        except ImportError:
            raise FitError(
                "sampler='numpyro' needs NumPyro: pip install 'geommm[numpyro]' "
                "(the path for very large panels; on a CPU nutpie is usually faster)"
            ) from None


def run(
    model: pm.Model, s: SamplerSettings, progressbar: bool = True, initial_point: dict | None = None
) -> az.InferenceData:
    """Sample ``model`` according to ``s``; fills the timing fields of ``s``.

    ``initial_point`` (value-variable name -> unconstrained value, e.g. a previous
    posterior's mean) warm-starts nutpie's chains there (jittered); other samplers
    start at their defaults."""
    check_settings(s)
    cpu0 = os.times()
    cpu_start = cpu0.user + cpu0.system + cpu0.children_user + cpu0.children_system
    if s.method == "nuts" and s.sampler == "nutpie":
        idata = _nutpie(model, s, progressbar, initial_point)
    elif s.method == "nuts":
        t0 = time.perf_counter()
        with model:
            idata = pm.sample(
                draws=s.draws,
                tune=s.tune,
                chains=s.chains,
                cores=s.cores or min(s.chains, os.cpu_count() or 1),
                random_seed=s.seed,
                target_accept=s.target_accept,
                nuts_sampler=s.sampler,
                progressbar=progressbar,
                compute_convergence_checks=False,
            )
        s.sampling_seconds = time.perf_counter() - t0
    elif s.method == "advi":
        idata = _advi(model, s, progressbar)
    elif s.method == "laplace":
        idata = _laplace(model, s, progressbar)
    else:
        idata = _map(model, s, progressbar)
    cpu1 = os.times()
    s.cpu_seconds = cpu1.user + cpu1.system + cpu1.children_user + cpu1.children_system - cpu_start
    return idata


def _nutpie(
    model: pm.Model, s: SamplerSettings, progressbar: bool, initial_point: dict | None = None
) -> az.InferenceData:
    import nutpie

    t0 = time.perf_counter()
    if s.backend == "jax":
        from geommm import _jax_speed

        _jax_speed.tune_xla_flags()
        compiled = nutpie.compile_pymc_model(model, backend="jax", gradient_backend="jax")
        compiled = _jax_speed.lean_logp(compiled)
    else:
        compiled = nutpie.compile_pymc_model(model)
    s.compile_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    extra = {} if initial_point is None else {"init_mean": _flat_point(model, compiled.n_dim, initial_point)}
    idata = nutpie.sample(
        compiled,
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        cores=s.cores or min(s.chains, os.cpu_count() or 1),
        seed=s.seed,
        target_accept=s.target_accept,
        use_grad_based_mass_matrix=s.mass_matrix == "gradients",
        progress_bar=progressbar,
        save_warmup=False,
        **extra,
    )
    s.sampling_seconds = time.perf_counter() - t0
    return idata


def _flat_point(model: pm.Model, n_dim: int, point: dict) -> np.ndarray:
    """nutpie's flat unconstrained vector (free variables in model order, each raveled)
    from value-variable arrays; variables missing from ``point`` start at 0."""
    parts = []
    for rv in model.free_RVs:
        value = model.rvs_to_values[rv]
        size = int(np.prod(model.initial_point()[value.name].shape)) if value.name not in point else None
        parts.append(np.zeros(size) if size is not None else np.asarray(point[value.name], dtype="float64").ravel())
    flat = np.concatenate(parts) if parts else np.zeros(0)
    if flat.size != n_dim:
        raise FitError(f"initial point has {flat.size} values, the compiled model {n_dim}")
    return flat


def _advi(model: pm.Model, s: SamplerSettings, progressbar: bool) -> az.InferenceData:
    """Deprecated: PyMC's ADVI compiles C code and takes minutes where Laplace takes
    seconds, and a JAX variant started at the Laplace solution was no closer to NUTS
    (docs/performance.md)."""
    warnings.warn(
        "method='advi' is deprecated and will be removed: use method='laplace' (a normal "
        "approximation at the mode, in seconds) for a first look, or 'nuts'",
        DeprecationWarning, stacklevel=4,
    )
    t0 = time.perf_counter()
    with model:
        # ``tune`` sets the optimisation length (20 steps per tuning step, at least 5,000);
        # an early-stopping rule on parameter change stopped it before it had moved
        approx = pm.fit(
            n=max(s.tune * 20, 5000),
            method="advi",
            random_seed=s.seed,
            progressbar=progressbar,
        )
        idata = approx.sample(draws=s.draws * s.chains, random_seed=s.seed)
    s.sampling_seconds = time.perf_counter() - t0
    return _as_chains(idata, s.chains)


def _map(model: pm.Model, s: SamplerSettings, progressbar: bool) -> az.InferenceData:
    """The posterior mode, on the JAX-compiled density (geommm/approx.py)."""
    from geommm import approx

    return approx.run_map(model, s)


def _laplace(model: pm.Model, s: SamplerSettings, progressbar: bool) -> az.InferenceData:
    """A normal approximation at the mode, on the JAX-compiled density (geommm/approx.py)."""
    from geommm import approx

    return approx.run_laplace(model, s)


def _as_chains(idata: az.InferenceData, chains: int) -> az.InferenceData:
    """Reshape ADVI's single chain of draws into ``chains`` pseudo-chains."""
    post = idata.posterior
    n = post.sizes["draw"]
    per = n // chains
    if chains <= 1 or per < 1:
        return idata
    post = post.isel(draw=slice(0, per * chains))
    reshaped = {}
    for name, da in post.data_vars.items():
        arr = da.values.reshape(chains, per, *da.shape[2:])
        reshaped[name] = arr
    dims = {name: list(da.dims[2:]) for name, da in post.data_vars.items()}
    coords = {k: v.values for k, v in post.coords.items() if k not in ("chain", "draw")}
    return az.from_dict(posterior=reshaped, dims=dims, coords=coords)
