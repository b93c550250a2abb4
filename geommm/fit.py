"""Fit: a fitted GeoMMM — posterior, diagnostics, the result tables, save/load.

A Fit keeps the InferenceData (coords geo, time, channel, control), the spec and
the panel columns the model used, so a saved fit reloads and answers every
question without refitting.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import polars as pl
import xarray as xr

from geommm import _checks as check
from geommm._atomic import atomic_path
from geommm.analysis import contributions as contrib_mod
from geommm.analysis import roi as roi_mod
from geommm.analysis.draws import posterior_draws, summarise
from geommm.analysis.forward import ForwardModel
from geommm.errors import ArgumentError, ConvergenceWarning, FitError
from geommm.formula import ModelSpec
from geommm.model.design import ModelData, build_model_data
from geommm.model.lift import LiftCells, build_lift_cells, implied_lift, lift_tests_on_grid
from geommm.model.priors import PriorSet, resolve_priors
from geommm.sampling import SamplerSettings

FORMAT_VERSION = 1
#: Draws used by the analysis tables (evenly thinned); enough for stable 90% HDIs.
ANALYSIS_DRAWS = 1000


@dataclass
class Diagnostics:
    """Convergence summary with a plain verdict and advice."""

    divergences: int
    max_r_hat: float
    min_ess_bulk: float
    min_ess_tail: float
    verdict: str
    messages: list[str] = field(default_factory=list)
    method: str = "nuts"

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def __str__(self) -> str:
        head = (
            f"{self.verdict.upper()}: {self.divergences} divergences, max R-hat "
            f"{self.max_r_hat:.3f}, min bulk ESS {self.min_ess_bulk:.0f}, "
            f"min tail ESS {self.min_ess_tail:.0f}"
        )
        return "\n".join([head, *("  - " + m for m in self.messages)])


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
    ) -> None:
        self.idata = idata
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

    # ------------------------------------------------------------ posterior
    @cached_property
    def forward(self) -> ForwardModel:
        """The fitted model over (thinned) posterior draws."""
        return ForwardModel(self.spec, self.data, posterior_draws(self.idata, max_draws=ANALYSIS_DRAWS))

    @property
    def channels(self) -> tuple[str, ...]:
        return self.spec.channels

    def summary(self, var_names: Sequence[str] | None = None, hdi_prob: float = 0.9) -> pl.DataFrame:
        """Parameter table: parameter, mean, sd, hdi_low, hdi_high, r_hat, ess_bulk, ess_tail."""
        hdi_prob = check.hdi_prob(hdi_prob)
        if var_names is not None:
            known = list(self.idata.posterior.data_vars)
            check.some_of("var_names", var_names, known)
        names = list(var_names) if var_names else self._reported_parameters()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = az.summary(self.idata, var_names=names, hdi_prob=hdi_prob, kind="all")
        lo, hi = [c for c in table.columns if c.startswith("hdi_")][:2]
        return pl.DataFrame(
            {
                "parameter": [str(i) for i in table.index],
                "mean": table["mean"].to_numpy(float),
                "sd": table["sd"].to_numpy(float),
                "hdi_low": table[lo].to_numpy(float),
                "hdi_high": table[hi].to_numpy(float),
                "r_hat": table["r_hat"].to_numpy(float),
                "ess_bulk": table["ess_bulk"].to_numpy(float),
                "ess_tail": table["ess_tail"].to_numpy(float),
            }
        )

    def _reported_parameters(self) -> list[str]:
        post = self.idata.posterior
        return [n for n in post.data_vars if not n.endswith("_z") and n != "lift_implied"]

    def diagnostics(self, r_hat_max: float = 1.01, ess_min: float | None = None) -> Diagnostics:
        """Divergences, max R-hat, min ESS and a verdict ("ok" / "warning" / "fail")."""
        r_hat_max = check.at_least("r_hat_max", r_hat_max, 1.0)
        if ess_min is not None:
            ess_min = check.at_least("ess_min", ess_min, 0.0)
        s = self.settings
        if s.method != "nuts":
            return Diagnostics(
                0, float("nan"), float("nan"), float("nan"), "not applicable",
                [f"method={s.method!r} gives an approximation; refit with method='nuts' "
                 "for trustworthy intervals and convergence checks"], method=s.method,
            )
        ess_min = ess_min if ess_min is not None else 100.0 * s.chains
        stats = getattr(self.idata, "sample_stats", None)
        div = int(stats["diverging"].values.sum()) if stats is not None and "diverging" in stats else 0
        post = self.idata.posterior
        names = [n for n in post.data_vars]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rhat = az.rhat(post, var_names=names) if s.chains > 1 else None
            ess_b = az.ess(post, var_names=names, method="bulk")
            ess_t = az.ess(post, var_names=names, method="tail")
        max_rhat = _extreme(rhat, np.nanmax) if rhat is not None else float("nan")
        min_b, min_t = _extreme(ess_b, np.nanmin), _extreme(ess_t, np.nanmin)
        total = s.chains * s.draws
        msgs, verdict = [], "ok"
        if div:
            verdict = "fail" if div > 0.01 * total else "warning"
            msgs.append(
                f"{div} divergent transitions ({div / total:.1%} of draws): raise target_accept "
                "(e.g. 0.95), tighten priors of weakly identified channels, or add lift tests"
            )
        if s.chains > 1 and max_rhat > r_hat_max:
            verdict = "fail" if max_rhat > 1.1 else ("warning" if verdict == "ok" else verdict)
            msgs.append(f"max R-hat {max_rhat:.3f} > {r_hat_max}: chains disagree; run longer (more tune/draws)")
        if s.chains == 1:
            msgs.append("one chain only: R-hat cannot be computed; use chains >= 2")
            verdict = "warning" if verdict == "ok" else verdict
        if min(min_b, min_t) < ess_min:
            verdict = "warning" if verdict == "ok" else verdict
            msgs.append(
                f"min ESS bulk {min_b:.0f} / tail {min_t:.0f} < {ess_min:.0f}: intervals are "
                "noisy; draw more samples"
            )
        return Diagnostics(div, max_rhat, min_b, min_t, verdict, msgs)

    def warn_if_not_converged(self) -> None:
        if self.settings.method != "nuts":
            return
        d = self.diagnostics()
        if d.verdict != "ok":
            warnings.warn(f"convergence {d}", ConvergenceWarning, stacklevel=3)

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

    def contributions(self, by: Sequence[str] | str = ("geo", "time"), hdi_prob: float = 0.9) -> pl.DataFrame:
        """KPI decomposition into baseline, seasonality, trend, controls and channels (KPI units)."""
        by = check.some_of("by", by, contrib_mod.GROUPINGS)
        hdi_prob = check.hdi_prob(hdi_prob)
        return contrib_mod.contributions_table(self.forward, by=by, hdi_prob=hdi_prob)

    def fitted(self, hdi_prob: float = 0.9) -> pl.DataFrame:
        """geo, time, actual, mean, hdi_low, hdi_high (posterior predictive), holdout."""
        hdi_prob = check.hdi_prob(hdi_prob)
        fw = self.forward
        pred = fw.predictive(fw.expected_kpi())
        s = summarise(pred, hdi_prob)
        G, T = self.data.n_geos, self.data.n_times
        return pl.DataFrame(
            {
                "geo": np.repeat(np.array(self.data.geos), T),
                "time": np.tile(self.data.times, G),
                "actual": self.data.kpi.reshape(-1),
                "mean": s["mean"].reshape(-1),
                "hdi_low": s["hdi_low"].reshape(-1),
                "hdi_high": s["hdi_high"].reshape(-1),
                "holdout": np.zeros(G * T, dtype=bool),
            }
        ).with_columns(pl.col("time").cast(pl.Date))

    def fit_metrics(self) -> pl.DataFrame:
        """In-sample R^2 and MAPE per geo and overall ("national" row sums over geos)."""
        from geommm.analysis.metrics import accuracy_table

        mean = self.forward.expected_kpi().mean(axis=0)
        return accuracy_table(self.data.kpi, mean, self.data.geos)

    def lift_test_check(self, lift_tests=None, hdi_prob: float = 0.9) -> pl.DataFrame:
        """Each lift test's measured lift next to the model-implied lift (posterior).

        Without ``lift_tests`` it checks the tests the model was calibrated on. Pass
        tests (any source ``read_lift_tests`` accepts) to check a fit against
        experiments it has not seen, e.g. the uncalibrated fit, to compare before and
        after calibration."""
        hdi_prob = check.hdi_prob(hdi_prob)
        if lift_tests is not None:
            lt, cells = lift_tests_on_grid(lift_tests, self.panel, self.spec, self.data)
        else:
            lt, cells = self.lift_tests, self.lift_cells
        if cells is None or not cells.n_tests:
            return pl.DataFrame(
                schema={"test_id": pl.String, "channel": pl.String, "geos": pl.String,
                        "lift": pl.Float64, "lift_se": pl.Float64, "implied_mean": pl.Float64,
                        "implied_hdi_low": pl.Float64, "implied_hdi_high": pl.Float64}
            )
        draws = self.forward.draws
        lagged = self.data.lagged()
        from geommm.model import mean as mean_fn
        from geommm.model import transforms as tf

        out = []
        for d in range(self.forward.n_draws):
            p = {k: v[d] for k, v in draws.items()}
            w = mean_fn.adstock_weights(self.spec.media, p, self.data.max_lag, self.data.lag_mask)
            ad = tf.apply_adstock(lagged, w)
            out.append(implied_lift(cells, self.spec.media, p, ad, self.data.kpi_scale, self.data.lag_mask))
        s = summarise(np.array(out), hdi_prob)
        return pl.DataFrame(
            {
                "test_id": [str(x) for x in lt["test_id"]],
                "channel": lt["channel"].to_list(),
                "geos": lt["geos"].cast(pl.String).to_list(),
                "lift": lt["lift"].cast(pl.Float64).to_list(),
                "lift_se": lt["lift_se"].cast(pl.Float64).to_list(),
                "implied_mean": s["mean"],
                "implied_hdi_low": s["hdi_low"],
                "implied_hdi_high": s["hdi_high"],
            }
        )

    def adstock_decay(self, hdi_prob: float = 0.9) -> pl.DataFrame:
        """Carryover weights per lag: geo, channel, lag, weight_mean, weight_hdi_low, weight_hdi_high."""
        from geommm.model import mean as mean_fn

        hdi_prob = check.hdi_prob(hdi_prob)
        draws = self.forward.draws
        w = mean_fn.adstock_weights(self.spec.media, draws, self.data.max_lag, self.data.lag_mask)
        rows = []
        national = {**draws, "retention": _channel_center(draws["retention"])}
        wn = mean_fn.adstock_weights(self.spec.media, national, self.data.max_lag, self.data.lag_mask)
        for label, arr in [("geo", w), ("national", wn)]:
            s = summarise(arr, hdi_prob)  # (G, C, L)
            geos = self.data.geos if label == "geo" else ("national",)
            for gi, g in enumerate(geos):
                for ci, ch in enumerate(self.channels):
                    for lag in range(self.data.max_lag):
                        rows.append((g, ch, lag, s["mean"][gi, ci, lag], s["hdi_low"][gi, ci, lag], s["hdi_high"][gi, ci, lag]))
        return pl.DataFrame(rows, schema=["geo", "channel", "lag", "weight_mean", "weight_hdi_low", "weight_hdi_high"], orient="row")

    # ------------------------------------------------------------ decisions
    def response_curves(self, geo=None, channel=None, spend_grid=None, hdi_prob: float = 0.9) -> pl.DataFrame:
        """Incremental KPI vs the period's total spend (scaling observed flighting), per geo
        and national, with HDI bands."""
        from geommm.analysis.response import response_curves

        hdi_prob = check.hdi_prob(hdi_prob)
        check.numbers_list("spend_grid", spend_grid)
        return response_curves(self, geo=geo, channel=channel, spend_grid=spend_grid, hdi_prob=hdi_prob)

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
        rng = np.random.default_rng(seed)
        post = posterior_draws(self.idata, names=("roi", "retention_logit", "slope"), max_draws=draws)
        prior_draws = {
            name: self.priors.channel[name].draw(draws, rng) for name in ("roi", "retention_logit", "slope")
        }
        frames = []
        for name in ("roi", "retention_logit", "slope"):
            if name not in post:
                continue
            label = "retention" if name == "retention_logit" else name
            for source, arr in (("prior", prior_draws[name]), ("posterior", post[name])):
                if name == "retention_logit":
                    arr = 1.0 / (1.0 + np.exp(-arr))
                for ci, ch in enumerate(self.channels):
                    frames.append(pl.DataFrame({
                        "parameter": f"{label}[{ch}]", "source": source, "value": np.asarray(arr)[:, ci],
                    }))
        return pl.concat(frames) if frames else pl.DataFrame(schema={"parameter": pl.String, "source": pl.String, "value": pl.Float64})

    def report(self, path: str | Path = "geommm-report.html", allocation=None) -> Path:
        """Write the self-contained offline HTML report (charts + key tables)."""
        from geommm.analysis.allocation import Allocation
        from geommm.report import write_report

        path = check.output_file("path", path)
        if allocation is not None and not isinstance(allocation, Allocation):
            raise ArgumentError(
                f"allocation must be the result of fit.optimize_budget(...), got {allocation!r}"
            )
        return write_report(self, path, allocation=allocation)

    # ------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the fit to one netCDF file (atomically); reload with ``geommm.load_fit``."""
        path = check.output_file("path", path)
        idata = self.idata.copy()
        meta = {
            "format_version": FORMAT_VERSION,
            "spec": self.spec.to_dict(),
            "settings": self.settings.to_dict(),
            "population": self.population,
            "likelihood": self.likelihood,
            "prior_overrides": _jsonable_priors(self.prior_overrides),
            "geo_col": self.panel.geo_col,
            "time_col": self.panel.time_col,
            "source": self.panel.source,
            "lift_tests": None if self.lift_tests is None else self.lift_tests.drop("geo_list", strict=False).write_json(),
        }
        panel_ds = _panel_dataset(self)
        panel_ds.attrs["geommm_meta"] = json.dumps(meta)
        if "geommm_panel" in idata.groups():
            del idata["geommm_panel"]
        idata.add_groups({"geommm_panel": panel_ds})
        with atomic_path(path) as tmp:
            idata.to_netcdf(str(tmp), engine="h5netcdf")
        return path

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"Fit({self.spec.formula!r}; {s.method}/{s.sampler} {s.chains}x{s.draws}; "
            f"compile {s.compile_seconds:.1f}s, sampling {s.sampling_seconds:.1f}s)"
        )


