"""Experiment tracking with MLflow: a fit's settings, diagnostics, ROI and files in one run.

    import geommm.mlflow
    geommm.mlflow.log_fit(fit, run_name="weekly refresh")  # one fit, one run
    geommm.mlflow.autolog()                                 # every GeoMMM.fit from now on

What a run holds:

- params: the formula, likelihood, prior overrides, sampler settings and the panel's
  shape (geos, weeks, channels, first and last week);
- metrics: convergence (divergences, max R-hat, min bulk/tail ESS), in-sample R^2 and
  MAPE (national), seconds spent, and per channel the national ROI mean and 90% interval
  (``roi_mean.tv``, ``roi_hdi_low.tv``, ``roi_hdi_high.tv``);
- artefacts: the saved fit (``fit/fit.nc``, read back with :func:`geommm.load_fit`), ROI,
  fit-metric and prior tables as CSV (``tables/``), the spec as JSON, and with
  ``report=True`` the HTML report;
- the run's description leads with the answer: each channel's ROI and its interval.

MLflow is optional: ``pip install 'geommm[mlflow]'`` (``mlflow-skinny``, enough for a
tracking server or a local store; the full ``mlflow`` package works the same).
"""

from __future__ import annotations

import json
import math
import re
import tempfile
from pathlib import Path
from typing import Any

from geommm import _hooks
from geommm._version import __version__
from geommm.errors import ArgumentError, OptionalDependencyError

__all__ = ["log_fit", "autolog", "fit_params", "fit_metrics"]

#: MLflow's longest parameter value; longer texts are cut here and kept whole in spec.json.
MAX_PARAM_CHARS = 6000
_HOOK = "mlflow"


def _mlflow():
    try:
        import mlflow
    except ImportError:
        raise OptionalDependencyError(
            "geommm.mlflow needs MLflow, which is not installed: pip install 'geommm[mlflow]' "
            "(or pip install mlflow)"
        ) from None
    return mlflow


def _name(text: str) -> str:
    """A metric-name-safe version of a channel name (MLflow allows letters, digits, _-. /:)."""
    return re.sub(r"[^A-Za-z0-9_\-. /:]", "_", str(text))


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_PARAM_CHARS else text[: MAX_PARAM_CHARS - 3] + "..."


def fit_params(fit) -> dict[str, str]:
    """The run's parameters: what was fitted and how."""
    from geommm.store import _jsonable_priors

    s, d = fit.settings, fit.data
    params: dict[str, Any] = {
        "formula": fit.spec.formula,
        "likelihood": fit.likelihood,
        "population": fit.population or "",
        "prior_overrides": _jsonable_priors(fit.prior_overrides),
        "method": s.method,
        "sampler": s.sampler if s.method == "nuts" else "",
        "draws": s.draws, "tune": s.tune, "chains": s.chains, "seed": s.seed,
        "target_accept": s.target_accept,
        "max_treedepth": s.max_treedepth, "backend": s.backend, "mass_matrix": s.mass_matrix,
        "precision": s.precision,
        "n_geos": d.n_geos, "n_weeks": d.n_times, "n_channels": d.n_channels,
        "channels": ",".join(d.channels),
        "controls": ",".join(d.control_names),
        "first_week": str(d.times[0]), "last_week": str(d.times[-1]),
        "n_lift_tests": 0 if fit.lift_tests is None else fit.lift_tests.height,
        "geommm_version": __version__,
        "fit_id": fit.fit_id,
    }
    return {k: _text(v) for k, v in params.items()}


def fit_metrics(fit, hdi_prob: float = 0.9) -> dict[str, float]:
    """The run's metrics: convergence, accuracy, time, national ROI per channel."""
    diag = fit.diagnostics()
    out: dict[str, float] = {
        "divergences": diag.divergences, "max_r_hat": diag.max_r_hat,
        "min_ess_bulk": diag.min_ess_bulk, "min_ess_tail": diag.min_ess_tail,
        "compile_seconds": fit.settings.compile_seconds,
        "sampling_seconds": fit.settings.sampling_seconds,
    }
    acc = fit.fit_metrics()
    national = acc.filter(acc["geo"] == "national")
    if national.height:
        out["r2"] = national["r2"][0]
        out["mape"] = national["mape"][0]
    for row in fit.roi(by="channel", hdi_prob=hdi_prob).iter_rows(named=True):
        ch = _name(row["channel"])
        for key in ("roi_mean", "roi_hdi_low", "roi_hdi_high", "spend"):
            out[f"{key}.{ch}"] = row[key]
    # MAP has no R-hat or ESS: leave out what is not a number rather than log NaN
    return {k: float(v) for k, v in out.items() if v is not None and math.isfinite(float(v))}


