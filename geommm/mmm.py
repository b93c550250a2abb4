"""GeoMMM: the user-facing model object — formula + panel (+ lift tests) -> Fit."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from geommm import _checks as check
from geommm import _hooks
from geommm.data import Panel, read_lift_tests_for_panel, read_panel
from geommm.data.suspicious import warn_suspicious
from geommm.errors import ArgumentError, DataError, FitError, FormulaError, GeoMMMError
from geommm.formula import ModelSpec, parse_formula
from geommm.model.build import LIKELIHOODS, build_pymc_model
from geommm.model.design import ModelData, build_model_data
from geommm.model import log_kpi
from geommm.model.lift import LiftCells, build_lift_cells
from geommm.model.priors import DEFAULT_MEDIA_SHARE, PriorSet, resolve_priors
from geommm.model.time_path import check_path_priors, layout_for

if TYPE_CHECKING:
    from geommm.fit import Fit


class GeoMMM:
    """A hierarchical geo-level media mix model described by a formula.

    >>> model = GeoMMM("revenue ~ price + fourier(52, 2) + trend() + (1 | geo)"
    ...                " + media(tv_spend, name='tv')", data=panel)
    >>> fit = model.fit(draws=500, tune=500, chains=2)
    """

    def __init__(
        self,
        formula: str,
        data: Panel | Any,
        *,
        geo: str = "geo",
        time: str = "time",
        lift_tests: pl.DataFrame | Any | None = None,
        population: str | None = None,
        priors: Mapping[str, Any] | None = None,
        likelihood: str = "normal",
    ) -> None:
        if likelihood not in LIKELIHOODS:
            raise FormulaError(f"likelihood={likelihood!r} is not one of {LIKELIHOODS}")
        if population is not None and not isinstance(population, str):
            raise ArgumentError(f"population must be a column name, got {population!r}")
        if priors is not None and not isinstance(priors, Mapping):
            raise ArgumentError(f"priors must be a dict of prior overrides, got {priors!r}")
        self.panel = data if isinstance(data, Panel) else read_panel(data, geo=geo, time=time)
        self.likelihood = likelihood
        self.population = population
        self.spec: ModelSpec = parse_formula(formula, self.panel.columns, geo=self.panel.geo_col)
        log_kpi.check_likelihood(self.spec, likelihood)
        self.data: ModelData = build_model_data(self.spec, self.panel, population=population)
        self._check_media()
        warn_suspicious(
            self.panel,
            self.spec.response,
            spend={m.name: m.spend for m in self.spec.media},
            max_lag={m.name: m.max_lag for m in self.spec.media},
        )
        self.lift_tests: pl.DataFrame | None = None
        self.lift_cells: LiftCells | None = None
        if lift_tests is not None:
            spend = {m.name: m.spend for m in self.spec.media}
            self.lift_tests = read_lift_tests_for_panel(lift_tests, self.panel, spend)
            self.lift_cells = build_lift_cells(self.lift_tests, self.data)
        self.prior_overrides = dict(priors or {})
        self.priors: PriorSet = resolve_priors(
            self.prior_overrides, list(self.spec.channels), self.default_roi, spec=self.spec,
            level=log_kpi.level_prior(self.spec),
        )
        # a varying channel: the panel long enough for its basis, the lengthscale in weeks
        layout_for(self.spec, self.data.n_times)
        check_path_priors(self.priors, self.spec, self.data.n_times)
        self._model = None
        self._opt_model = None
        #: Geo-level centring for MAP/Laplace (None: read from the data). Pre-flight sets
        #: the user's own for every simulated market, so their graphs match (one compile).
        self.level_centring: float | None = log_kpi.optimisation_level_centring(self.spec)

    # ------------------------------------------------------------------ model
    @property
    def default_roi(self) -> float:
        """ROI at which all media together would explain DEFAULT_MEDIA_SHARE of the KPI."""
        return DEFAULT_MEDIA_SHARE * float(self.data.kpi.sum()) / float(self.data.spend.sum())

    @property
    def model(self):
        """The PyMC model (built on first use)."""
        if self._model is None:
            self._model = build_pymc_model(
                self.spec, self.data, self.priors, lift_cells=self.lift_cells,
                likelihood=self.likelihood,
            )
        return self._model

    def _optimisation_model(self):
        """The same model with non-centred geo media effects, for MAP, Laplace and ADVI.

        A mode is not invariant to reparameterisation. With (partially) centred media
        effect deviations the joint density grows without bound as their spread shrinks
        to zero (on the demo panel the mode search ran off to gradients of 1e12), so
        they are non-centred here. The geo levels keep the data's choice: where the data
        pin every geo's level they are centred, as for NUTS; non-centred, the mode put
        their spread 50 posterior sds too high and Laplace draws reached baselines far
        from the data. NUTS samples the posterior, which is the same either way."""
        if self._opt_model is None:
            from geommm._jax_speed import lean_graphs
            from geommm.media.backend import lag_by_lag_adstock

            # compiled by JAX only: no PyTensor creation tracebacks; adstock as MAP and
            # Laplace were tested with (media/backend.py)
            with lean_graphs(), lag_by_lag_adstock():
                self._opt_model = build_pymc_model(
                    self.spec, self.data, self.priors, lift_cells=self.lift_cells,
                    likelihood=self.likelihood, geo_centring=np.ones(self.data.n_channels),
                    level_centring=self.level_centring,
                )
        return self._opt_model

    def default_priors(self) -> pl.DataFrame:
        """Every prior in force (defaults merged with overrides), one row per parameter."""
        return self.priors.table(
            adstocks=[m.adstock for m in self.spec.media], varying=[m.varying for m in self.spec.media],
            smooth=self.spec.smooth is not None, synergy=bool(self.spec.synergy),
            reach_frequency=any(m.frequency is not None for m in self.spec.media),
        )

    def sample_prior_predictive(self, draws: int = 500, seed: int | None = 0):
        """Prior predictive draws (arviz InferenceData) to check the priors make sense.

        Evaluated by PyTensor's Python thunks (numpy), not compiled to C: on a cold C
        cache the compile alone took ~15 s on a 3-geo model, longer than the draws."""
        import pymc as pm

        draws, seed = check.whole("draws", draws, 1), check.seed(seed)
        with self.model:
            return pm.sample_prior_predictive(
                draws=draws, random_seed=seed, compile_kwargs={"mode": "FAST_COMPILE"})

    def fit(
        self,
        draws: int = 1000,
        tune: int = 500,
        chains: int = 4,
        sampler: str = "nutpie",
        seed: int | None = 0,
        method: str = "nuts",
        *,
        target_accept: float = 0.9,
        max_treedepth: int = 10,
        cores: int | None = None,
        backend: str = "auto",
        mass_matrix: str = "draws",
        precision: str = "auto",
        chain_processes: bool | None = None,
        progressbar: bool = True,
        preflight: str = "block",
        warm_start: Fit | None = None,
    ):
        """Fit the model and return a :class:`geommm.fit.Fit`.

        method: "nuts" (full posterior; sampler "nutpie" default, "pymc" or "numpyro"),
        "laplace" (a first look in seconds: a normal approximation at the mode, draws x
        chains draws), "map" (the mode only) or "advi" (deprecated: use "laplace").
        tune: warm-up iterations per chain. 500 (the default since issue 18) gave the
        demo the same posterior, R-hat and effective sample size as 1000 with 20-25%
        fewer gradient evaluations on three seeds (docs/performance.md, "Warm-up");
        raise it when the diagnostics say the chains disagree.
        backend: how nutpie compiles the model — "jax" (compiles in ~2 s; the default
        when JAX is installed, as it is with geommm's dependencies) or "numba" (30-50 s).
        mass_matrix (nutpie): "draws" (default; adapted from the warm-up draws' variances)
        or "gradients" (nutpie's own default: fewer steps per draw, but on geommm's
        models less than half the effective sample size per second), or "low_rank"
        (nutpie's diagonal plus low-rank correction: learns strong correlations; the
        sequential refresh's default).
        precision (nutpie, JAX): "float32" computes the log density and its gradient in
        single precision (sampling 1.3-1.8x faster on a CPU; the draws and every table
        stay float64; docs/performance.md); "float64" in double; "auto" (default) picks
        float32 for NUTS on panels from 30,000 geo x week x channel cells (e.g. 40 x 156
        x 5), where it was measured to give the same posterior, and float64 below.
        ``fit.settings.precision`` records the choice.
        chain_processes (nutpie, JAX on the CPU): True runs the chains in worker
        processes, one CPU each (the demo sampled 2.2x faster on 2 CPUs than in nutpie's
        threads, which shared about one core; docs/performance.md), False in threads of
        this process; None ("auto", default) uses processes when the fit is big enough to
        pay for their few-second start (``GEOMMM_CHAIN_PROCESSES=0`` or ``1`` overrides
        auto). In processes a seed gives the same draws on any number of CPUs; threads
        (also used where processes cannot run: one CPU, macOS/Windows, JAX on a GPU)
        give other draws of the same posterior. ``fit.settings.chain_processes`` says
        which ran.
        max_treedepth (NUTS): a trajectory stops after 2^max_treedepth - 1 leapfrog steps
        (default 10, as in Stan and PyMC). Lowering it caps the cost of each iteration, e.g.
        for quick checks whose short warm-up would run at the cap; the diagnostics warn
        when many draws hit it, which means the sampler was cut short, not that it mixed.
        preflight: "block" (default) stops with a PreflightError when the data leave the
        fit nothing to answer (``gm.preflight`` lists why), "warn" warns and fits anyway,
        "off" skips the checks.
        warm_start (NUTS with nutpie on JAX): a previous :class:`~geommm.fit.Fit` (NUTS) of
        this model or a close one, e.g. before the panel gained the test weeks or a lift
        test. The chains start near its posterior mean and sample coordinates standardised
        by its posterior sds (:mod:`geommm.warm_start`), so warm-up is cheaper and can be
        shorter: refitting the design example's panel with its lift test, ``tune=200``
        warm-started took 24-28% fewer density evaluations than a cold ``tune=500``, with
        the same posterior and verdict, on three markets (docs/performance.md, "Warm
        start"). The posterior is exactly the model's whatever the warm start; a poor one
        only costs warm-up. Variables the previous fit lacks, or has with other shapes,
        start as without it. ``fit.settings.warm_start`` counts the coordinates it
        supplied (0: none, e.g. when it could not be used; a warning says why).
        """
        from geommm import sampling
        from geommm._progress import Progress

        settings = sampling.SamplerSettings(
            method=method, sampler=sampler, draws=draws, tune=tune, chains=chains,
            cores=cores, seed=seed, target_accept=target_accept, backend=backend,
            mass_matrix=mass_matrix, precision=precision, chain_processes=chain_processes,
            max_treedepth=max_treedepth,
        )
        sampling.check_settings(settings, cells=self.data.n_cells)
        warm_from = _warm_posterior(warm_start, settings)
        # the one upward call of the fit layer (docs/architecture.md): the data checks
        from geommm.workflows.preflight import check_before_fit

        check_before_fit(self, preflight)
        # built inside run(), so Ctrl-C while building is handled like Ctrl-C while compiling
        build = (lambda: self.model) if method == "nuts" else self._optimisation_model
        progress = Progress.for_run(progressbar)  # plain lines when stderr is not a terminal
        try:
            idata = sampling.run(build, settings, progressbar=progressbar, progress=progress,
                                 warm_from=warm_from)
        except GeoMMMError:
            raise
        except Exception as exc:  # surface sampler failures as one clear error
            raise FitError(f"sampling failed ({type(exc).__name__}: {exc})") from exc
        fit = self._as_fit(idata, settings)
        _hooks.after_fit(fit)  # e.g. geommm.mlflow.autolog(); nothing registered by default
        return fit

    def _as_fit(self, idata, settings):
        """The :class:`~geommm.fit.Fit` of ``idata``. Its observed/constant data and
        pointwise log-likelihood groups are added when ``fit.idata`` is first read."""
        from geommm.fit import Fit

        fit = Fit(
            idata=idata,
            spec=self.spec,
            panel=self.panel,
            settings=settings,
            priors=self.priors,
            prior_overrides=self.prior_overrides,
            population=self.population,
            likelihood=self.likelihood,
            lift_tests=self.lift_tests,
            data=self.data,
            lift_cells=self.lift_cells,
        )
        fit.warn_if_not_converged()
        return fit

    def _check_media(self) -> None:
        spend = self.data.spend.sum(axis=(0, 1))
        dead = [c for c, s in zip(self.spec.channels, spend) if not s > 0]
        if dead:
            cols = [self.spec.media_term(c).spend for c in dead]
            raise DataError(
                f"{self.panel.source}: channel(s) {dead} have zero spend in every geo and week "
                f"(columns {cols}); their effect cannot be estimated, remove them from the formula"
            )
        inp = self.data.media_input.sum(axis=1)
        sp = self.data.spend.sum(axis=1)
        odd = [
            (self.data.geos[g], self.spec.channels[c])
            for g, c in zip(*np.nonzero((sp > 0) & (inp <= 0)))
        ]
        if odd:
            warnings.warn(
                f"{len(odd)} geo-channel cell(s) have spend but no exposure, e.g. {odd[:3]}; "
                "the model sees no media there",
                stacklevel=3,
            )

    def __repr__(self) -> str:
        return (
            f"GeoMMM({self.spec.formula!r}; {self.data.n_geos} geos x {self.data.n_times} weeks, "
            f"channels {list(self.spec.channels)}, "
            f"{0 if self.lift_cells is None else self.lift_cells.n_tests} lift tests)"
        )



def _warm_posterior(warm_start, settings):
    """The posterior a warm start reads, after checking it can be used (before any build)."""
    if warm_start is None:
        return None
    from geommm.fit import Fit

    if not isinstance(warm_start, Fit):
        raise FitError(f"warm_start must be a previous geommm Fit (NUTS), not {type(warm_start).__name__}")
    if (settings.method, settings.sampler, settings.backend) != ("nuts", "nutpie", "jax"):
        raise FitError(f"warm_start works with method='nuts', sampler='nutpie', backend='jax', not "
                       f"method={settings.method!r}, sampler={settings.sampler!r}, backend={settings.backend!r}")
    if warm_start.settings.method != "nuts":
        raise FitError(f"warm_start needs a NUTS fit's posterior; this one is method={warm_start.settings.method!r} "
                       "(an approximation parameterised otherwise)")
    return warm_start.posterior


def fit_alike(
    models: list[GeoMMM], method: str = "laplace", draws: int = 250, chains: int = 2,
    seed: int = 0,
) -> list:
    """Fit several models that share a formula and the shapes of their data (e.g. one
    design with different KPI) with MAP or Laplace, compiling once: the data that
    differ between them become arguments of the compiled density (``approx.densities``),
    so each extra model costs only its mode, Hessian and draws. Model ``i`` gets seed
    ``seed + i``. Like every fit, each adds its arviz data and log-likelihood groups
    when its ``idata`` is first read."""
    from geommm import approx, sampling

    if method not in ("map", "laplace"):
        raise FitError(f"fit_alike fits with 'map' or 'laplace', not {method!r}")
    settings = [
        sampling.SamplerSettings(method=method, draws=draws, chains=chains, seed=seed + i)
        for i in range(len(models))
    ]
    for s in settings:
        sampling.check_settings(s)
    n = settings[0].draws * settings[0].chains if method == "laplace" else 1
    built = [m._optimisation_model() for m in models]
    densities = approx.densities(built, seed, batch=min(approx.CHUNK, n))
    fits = []
    for model, density, s in zip(models, densities, settings):
        idata = approx.run_density(density, s)
        sampling.check_complete(idata, s)
        fits.append(model._as_fit(idata, s))
    return fits
