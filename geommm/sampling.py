"""Run a sampler or a fast approximation on a built PyMC model, timing compile and sampling.

Compile time is part of what users wait for, so it is measured apart from
sampling and stored with the fit.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import arviz as az
import pymc as pm

from geommm import _checks as check
from geommm._chain_worker import counts, finished
from geommm._gc_pause import paused_gc
from geommm._interrupts import InterruptGuard, interrupted
from geommm._progress import Progress, seconds
from geommm.errors import FitError, FitInterrupted

if TYPE_CHECKING:
    import xarray as xr

log = logging.getLogger("geommm")

SAMPLERS = ("nutpie", "pymc", "numpyro")
#: nutpie's mass matrix: "draws" (warm-up draws' variances, as Stan), "gradients" (nutpie's
#: default) or "low_rank" (nutpie's diagonal plus a low-rank correction from the gradients:
#: it also learns a few strong posterior correlations; the sequential refresh's default,
#: docs/refresh.md).
MASS_MATRICES = ("draws", "gradients", "low_rank")
#: The deepest NUTS tree allowed (``max_treedepth``): 2^15 leapfrog steps per draw.
MAX_TREEDEPTH = 15
METHODS = ("nuts", "laplace", "map", "advi")
BACKENDS = ("auto", "jax", "numba")
#: Arithmetic of the log density and its gradient during NUTS (nutpie's JAX path only):
#: "float32" sampled 1.3-1.8x faster at 40 geos on a CPU (docs/performance.md); the draws
#: stay float64. "auto" (the default) picks float32 from ``AUTO_FLOAT32_CELLS`` on.
PRECISIONS = ("auto", "float64", "float32")
#: Geo x week x channel cells from which ``precision="auto"`` samples in float32. Measured
#: at 40 x 156 x 5 (31,200 cells; two seeds) and 60 x 156 x 6: national ROIs within 0.1
#: posterior sd of float64's, the same steps per draw and R-hat and ESS class, sampling
#: 1.3-1.8x faster (100 x 156 x 8: the same R-hat and ESS class). Smaller panels fit in
#: a minute or two and keep float64, the precision their tests and the demo were checked in.
AUTO_FLOAT32_CELLS = 30_000
#: How often (seconds) a running nutpie sampler is checked for Ctrl-C.
POLL_SECONDS = 0.1


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
    tune: int = 500  # warm-up per chain: 1000 cost 20-25% more for the same posterior (mmm.fit)
    chains: int = 4
    cores: int | None = None
    seed: int | None = 0
    target_accept: float = 0.9
    #: NUTS trajectories stop after 2^max_treedepth - 1 leapfrog steps (nutpie's, PyMC's and
    #: Stan's default 10). Lower caps the cost of an iteration, e.g. of short warm-ups that
    #: run at the cap while the mass matrix is learnt; the diagnostics say how often it bit.
    max_treedepth: int = 10
    #: Unconstrained coordinates a warm start took from a previous posterior (0: none).
    warm_start: int = 0
    backend: str = "auto"  # nutpie's compiler: "jax" (compiles in seconds), "numba", or "auto"
    # nutpie's mass matrix: "draws" (variances of the warm-up draws, as Stan does) or
    # "gradients" (nutpie's default, adapts faster). On geommm's models "draws" gave
    # 2.5-2.9x the min effective sample size for ~1.3x the time (benchmarks/results/history.md).
    mass_matrix: str = "draws"
    precision: str = "auto"  # resolved to "float64" or "float32" by check_settings
    # nutpie on JAX: chains in worker processes, one CPU each (geommm.chain_processes);
    # None ("auto") resolved by check_settings from the fit's size
    chain_processes: bool | None = None
    compile_seconds: float = 0.0
    sampling_seconds: float = 0.0
    cpu_seconds: float = 0.0
    #: Laplace only: Pareto k of the importance weights of its draws against the model's
    #: density (<= 0.7: the draws were reweighted towards the posterior; above: they are
    #: the plain normal approximation, and k says how far it is from the posterior).
    pareto_k: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def check_settings(s: SamplerSettings, cells: int | None = None) -> None:
    """Every setting's type and range, before the model is built or compiled.

    ``cells``: the panel's geos x weeks x channels, for ``precision="auto"`` (None:
    float64)."""
    if s.method not in METHODS:
        raise FitError(f"method={s.method!r} is not one of {METHODS}")
    if s.method == "nuts" and s.sampler not in SAMPLERS:
        raise FitError(f"sampler={s.sampler!r} is not one of {SAMPLERS}")
    s.draws = check.whole("draws", s.draws, 1, FitError)
    s.chains = check.whole("chains", s.chains, 1, FitError)
    s.tune = check.whole("tune", s.tune, 0, FitError)
    s.seed = check.seed(s.seed, error=FitError)
    if s.cores is not None:
        s.cores = check.whole("cores", s.cores, 1, FitError)
    s.target_accept = check.number("target_accept", s.target_accept, FitError)
    s.max_treedepth = check.whole("max_treedepth", s.max_treedepth, 1, FitError)
    if s.max_treedepth > MAX_TREEDEPTH:
        raise FitError(f"max_treedepth must be at most {MAX_TREEDEPTH} ({2 ** MAX_TREEDEPTH - 1} "
                       f"leapfrog steps per draw), got {s.max_treedepth}")
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
    if s.precision not in PRECISIONS:
        raise FitError(f"precision={s.precision!r} is not one of {PRECISIONS}")
    if s.precision == "auto":
        s.precision = resolve_precision(s, cells)
    if s.chain_processes not in (None, True, False):
        raise FitError(f"chain_processes must be True, False or None (auto), got {s.chain_processes!r}")
    if s.chain_processes is None and cells is not None:
        from geommm import chain_processes

        s.chain_processes = chain_processes.wanted(s, cells)
    if s.precision == "float32" and (s.method, s.sampler, s.backend) != ("nuts", "nutpie", "jax"):
        raise FitError(
            "precision='float32' works with method='nuts', sampler='nutpie' and the JAX backend "
            f"only, got method={s.method!r}, sampler={s.sampler!r}, backend={s.backend!r}"
        )
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


def resolve_precision(s: SamplerSettings, cells: int | None) -> str:
    """"auto": float32 for NUTS with nutpie's JAX backend on panels of at least
    :data:`AUTO_FLOAT32_CELLS` geo x week x channel cells, else float64. Not with the
    low-rank mass matrix: float32 with it sampled slower than float64 with the diagonal
    one at 40 geos (docs/performance.md)."""
    single = (s.method, s.sampler, s.backend) == ("nuts", "nutpie", "jax") and s.mass_matrix != "low_rank"
    return "float32" if single and cells is not None and cells >= AUTO_FLOAT32_CELLS else "float64"


def run(
    model: pm.Model | Callable[[], pm.Model], s: SamplerSettings, progressbar: bool = True,
    warm_from: xr.Dataset | None = None, progress: Progress | None = None,
) -> az.InferenceData:
    """Sample ``model`` according to ``s``; fills the timing fields of ``s``.

    ``model`` may be a function that builds it, so Ctrl-C while building is handled
    like Ctrl-C while compiling. Raises :class:`~geommm.errors.FitInterrupted` on
    Ctrl-C and :class:`~geommm.errors.FitError` if the sampler returns fewer draws
    than asked for: a partial run is never passed off as a whole one.
    ``warm_from`` (a previous posterior, e.g. ``fit.posterior``) warm-starts nutpie:
    chains near its mean, on coordinates standardised by its sds (:mod:`geommm.warm_start`); other
    methods ignore it.
    ``progress``: where stage lines go off a terminal (:mod:`geommm._progress`);
    made from ``progressbar`` when not given.
    """
    check_settings(s)
    progress = progress if progress is not None else Progress.for_run(progressbar)
    bar = progressbar and not progress.enabled  # a bar only where it can draw itself
    cpu0 = os.times()
    cpu_start = cpu0.user + cpu0.system + cpu0.children_user + cpu0.children_system
    with InterruptGuard(defer=True, stage="model building") as guard:
        try:
            guard.check()
            if callable(model) and not isinstance(model, pm.Model):
                with progress.stage("model built"), paused_gc():
                    model = model()
            guard.check()
            if s.method == "nuts" and s.sampler == "nutpie":
                idata = _nutpie(model, s, bar, guard, warm_from, progress)
            else:
                # PyMC's samplers and optimisers cannot be polled: let Ctrl-C raise in them
                # (they stop early and return what they have; the count below catches that).
                guard.stage = "sampling" if s.method == "nuts" else f"{s.method.upper()} fitting"
                guard.defer = False
                with progress.stage("sampled" if s.method == "nuts" else f"{s.method.upper()} fitted"):
                    idata = _other(model, s, bar)
            guard.check()
        except FitInterrupted:
            raise
        except KeyboardInterrupt:
            raise interrupted(guard.stage) from None
    cpu1 = os.times()
    s.cpu_seconds = cpu1.user + cpu1.system + cpu1.children_user + cpu1.children_system - cpu_start
    check_complete(idata, s)
    return idata


def check_complete(idata: az.InferenceData, s: SamplerSettings) -> None:
    """Refuse a posterior with fewer chains or draws than ``s`` asked for."""
    post = getattr(idata, "posterior", None)
    chains = 0 if post is None else int(post.sizes.get("chain", 0))
    draws = 0 if post is None else int(post.sizes.get("draw", 0))
    if (chains, draws) != (s.chains, s.draws):
        raise FitError(
            f"the sampler returned {chains} chain(s) x {draws} draws, not the {s.chains} x "
            f"{s.draws} asked for; an incomplete posterior is not returned (nothing was saved)"
        )


def _other(model: pm.Model, s: SamplerSettings, progressbar: bool) -> az.InferenceData:
    if s.method == "advi":
        from geommm.advi import run_advi

        return run_advi(model, s, progressbar)
    if s.method == "map":
        return _map(model, s, progressbar)
    if s.method == "laplace":
        return _laplace(model, s, progressbar)
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
            **_sampler_kwargs(s),
        )
    s.sampling_seconds = time.perf_counter() - t0
    return idata


def _sampler_kwargs(s: SamplerSettings) -> dict:
    """NumPyro runs its chains vectorised (one program over all chains: one device, GPU
    or CPU, no process per chain) rather than in parallel processes."""
    if s.sampler == "numpyro":
        return {"nuts_sampler_kwargs": {"chain_method": "vectorized",
                                        "nuts_kwargs": {"max_tree_depth": s.max_treedepth}}}
    return {"max_treedepth": s.max_treedepth}  # PyMC's own NUTS


def _nutpie(
    model: pm.Model, s: SamplerSettings, progressbar: bool, guard: InterruptGuard,
    warm_from: xr.Dataset | None = None, progress: Progress | None = None,
) -> az.InferenceData:
    guard.stage = "compilation"
    t0 = time.perf_counter()
    from geommm import _jax_speed, chain_processes

    workers = None
    try:
        with paused_gc():  # imports JAX and nutpie on a first fit, then compiles
            if s.backend == "jax":
                _jax_speed.tune_xla_flags()  # before the workers copy this process's environment
            workers = chain_processes.start(s)  # first: their imports overlap the compile below
            if s.backend == "jax":
                _jax_speed.persistent_cache()  # a refit of the same model loads its executables
            compiled = _jax_speed.compiled_density(model, s.backend, s.precision, lean=workers is None)
            if warm_from is not None:  # a copy: the cached compile stays as it was
                compiled = _warm(model, warm_from, compiled, s)
        s.compile_seconds = time.perf_counter() - t0
        guard.check()
        guard.stage = "sampling"
        shown = progress or Progress(False)
        # no bar comes back from the workers: lines instead
        progress = Progress(True) if workers and progressbar else shown
        where = f" in {len(workers.procs)} processes" if workers else ""
        if progress.enabled:
            progress.say(f"compiled in {seconds(s.compile_seconds)}; sampling {s.chains} chain(s) x "
                         f"({s.tune} warm-up + {s.draws} draws){where}")
        else:
            log.info("compiled in %.1f s; sampling%s", s.compile_seconds, where)
        t0 = time.perf_counter()
        extra = {"maxdepth": s.max_treedepth}
        if s.mass_matrix == "low_rank":  # nutpie refuses the draws-based flag with it
            extra["low_rank_modified_mass_matrix"] = True
        else:
            extra["use_grad_based_mass_matrix"] = s.mass_matrix == "gradients"
        progress.start_sampling()
        idata = chain_processes.sample(workers, compiled, s, extra, guard, progress) if workers else None
        if idata is None:
            if workers:  # could not hand the density over: threads after all
                workers.stop()
                workers, progress = None, shown
                with paused_gc():
                    compiled = _jax_speed.lean_logp(compiled, s.precision)  # of the warm start's z, if any
            s.chain_processes = False  # what ran, for fit.settings
            idata = _nutpie_threads(compiled, s, progressbar, guard, progress, extra)
    finally:
        if workers:
            workers.stop()
    s.sampling_seconds = time.perf_counter() - t0
    progress.say(f"sampled in {seconds(s.sampling_seconds)}")
    return idata


def _warm(model: pm.Model, posterior, compiled, s: SamplerSettings):
    """``compiled`` warm-started from ``posterior`` (:mod:`geommm.warm_start`); cold, with
    a warning, where that cannot be done: a warm start only saves time, so it never
    stops a fit."""
    from geommm import warm_start

    if s.backend != "jax":
        log.warning("warm start skipped: it needs nutpie's JAX backend, not %r", s.backend)
        return compiled
    try:
        warm = warm_start.from_posterior(model, posterior, compiled)
        warmed = warm_start.precondition(compiled, warm)
    except Exception as exc:  # noqa: BLE001 - e.g. a transform that cannot be vectorised
        log.warning("warm start skipped, the chains start cold (%s: %s)", type(exc).__name__, exc)
        return compiled
    s.warm_start = warm.n_given
    return warmed


def _nutpie_threads(compiled, s: SamplerSettings, progressbar: bool, guard: InterruptGuard,
                    progress: Progress, extra: dict) -> az.InferenceData:
    """nutpie's own chains: threads of this process."""
    import nutpie

    sampler = nutpie.sample(
        compiled,
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        cores=s.cores or min(s.chains, os.cpu_count() or 1),
        seed=s.seed,
        target_accept=s.target_accept,
        progress_bar=progressbar,
        save_warmup=False,
        blocking=False,
        **extra,
    )
    try:
        # nutpie's own wait turns Ctrl-C into "return the draws so far"; poll instead.
        while not finished(sampler):
            guard.check()
            progress.tick(lambda: counts(sampler), s.chains * s.tune, s.chains * s.draws)
            time.sleep(POLL_SECONDS)
        return sampler.wait()
    except BaseException:
        sampler.cancel()  # a sampler left running crashes the interpreter at exit
        raise


def _map(model: pm.Model, s: SamplerSettings, progressbar: bool) -> az.InferenceData:
    """The posterior mode, on the JAX-compiled density (geommm/approx.py)."""
    from geommm import approx

    return approx.run_map(model, s)


def _laplace(model: pm.Model, s: SamplerSettings, progressbar: bool) -> az.InferenceData:
    """A normal approximation at the mode, on the JAX-compiled density (geommm/approx.py)."""
    from geommm import approx

    return approx.run_laplace(model, s)