def _extreme(ds: xr.Dataset, fn) -> float:
    vals = [np.asarray(v.values, dtype=float).ravel() for v in ds.data_vars.values()]
    vals = np.concatenate(vals) if vals else np.array([np.nan])
    return float(fn(vals)) if np.isfinite(vals).any() else float("nan")


def _channel_center(retention: np.ndarray) -> np.ndarray:
    """National (typical) retention per draw: inverse-logit of the geo-mean logit."""
    logit = np.log(retention) - np.log1p(-retention)
    m = logit.mean(axis=-2, keepdims=True)
    return 1.0 / (1.0 + np.exp(-m))


def _panel_columns(fit: Fit) -> list[str]:
    import formulae as fm

    names = set(fm.model_description(fit.spec.formula).var_names) - {"", fit.panel.geo_col}
    names |= {m.input for m in fit.spec.media} | {m.spend for m in fit.spec.media}
    if fit.population:
        names.add(fit.population)
    return sorted(n for n in names if n in fit.panel.columns and n != fit.panel.time_col)


def _panel_dataset(fit: Fit) -> xr.Dataset:
    frame = fit.panel.frame
    G, T = fit.panel.n_geos, fit.panel.n_times
    data_vars = {}
    for col in _panel_columns(fit):
        s = frame[col]
        vals = s.to_numpy() if s.dtype.is_numeric() else np.array(s.cast(pl.String).to_list(), dtype=object).astype(str)
        data_vars[col] = (("geo", "time"), vals.reshape(G, T))
    return xr.Dataset(data_vars, coords={"geo": list(fit.panel.geos), "time": fit.panel.times})


