"""``geommm fit-many``: a grid of fits from a TOML job file, run on Dask."""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path
from typing import Any

from geommm.cli.console import DEFAULT_GEO, DEFAULT_TIME, UserError
from geommm.cli.outputs import prepare_dir, remove_results, write_csv
from geommm.cli.argtypes import _count

JOB_KEYS = {"name", "formula", "data", "geo", "time", "lift_tests", "priors", "population", "fit", "weeks"}
PATH_KEYS = ("data", "lift_tests")


def add_parser(subs, command) -> None:
    p = command(
        subs,
        "fit-many",
        "Run many fits (brands, KPIs, prior variants, time slices) on Dask.",
        "JOBS is a TOML file: a [defaults] table with any job key, then one [[jobs]] table per\n"
        "fit with a unique name. Job keys: name, formula, data, geo, time, lift_tests, priors,\n"
        "population, weeks = [start, end], fit = {method, draws, tune, chains, sampler, seed}.\n"
        "Paths are relative to the TOML file. Writes roi_channel.csv, roi_geo.csv and\n"
        "status.csv (one row per job, with the error of any job that failed). Each job's\n"
        "result is also written to DIR/fits/ the moment it finishes: rerun the same command\n"
        "on the same --out after a crash or kill and the finished jobs are not refitted\n"
        "(one line says so for each); --refit fits them all again.",
        "geommm fit-many jobs.toml --out results --workers 2",
    )
    p.add_argument("jobs", type=Path, metavar="JOBS", help="TOML job file")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler (default: a LocalCluster)")
    p.add_argument("--workers", type=_count(0), default=2, metavar="N",
                   help="LocalCluster worker processes, one fit each at a time (default 2); "
                        "0 runs the fits one by one in this process, without Dask")
    p.add_argument("--refit", action="store_true",
                   help="refit jobs that finished in an earlier run into the same --out")
    p.add_argument("--overwrite", action="store_true", help="replace files in a non-empty --out")


def load_jobs(path: Path) -> list[Any]:
    from geommm.errors import GeoMMMError
    from geommm.workflows.batch import FitJob, check_jobs

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"job file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    unknown_top = sorted(set(raw) - {"defaults", "jobs"})
    if unknown_top:
        raise UserError(f"{path}: unknown table(s) {unknown_top}; use [defaults] and [[jobs]]")
    defaults = raw.get("defaults", {})
    entries = raw.get("jobs", [])
    if not entries:
        raise UserError(f"{path}: no [[jobs]] tables")
    jobs = []
    if not isinstance(defaults, dict) or not isinstance(entries, list) or not all(
        isinstance(e, dict) for e in entries
    ):
        raise UserError(f"{path}: use one [defaults] table and [[jobs]] tables (arrays of tables)")
    for i, entry in enumerate(entries):
        fits = [t.get("fit", {}) for t in (defaults, entry)]
        if not all(isinstance(f, dict) for f in fits):
            raise UserError(
                f"{path}: job {i + 1}: 'fit' must be a table, e.g. fit = {{ draws = 500 }}"
            )
        spec = {"geo": DEFAULT_GEO, "time": DEFAULT_TIME, **defaults, **entry}
        spec["fit"] = {**fits[0], **fits[1]}
        unknown = sorted(set(spec) - JOB_KEYS)
        if unknown:
            raise UserError(f"{path}: job {i + 1} has unknown key(s) {unknown}; known: {sorted(JOB_KEYS)}")
        missing = [k for k in ("name", "formula", "data") if k not in spec]
        if missing:
            raise UserError(f"{path}: job {i + 1} lacks {missing}")
        for key in PATH_KEYS:
            if isinstance(spec.get(key), str):
                spec[key] = str((path.parent / spec[key]).resolve())
        if "weeks" in spec:
            if not isinstance(spec["weeks"], list):
                raise UserError(f"{path}: job {i + 1}: weeks must be [start, end]")
            spec["weeks"] = tuple(spec["weeks"])
        jobs.append(FitJob(**spec))
    try:
        check_jobs(jobs)
    except GeoMMMError as exc:
        raise UserError(f"{path}: {exc}") from None
    return jobs


def fit_many(args: argparse.Namespace) -> int:
    from geommm.workflows.batch import run_fits

    from geommm.workflows.batch_store import FOLDER

    jobs = load_jobs(args.jobs)
    resuming = (args.out / FOLDER).is_dir()  # an earlier fit-many run: carry on from it
    out = prepare_dir(args.out, args.overwrite or resuming)
    result = run_fits(jobs, scheduler=args.scheduler, n_workers=args.workers, out=out,
                      refit=args.refit, log=print)
    tables = {
        "roi_channel.csv": result.roi, "roi_geo.csv": result.roi_geo, "status.csv": result.status
    }
    remove_results(out, tables)  # an earlier run's tables never sit beside this run's
    for name, table in tables.items():
        if table.height:
            write_csv(table, out / name)
    print(result.status.select("job", "ok", "resumed", "verdict", "seconds", "error"))
    return 0 if result.failed.height == 0 else 1