def _headline(fit, hdi_prob: float = 0.9) -> str:
    """The run's description: each channel's ROI with its interval, then convergence."""
    lines = [f"National ROI ({int(round(hdi_prob * 100))}% interval) per channel:"]
    for row in fit.roi(by="channel", hdi_prob=hdi_prob).iter_rows(named=True):
        lines.append(
            f"- {row['channel']}: {row['roi_mean']:.2f} ({row['roi_hdi_low']:.2f} to "
            f"{row['roi_hdi_high']:.2f}) KPI per unit of spend"
        )
    lines.append(f"Convergence: {fit.diagnostics()}".splitlines()[0])
    return "\n".join(lines)


def _write_artifacts(fit, folder: Path, report: bool) -> None:
    fit.save(folder / "fit" / "fit.nc")
    tables = folder / "tables"
    tables.mkdir()
    fit.roi(by="channel").write_csv(tables / "roi_national.csv")
    fit.roi(by="geo").write_csv(tables / "roi_geo.csv")
    fit.fit_metrics().write_csv(tables / "fit_metrics.csv")
    fit.priors.table(adstocks=[m.adstock for m in fit.spec.media], synergy=bool(fit.spec.synergy),
                     reach_frequency=any(m.frequency is not None for m in fit.spec.media)).write_csv(
        tables / "priors.csv")
    spec = {"spec": fit.spec.to_dict(), "settings": fit.settings.to_dict(), "fit_id": fit.fit_id}
    (folder / "spec.json").write_text(json.dumps(spec, indent=2, default=str))
    if report:
        (folder / "report").mkdir()
        fit.report(folder / "report" / "report.html")


def log_fit(
    fit, run_name: str | None = None, *, artifacts: bool = True, report: bool = False,
    tags: dict[str, str] | None = None, experiment: str | None = None, nested: bool = False,
) -> str:
    """Log ``fit`` to MLflow and return the run id.

    Logs into the active run when there is one (``nested=True``: into a new child run of
    it), else starts and ends a run named ``run_name`` in ``experiment`` (default: MLflow's
    current one). ``artifacts=False`` logs params and metrics only; ``report=True`` adds
    the HTML report (slower). A run this call started is marked FAILED if logging fails."""
    mlflow = _mlflow()
    if tags is not None and not isinstance(tags, dict):
        raise ArgumentError(f"tags must be a dict of text, got {tags!r}")
    if experiment is not None:
        mlflow.set_experiment(experiment)
    active = mlflow.active_run()
    own = active is None or nested
    run = mlflow.start_run(run_name=run_name, nested=active is not None) if own else active
    try:
        mlflow.log_params(fit_params(fit))
        mlflow.log_metrics(fit_metrics(fit))
        mlflow.set_tags({
            "geommm.fit_id": fit.fit_id, "geommm.verdict": fit.diagnostics().verdict,
            "mlflow.note.content": _headline(fit), **(tags or {}),
        })
        if artifacts:
            with tempfile.TemporaryDirectory(prefix="geommm-mlflow-") as tmp:
                _write_artifacts(fit, Path(tmp), report)
                mlflow.log_artifacts(tmp)
    except BaseException:
        if own:
            mlflow.end_run(status="FAILED")
        raise
    if own:
        mlflow.end_run()
    return run.info.run_id


def autolog(
    enable: bool = True, *, run_name: str | None = None, artifacts: bool = True,
    report: bool = False,
) -> None:
    """Log every later :meth:`GeoMMM.fit` with :func:`log_fit` (``enable=False`` stops).

    Each fit gets its own run (a child run when one is active, so several fits inside one
    ``mlflow.start_run()`` do not overwrite each other's parameters). A logging failure
    (e.g. the tracking server is down) warns; the fit is still returned."""
    if not enable:
        _hooks.AFTER_FIT.pop(_HOOK, None)
        return
    _mlflow()  # fail now, not after the first fit
    _hooks.AFTER_FIT[_HOOK] = lambda fit: log_fit(
        fit, run_name=run_name, artifacts=artifacts, report=report, nested=True
    )
