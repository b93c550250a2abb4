"""Many fits at once on Dask: per brand or KPI, prior-sensitivity variants, CV folds.

Each job is a self-contained description (formula, data, priors, fit settings),
sent to a Dask worker process; results come back as one Polars table with a
``job`` column. A failed job is reported in the status table with its error,
never lost and never fatal to the others. With an output folder each result is
written as it finishes (:mod:`~geommm.workflows.batch_store`) and a rerun skips the
jobs already done. One fit runs per worker process at a time (``threads_per_worker=1``),
so a worker's memory is that of one fit; ``n_workers=0`` runs the jobs one by one in
this process, without Dask.
"""

from __future__ import annotations

import gc
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from geommm.errors import ArgumentError, GeoMMMError

STATUS_SCHEMA = {
    "job": pl.String, "ok": pl.Boolean, "error": pl.String, "seconds": pl.Float64,
    "verdict": pl.String, "divergences": pl.Int64, "max_r_hat": pl.Float64, "min_ess_bulk": pl.Float64,
    "resumed": pl.Boolean,  # True: loaded from an earlier run's output folder, not refitted
}


@dataclass(frozen=True)
class FitJob:
    """One model fit: the same arguments as ``GeoMMM(...)`` and ``.fit(...)``."""

    name: str
    formula: str
    data: Any  # path (CSV/Parquet) or a Polars/pandas DataFrame
    geo: str = "geo"
    time: str = "time"
    lift_tests: Any = None
    priors: Mapping[str, Any] | None = None
    population: str | None = None
    fit: Mapping[str, Any] = field(default_factory=dict)
    weeks: tuple[str | None, str | None] | None = None  # (start, end) to fit a time slice


@dataclass
class BatchResult:
    """ROI tables of all successful jobs and a status row per job."""

    roi: pl.DataFrame
    roi_geo: pl.DataFrame
    status: pl.DataFrame

    @property
    def failed(self) -> pl.DataFrame:
        return self.status.filter(~pl.col("ok"))


def prior_variants(base: FitJob, variants: Mapping[str, Mapping[str, Any]]) -> list[FitJob]:
    """One job per prior variant (merged over the base job's priors): prior sensitivity."""
    return [replace(base, name=f"{base.name}/{name}", priors={**(base.priors or {}), **p}) for name, p in variants.items()]


def time_slices(base: FitJob, ends: Sequence[str]) -> list[FitJob]:
    """One job per end week (expanding window from the first week): stability over time."""
    return [replace(base, name=f"{base.name}/to-{end}", weeks=(None, end)) for end in ends]