def _jsonable_priors(overrides: dict) -> dict:
    from geommm.model.priors import Prior

    def conv(v):
        if isinstance(v, Prior):
            return {"dist": v.dist, **{k: np.asarray(x).tolist() for k, x in v.params.items()}}
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, (tuple, list)):
            return list(v)
        return v

    return {k: conv(v) for k, v in overrides.items()}


def load_fit(path: str | Path) -> Fit:
    """Read a fit written by :meth:`Fit.save` (no refitting)."""
    from geommm.data import read_lift_tests, read_panel

    path = Path(path)
    if not path.exists():
        raise FitError(f"no saved fit at {path}")
    try:
        idata = az.from_netcdf(str(path), engine="h5netcdf")
        panel_ds = idata["geommm_panel"]
        meta = json.loads(panel_ds.attrs["geommm_meta"])
    except Exception as exc:
        raise FitError(
            f"{path} is not a readable geommm fit ({type(exc).__name__}: {exc}); "
            "it may be corrupted or written by another tool — refit and save again"
        ) from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise FitError(f"{path}: saved with format {meta.get('format_version')}, this geommm reads {FORMAT_VERSION}")
    geo_col, time_col = meta["geo_col"], meta["time_col"]
    ds = panel_ds.load() if hasattr(panel_ds, "load") else panel_ds
    geos = [str(g) for g in ds["geo"].values]
    times = np.asarray(ds["time"].values).astype("datetime64[D]")
    cols = {geo_col: np.repeat(geos, len(times)), time_col: np.tile(times, len(geos))}
    for name in ds.data_vars:
        cols[name] = np.asarray(ds[name].values).reshape(-1)
    frame = pl.DataFrame(cols).with_columns(pl.col(time_col).cast(pl.Date))
    panel = read_panel(frame, geo=geo_col, time=time_col)
    spec = ModelSpec.from_dict(meta["spec"])
    settings = SamplerSettings(**meta["settings"])
    data = build_model_data(spec, panel, population=meta.get("population"))
    from geommm.model.priors import DEFAULT_MEDIA_SHARE

    default_roi = DEFAULT_MEDIA_SHARE * float(data.kpi.sum()) / float(data.spend.sum())
    priors = resolve_priors(meta.get("prior_overrides"), list(spec.channels), default_roi)
    lifts = None
    if meta.get("lift_tests"):
        lifts = read_lift_tests(pl.read_json(meta["lift_tests"].encode()))
    del idata["geommm_panel"]
    return Fit(
        idata=idata, spec=spec, panel=panel, settings=settings, priors=priors,
        prior_overrides=meta.get("prior_overrides"), population=meta.get("population"),
        likelihood=meta.get("likelihood", "normal"), lift_tests=lifts, data=data,
    )
