"""Fit: a fitted GeoMMM — posterior, diagnostics, the result tables, save/load.

A Fit keeps the InferenceData (coords geo, time, channel, control), the spec and
the panel columns the model used, so a saved fit reloads and answers every
question without refitting. Its methods are one-line doors into ``analysis/``
(tables, checks, decisions) and ``store`` (save/load); the work lives there.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import polars as pl

from geommm import _checks as check
from geommm import store
from geommm.analysis import arviz_groups, checks
from geommm.analysis import contributions as contrib_mod
from geommm.analysis import diagnostics as diag_mod
from geommm.analysis import identification as ident_mod
from geommm.analysis import reach_frequency as rf_mod
from geommm.analysis import roi as roi_mod
from geommm.analysis.diagnostics import Diagnostics
from geommm.analysis.draws import posterior_draws
from geommm.analysis.effectiveness import effectiveness_table
from geommm.analysis.forward import EFFECTIVENESS, ForwardModel
from geommm.errors import ArgumentError
from geommm.formula import ModelSpec
from geommm.model.design import ModelData, build_model_data
from geommm.model.lift import LiftCells, build_lift_cells
from geommm.model.priors import PriorSet
from geommm.sampling import SamplerSettings
from geommm.store import FORMAT_VERSION, load_fit

__all__ = ["ANALYSIS_DRAWS", "FORMAT_VERSION", "Diagnostics", "Fit", "load_fit"]

#: Draws used by the analysis tables (evenly thinned); enough for stable 90% HDIs.
ANALYSIS_DRAWS = 1000


def _default_roi(data: ModelData) -> float:
    from geommm.model.priors import DEFAULT_MEDIA_SHARE

    return DEFAULT_MEDIA_SHARE * float(data.kpi.sum()) / float(data.spend.sum())


class Fit:
    """The result of :meth:`GeoMMM.fit`."""

    def __init__(
        self,
        idata: az.InferenceData,
        spec: ModelSpec,
        panel,
        settings: SamplerSettings,
        priors: PriorSet,
        prior_overrides: dict | None = None,
        population: str | None = None,
        likelihood: str = "normal",
        lift_tests: pl.DataFrame | None = None,
        data: ModelData | None = None,
        lift_cells: LiftCells | None = None,
        default_roi: float | None = None,
        lineage: dict | None = None,
        fit_id: str | None = None,
    ) -> None:
        self._idata = idata
        self._groups_filled = False  # observed/constant data, log-likelihood: see ``idata``
        self.spec = spec
        self.panel = panel
        self.settings = settings
        self.priors = priors
        self.prior_overrides = prior_overrides or {}
        self.population = population
        self.likelihood = likelihood
        self.lift_tests = lift_tests
        self.data = data if data is not None else build_model_data(spec, panel, population=population)
        if lift_cells is None and lift_tests is not None and len(lift_tests):
            lift_cells = build_lift_cells(lift_tests, self.data)
        self.lift_cells = lift_cells
        #: centre of the default ROI prior (kept by a refresh, so the priors stay the same)
        self.default_roi = float(default_roi) if default_roi is not None else _default_roi(self.data)
        #: where this fit came from: None for a first fit; a refresh records its parent
        self.lineage = lineage
        self.fit_id = fit_id or store.new_fit_id()
        self.file_sha256: str | None = None  # set by save and load_fit
        self.changes = None  # a WhatChanged, once what_changed(parent) ran
        self._computed: dict[tuple, Any] = {}  # slow diagnostics, once per argument set

    # ------------------------------------------------------------ posterior
    @property
    def idata(self) -> az.InferenceData:
        """The fit as arviz InferenceData: posterior, sample_stats, observed_data,
        constant_data and the pointwise log_likelihood (``az.loo(fit.idata)``).

        Groups a fit lacks are added on first access (the pointwise log-likelihood runs
        the model over every draw, ~1 s on the demo's 4,000, and no result table needs
        it): a first look returns sooner, and a refreshed or older fit gets them too."""
        if not self._groups_filled:
            arviz_groups.add_missing(self, self._idata)
            self._groups_filled = True  # after: a failure raises again on the next read
        return self._idata

    @idata.setter
    def idata(self, value: az.InferenceData) -> None:
        self._idata = value
        self._groups_filled = False

    @property
    def posterior(self):
        """The posterior group (an xarray Dataset: chain, draw, named coords), read
        without filling the other arviz groups; what the analysis works from."""
        return self._idata.posterior

    @property
    def sample_stats(self):
        """The sampler's statistics (divergences, tree depth, ...), or None (MAP)."""
        return getattr(self._idata, "sample_stats", None)

    @cached_property
    def forward(self) -> ForwardModel:
        """The fitted model over (thinned) posterior draws."""
        draws = posterior_draws(self, max_draws=ANALYSIS_DRAWS)
        return ForwardModel(self.spec, self.data, draws, shift_from=self.shift_from)

    @property
    def shift_from(self) -> int | None:
        """Panel week from which a sequential refresh's ``effect_shift`` applies (None
        for other fits): the refresh's first new week."""
        first = self.posterior.attrs.get("effect_shift_from")
        if not first:
            return None
        return int(np.searchsorted(np.asarray(self.data.times, dtype="datetime64[D]"), np.datetime64(first, "D")))

    @property
    def channels(self) -> tuple[str, ...]:
        return self.spec.channels

    def summary(
        self, var_names: Sequence[str] | None = None, hdi_prob: float = 0.9, *, all: bool = False
    ) -> pl.DataFrame:
        """Parameter table: parameter, mean, sd, hdi_low, hdi_high, r_hat, ess_bulk, ess_tail.
        The model's parameters labelled by name (``roi[tv]``); ``all=True`` adds the sampler's
        internals (``roi_log__[0]``, ``..._z`` offsets). Computed once per argument set."""
        hdi_prob = check.hdi_prob(hdi_prob)
        if var_names is not None:
            check.some_of("var_names", var_names, list(self.posterior.data_vars))
        key = ("summary", None if var_names is None else tuple(var_names), hdi_prob, bool(all))
        return self._once(
            key, lambda: diag_mod.parameter_summary(self, var_names, hdi_prob, all=bool(all))
        ).clone()

    def diagnostics(self, r_hat_max: float = 1.01, ess_min: float | None = None) -> Diagnostics:
        """Divergences, max R-hat, min ESS and a verdict ("ok" / "warning" / "fail").
        Computed once per argument set, like :meth:`summary`."""
        r_hat_max = check.at_least("r_hat_max", r_hat_max, 1.0)
        if ess_min is not None:
            ess_min = check.at_least("ess_min", ess_min, 0.0)
        d = self._once(("diagnostics", r_hat_max, ess_min),
                       lambda: ident_mod.with_messages(diag_mod.diagnostics(self, r_hat_max, ess_min), self))
        return dataclasses.replace(d, messages=list(d.messages))

    def warn_if_not_converged(self) -> None:
        """Warn (ConvergenceWarning) when NUTS did not converge; approximations pass silently."""
        diag_mod.warn_if_not_converged(self)

    def _once(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for, the stored result after."""
        if key not in self._computed:
            self._computed[key] = compute()
        return self._computed[key]

    # --------------------------------------------------------------- tables
    def roi(self, by: str = "geo", hdi_prob: float = 0.9) -> pl.DataFrame:
        """ROI per geo x channel (``by="geo"``) or national per channel (``by="channel"``)."""
        by, hdi_prob = check.one_of("by", by, roi_mod.BY), check.hdi_prob(hdi_prob)
        return roi_mod.roi_table(self.forward, by=by, hdi_prob=hdi_prob)

    def marginal_roi(self, by: str = "geo", hdi_prob: float = 0.9, step: float = 0.01) -> pl.DataFrame:
        """Return on the next unit of spend (a relative ``step`` more spend), same columns as roi()."""
        by, hdi_prob = check.one_of("by", by, roi_mod.BY), check.hdi_prob(hdi_prob)
        step = check.positive("step (a relative spend increase, e.g. 0.01)", step)
        return roi_mod.roi_table(self.forward, by=by, hdi_prob=hdi_prob, step=step)

    def optimal_frequency(self, hdi_prob: float = 0.9) -> pl.DataFrame:
        """Reach & frequency channels: per geo, the frequency bought, the one of highest ROI
        at the reach bought (cost per impression fixed) and the ROI at each."""
        return rf_mod.optimal_frequency_table(self.forward, hdi_prob=check.hdi_prob(hdi_prob))

    def synergy(self, hdi_prob: float = 0.9) -> pl.DataFrame:
        """Each ``synergy(a, b)`` pair: its national coefficient, P(> 0) and its KPI (empty without)."""
        from geommm.analysis.synergy import synergy_table

        return synergy_table(self.forward, hdi_prob=check.hdi_prob(hdi_prob))

    def contributions(self, by: Sequence[str] | str = ("geo", "time"), hdi_prob: float = 0.9) -> pl.DataFrame:
        """KPI decomposition into baseline, seasonality, trend, controls and channels (KPI units)."""
        by = check.some_of("by", by, contrib_mod.GROUPINGS)
        hdi_prob = check.hdi_prob(hdi_prob)
        return contrib_mod.contributions_table(self.forward, by=by, hdi_prob=hdi_prob)

    def organic_effects(self, by: str = "national", hdi_prob: float = 0.9) -> pl.DataFrame:
        """Each organic(...) term's incremental KPI and KPI share with intervals; no ROI (no spend)."""
        from geommm.analysis import nonmedia

        return nonmedia.organic_table(self.forward, check.one_of("by", by, nonmedia.BY), check.hdi_prob(hdi_prob))

    def treatment_effects(self, by: str = "national", hdi_prob: float = 0.9) -> pl.DataFrame:
        """Each treatment(...)'s incremental KPI against its baseline level, with intervals."""
        from geommm.analysis import nonmedia

        return nonmedia.treatment_table(self.forward, check.one_of("by", by, nonmedia.BY), check.hdi_prob(hdi_prob))

    def fitted(self, hdi_prob: float = 0.9, national: bool = False) -> pl.DataFrame:
        """geo, time, actual, mean, hdi_low, hdi_high (posterior predictive), holdout;
        ``national=True`` adds the sum over geos with its own interval."""
        return checks.fitted(self, hdi_prob=check.hdi_prob(hdi_prob), national=bool(national))

    def fit_metrics(self) -> pl.DataFrame:
        """In-sample R^2 and MAPE per geo and overall ("national" row sums over geos)."""
        return checks.fit_metrics(self)

    def lift_test_check(self, lift_tests=None, hdi_prob: float = 0.9) -> pl.DataFrame:
        """Each lift test's measured lift next to the model-implied lift (posterior).

        Without ``lift_tests`` it checks the tests the model was calibrated on. Pass
        tests (any source ``read_lift_tests`` accepts) to check a fit against
        experiments it has not seen, e.g. the uncalibrated fit, to compare before and
        after calibration."""
        return checks.lift_test_check(self, lift_tests=lift_tests, hdi_prob=check.hdi_prob(hdi_prob))

    def adstock_decay(self, hdi_prob: float = 0.9) -> pl.DataFrame:
        """Carryover weights per lag: geo, channel, lag, weight_mean, weight_hdi_low, weight_hdi_high."""
        return checks.adstock_decay(self, hdi_prob=check.hdi_prob(hdi_prob))

    def identification(self, prior_draws: int = 4000, seed: int = 0) -> pl.DataFrame:
        """Prior vs posterior sd of log ROI per channel and geo-channel: contraction and a verdict
        (identified / weak / prior-driven). See :mod:`geommm.analysis.identification`.
        Computed once per argument set (the report's headline and its next-experiment
        section both ask)."""
        key = ("identification", prior_draws, seed)
        return self._once(key, lambda: ident_mod.identification(self, prior_draws=prior_draws, seed=seed)).clone()

    # ------------------------------------------------------------ decisions
    def design_lift_tests(
        self, channels=None, geos=None, weeks=(4, 6, 8), kinds=("heavy_up", "go_dark"),
        spend_factor: float = 1.5, max_geos: int = 4, start=None, post_weeks: int = 4,
        max_cost: float | None = None, n_best: int | None = 10, **options,
    ) -> pl.DataFrame:
        """Candidate Geo-Lift tests ranked by expected ROI-interval shrink per unit of cost, with
        expected lift, standard error, power and cost. See
        :func:`geommm.analysis.experiments.design_lift_tests` for every option."""
        from geommm.analysis.experiments import design_lift_tests

        return design_lift_tests(self, channels, geos, weeks, kinds, spend_factor, max_geos, start,
                                 post_weeks, max_cost, n_best, **options)

    def response_curves(self, geo=None, channel=None, spend_grid=None, hdi_prob: float = 0.9,
                        effectiveness: str = "latest") -> pl.DataFrame:
        """Incremental KPI vs the period's total spend (scaling observed flighting), per geo
        and national, with HDI bands; a time-varying channel at its ``effectiveness``
        ("latest" week's or "average"), stated in an ``effectiveness`` column."""
        from geommm.analysis.curves import response_curves

        hdi_prob = check.hdi_prob(hdi_prob)
        check.numbers_list("spend_grid", spend_grid)
        check.one_of("effectiveness", effectiveness, EFFECTIVENESS)
        return response_curves(self, geo=geo, channel=channel, spend_grid=spend_grid, hdi_prob=hdi_prob,
                               effectiveness=effectiveness)

    def effectiveness(self, by: str = "national", hdi_prob: float = 0.9) -> pl.DataFrame:
        """Each time-varying channel's effectiveness multiplier per week (1 = its typical
        week), national or ``by="geo"``: channel, [geo,] time, mean, hdi_low, hdi_high."""
        return effectiveness_table(self.forward, by=by, hdi_prob=check.hdi_prob(hdi_prob))

    def optimize_budget(self, budget: float | None = None, **kwargs):
        """Best split of ``budget`` over channels (``by="channel"``) or geo x channel
        (``by="geo"``) within ``bounds``; returns an Allocation. See
        :func:`geommm.analysis.optimize.optimize_budget` for every option."""
        from geommm.analysis.optimize import optimize_budget

        check.keywords(optimize_budget, kwargs)
        if "hdi_prob" in kwargs:
            kwargs["hdi_prob"] = check.hdi_prob(kwargs["hdi_prob"])
        return optimize_budget(self, budget, **kwargs)

    def scenario(self, spend_plan, hdi_prob: float = 0.9) -> pl.DataFrame:
        """What-if: predicted KPI under ``spend_plan`` and the change vs the actual plan."""
        from geommm.analysis.scenario import scenario

        hdi_prob = check.hdi_prob(hdi_prob)
        return scenario(self, spend_plan, hdi_prob=hdi_prob)

    def predict(self, new_panel, hdi_prob: float = 0.9, **kwargs) -> pl.DataFrame:
        """Out-of-sample predictions (geo, time, mean, hdi_low, hdi_high), carryover included."""
        from geommm.analysis.predict import predict

        hdi_prob = check.hdi_prob(hdi_prob)
        check.keywords(predict, kwargs)
        if "seed" in kwargs:
            kwargs["seed"] = check.whole("seed", kwargs["seed"])
        return predict(self, new_panel, hdi_prob=hdi_prob, **kwargs)

    def prior_posterior(self, draws: int = 1000, seed: int = 0) -> pl.DataFrame:
        """Long table (parameter, source "prior"|"posterior", value) for the key media
        parameters, to see what the data taught the model beyond its priors."""
        draws, seed = check.whole("draws", draws, 1), check.whole("seed", seed)
        return checks.prior_posterior(self, draws=draws, seed=seed)

    def report(self, path: str | Path = "geommm-report.html", allocation=None) -> Path:
        """Write the self-contained offline HTML report (charts + key tables)."""
        from geommm.report import write_report

        path = check.output_file("path", path)
        # an Allocation, or a plan read back from its CSV (the CLI's SavedAllocation)
        if allocation is not None and not all(hasattr(allocation, a) for a in ("table", "summary", "by")):
            raise ArgumentError(
                f"allocation must be the result of fit.optimize_budget(...), got {allocation!r}"
            )
        return write_report(self, path, allocation=allocation)

    # ------------------------------------------------------- model checking
    def loo(self, var_name: str = "kpi") -> pl.DataFrame:
        """PSIS-LOO of the KPI per geo-week (arviz): elpd_loo, se, p_loo, Pareto k counts."""
        from geommm.analysis.model_comparison import loo_table

        return loo_table(self, var_name=var_name)

    def sample_posterior_predictive(self, seed: int | None = 0) -> az.InferenceData:
        """Fill ``idata.posterior_predictive`` (kpi with noise, lift tests) for ``az.plot_ppc``."""
        from geommm.analysis.arviz_groups import sample_posterior_predictive

        return sample_posterior_predictive(self, seed=seed)

    # -------------------------------------------------------------- refresh
    def refresh(self, new_panel, lift_tests=None, method: str = "sequential", allow_restated: bool = False, **fit_kwargs) -> Fit:
        """A new Fit with the weeks of ``new_panel`` added (frozen scaling; see workflows/refresh.py)."""
        from geommm.workflows.refresh import refresh

        return refresh(self, new_panel, lift_tests=lift_tests, method=method, allow_restated=allow_restated, **fit_kwargs)

    def what_changed(self, previous_fit: Fit, threshold: float = 0.1, hdi_prob: float = 0.9, budget: bool = True):
        """ROI / marginal ROI before vs after, the new weeks' effect shift, the previous
        forecast of the new weeks, the budget advice before vs after, a summary. Kept as
        ``self.changes`` (the report's "What changed since the last fit" section)."""
        from geommm.workflows.what_changed import what_changed

        self.changes = what_changed(previous_fit, self, threshold=threshold, hdi_prob=hdi_prob, budget=budget)
        return self.changes

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fit to one netCDF file (atomically); reload with ``geommm.load_fit``."""
        return store.save_fit(self, check.output_file("path", path))

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"Fit({self.spec.formula!r}; {s.method}/{s.sampler} {s.chains}x{s.draws}; "
            f"compile {s.compile_seconds:.1f}s, sampling {s.sampling_seconds:.1f}s)"
        )