def check_jobs(jobs: Sequence[FitJob]) -> None:
    """Refuse what would fail every time, before any worker starts: duplicate names, a
    ``fit`` table with unknown settings, a ``weeks`` that is not (start, end)."""
    import inspect

    from geommm.mmm import GeoMMM

    names = [j.name for j in jobs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ArgumentError(f"job names must be unique; repeated: {dupes}")
    known = sorted(set(inspect.signature(GeoMMM.fit).parameters) - {"self"})
    for job in jobs:
        if not isinstance(job.fit, Mapping):
            raise ArgumentError(f"job {job.name!r}: fit must be a table of settings, got {job.fit!r}")
        unknown = sorted(set(job.fit) - set(known))
        if unknown:
            raise ArgumentError(
                f"job {job.name!r}: unknown fit setting(s) {unknown}; known: {known}"
            )
        if job.weeks is not None and (isinstance(job.weeks, str) or len(job.weeks) != 2):
            raise ArgumentError(
                f"job {job.name!r}: weeks must be [start, end] (either may be empty), "
                f"got {job.weeks!r}"
            )


def run_job(job: FitJob) -> dict[str, Any]:
    """Fit one job and return plain tables (runs on a worker; never raises)."""
    import warnings

    from geommm.data import read_panel
    from geommm.mmm import GeoMMM

    start = time.perf_counter()
    out: dict[str, Any] = {"job": job.name, "ok": False, "error": None}
    fit = model = None
    try:
        panel = read_panel(job.data, geo=job.geo, time=job.time)
        if job.weeks is not None:
            panel = panel.select_times(*job.weeks)
        model = GeoMMM(job.formula, data=panel, lift_tests=job.lift_tests, priors=job.priors,
                       population=job.population)
        settings = {"progressbar": False, **dict(job.fit)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = model.fit(**settings)
        d = fit.diagnostics()
        out.update(
            ok=True, roi=fit.roi(by="channel"), roi_geo=fit.roi(by="geo"), verdict=d.verdict,
            divergences=d.divergences, max_r_hat=d.max_r_hat, min_ess_bulk=d.min_ess_bulk,
        )
    except GeoMMMError as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # report, do not lose, unexpected failures
        out["error"] = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    finally:
        fit = model = None  # noqa: F841  (the fit's arrays go before the next job starts)
        gc.collect()
    out["seconds"] = time.perf_counter() - start
    out["resumed"] = False
    return out


def run_fits(
    jobs: Iterable[FitJob],
    *,
    scheduler: str | None = None,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    out: str | Path | None = None,
    refit: bool = False,
    log: Callable[[str], None] | None = None,
) -> BatchResult:
    """Run ``jobs`` on Dask: a LocalCluster of ``n_workers`` processes by default, or the
    cluster at ``scheduler`` (e.g. "tcp://10.0.0.5:8786"); ``n_workers=0`` runs them here,
    one after another. Returns every result.

    ``out``: a folder where each job's result is written the moment it finishes; jobs
    that finished ok there before (same definition) are loaded, not refitted, unless
    ``refit``. ``log`` gets one line per skipped job (default: printed to stderr).
    """
    from geommm.workflows import batch_store

    jobs = list(jobs)
    check_jobs(jobs)
    for name, value, low in (("n_workers", n_workers, 0), ("threads_per_worker", threads_per_worker, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ArgumentError(f"{name} must be a whole number >= {low}, got {value!r}")
    log = log or (lambda line: print(line, file=sys.stderr))
    names = [j.name for j in jobs]
    results: list[dict[str, Any]] = []
    todo = []
    for job in jobs:
        done = None if out is None or refit else batch_store.load_done(Path(out), job)
        if done is None:
            todo.append(job)
        else:
            results.append(done)
            log(f"{job.name}: finished in an earlier run ({batch_store.job_dir(Path(out), job.name)}); not refitted")

    def record(job: FitJob, result: dict[str, Any]) -> None:
        if out is not None:
            batch_store.save_result(Path(out), job, result, STATUS_SCHEMA)
        results.append(result)

    if todo and n_workers == 0 and scheduler is None:
        for job in todo:
            record(job, run_job(job))
    elif todo:
        _run_on_dask(todo, scheduler, n_workers, threads_per_worker, record)
    return _collect(results, names)


def _run_on_dask(jobs: list[FitJob], scheduler, n_workers: int, threads_per_worker: int, record) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise GeoMMMError("geommm.workflows.batch needs Dask: pip install 'geommm[dask]'") from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=max(n_workers, 1), threads_per_worker=threads_per_worker,
                               processes=True, dashboard_address=None)
    client = Client(cluster if cluster is not None else scheduler)
    try:
        futures = client.map(run_job, jobs, pure=False, key=[f"geommm-{j.name}" for j in jobs])
        by_key = dict(zip([f.key for f in futures], jobs))
        for future in as_completed(futures):
            job = by_key[future.key]
            try:
                result = future.result()
            except Exception as exc:  # a worker died: the job is reported, not lost
                result = {"job": job.name, "ok": False, "resumed": False,
                          "error": f"worker failed: {type(exc).__name__}: {exc}", "seconds": float("nan")}
            record(job, result)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _collect(results: list[dict[str, Any]], order: list[str]) -> BatchResult:
    results.sort(key=lambda r: order.index(r["job"]))
    status = pl.DataFrame(
        [{k: r.get(k) for k in STATUS_SCHEMA} for r in results], schema=STATUS_SCHEMA, orient="row"
    )
    ok = [r for r in results if r["ok"]]
    roi = pl.concat([r["roi"].with_columns(pl.lit(r["job"]).alias("job")) for r in ok]) if ok else pl.DataFrame()
    roi_geo = pl.concat([r["roi_geo"].with_columns(pl.lit(r["job"]).alias("job")) for r in ok]) if ok else pl.DataFrame()
    if ok:
        roi = roi.select("job", *[c for c in roi.columns if c != "job"])
        roi_geo = roi_geo.select("job", *[c for c in roi_geo.columns if c != "job"])
    return BatchResult(roi=roi, roi_geo=roi_geo, status=status)
