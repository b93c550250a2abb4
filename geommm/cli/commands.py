"""What each ``geommm`` sub-command does (except ``demo``, in :mod:`geommm.cli.demo`).

Heavy modules (PyMC, the model) are imported inside the functions so the
parser stays quick; every user mistake surfaces as a ``GeoMMMError`` or
:class:`~geommm.cli.console.UserError` that ``main`` prints on one line.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import warnings
from pathlib import Path
from typing import Any

from geommm.cli.console import UserError, note, out, show_table, step
from geommm.cli.outputs import (
    allocation_file,
    prepare_dir,
    prepare_file,
    remove_results,
    save_fit,
    try_report,
    write_csv,
    write_report,
    write_tables,
)

FIT_FILE = "fit.nc"


# --- validate ---------------------------------------------------------------------------


def validate(args: argparse.Namespace) -> int:
    """Read the panel with the given roles; print its summary or the first problem."""
    import geommm as gm

    panel = gm.read_panel(
        args.panel,
        geo=args.geo,
        time=args.time,
        kpi=args.kpi,
        media=args.media,
        spend=args.spend,
        controls=args.controls,
        population=args.population,
        date_format=args.date_format,
    )
    from geommm.data.suspicious import warn_suspicious

    warn_suspicious(panel, args.kpi, spend={c: c for c in args.spend or ()})
    out(f"{args.panel}: OK")
    out(panel.summary())
    out(f"geos: {', '.join(panel.geos)}")
    if args.lift_tests is not None:
        from geommm.data.lift_tests import check_lift_tests

        lifts = gm.read_lift_tests(args.lift_tests)
        check_lift_tests(args.lift_tests, panel)  # geos, weeks; channels need the formula
        channels = sorted(set(lifts["channel"].to_list()))
        out(
            f"{args.lift_tests}: OK, {lifts.height} lift test(s) on {', '.join(channels)}, "
            "in the panel's geos and weeks (channels and spend are checked by `geommm fit`)"
        )
    return 0


# --- simulate ---------------------------------------------------------------------------


def simulate(args: argparse.Namespace) -> int:
    """Simulate a panel with known truth into ``--out`` and print how to fit it."""
    from geommm.sim import simulate as run_simulation

    folder = prepare_dir(args.out, args.overwrite)
    with step(f"simulating {args.geos} geos x {args.weeks} weeks x {args.channels} channels"):
        result = run_simulation(
            args.geos,
            args.weeks,
            args.channels,
            args.seed,
            collinear="strict" if args.strict_collinear else not args.no_collinear,
            n_lift_tests=args.lift_tests,
        )
        result.save(folder)
    for path in sorted(folder.iterdir()):
        out(str(path))
    out()
    out(f"formula: {result.formula}")
    lifts = f" --lift-tests {folder / 'lift_tests.csv'}" if result.lift_tests.height else ""
    out(
        f"fit it:  geommm fit --data {folder / 'panel.parquet'} --geo geo --time week{lifts} "
        f'--formula "{result.formula}" --out {folder}-fit'
    )
    return 0


# --- fit --------------------------------------------------------------------------------


def fit(args: argparse.Namespace) -> int:
    """Fit a model from flags and/or a TOML config; write every result into ``--out``."""
    from geommm.config import FitConfig, load_config

    config = load_config(args.config) if args.config is not None else FitConfig()
    config = config.merged(
        panel=args.data,
        formula=args.formula,
        geo=args.geo,
        time=args.time,
        population=args.population,
        date_format=args.date_format,
        lift_tests=args.lift_tests,
        likelihood=args.likelihood,
        out=args.out,
        overwrite=args.overwrite,
        method=args.method,
        sampler=args.sampler,
        draws=args.draws,
        tune=args.tune,
        chains=args.chains,
        seed=args.seed,
        target_accept=args.target_accept,
        mass_matrix=args.mass_matrix,
    )
    for value, what in (
        (config.panel, "--data PANEL (or [data] panel)"),
        (config.formula, "--formula TEXT (or [model] formula)"),
        (config.out, "--out DIR (or [output] dir)"),
    ):
        if value is None:
            raise UserError(f"missing {what}; see `geommm fit --help`")
    folder = prepare_dir(config.out, bool(config.overwrite))

    import geommm as gm

    with step(f"reading {config.panel}"):
        panel = gm.read_panel(
            config.panel,
            geo=config.geo or "geo",
            time=config.time or "time",
            population=config.population,
            date_format=config.date_format,
        )
        lifts = gm.read_lift_tests(config.lift_tests) if config.lift_tests is not None else None
    note(f"  {panel.summary()}")
    with step("building the model"):
        model = gm.GeoMMM(
            config.formula,
            panel,
            lift_tests=lifts,
            population=config.population,
            priors=config.priors or None,
            likelihood=config.likelihood or "normal",
        )
    note(f"  {model!r}")
    result = run_fit(model, config.fit)
    with step("computing ROI"):
        tables = {
            "roi_channel.csv": result.roi(by="channel"),
            "marginal_roi_channel.csv": result.marginal_roi(by="channel"),
        }
    written, problems = write_results(result, folder, tables)
    show_diagnostics(result)
    show_table(tables["roi_channel.csv"], "National ROI (KPI per unit of spend, 90% HDI):")
    show_table(
        tables["marginal_roi_channel.csv"],
        "National marginal ROI (return on the next unit of spend):",
    )
    show_written(folder, written)
    return finish(problems)


def fit_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``GeoMMM.fit`` defaults overlaid with the given settings (so messages show real values)."""
    from geommm import GeoMMM
    from geommm.config import FIT_KEYS

    params = inspect.signature(GeoMMM.fit).parameters
    defaults = {k: params[k].default for k in FIT_KEYS if k in params}
    return {**defaults, **settings}


def run_fit(model: Any, settings: dict[str, Any]) -> Any:
    """Fit with progress on stderr; the convergence verdict is printed later, not warned."""
    from geommm.errors import ConvergenceWarning

    s = fit_settings(settings)
    if s["method"] == "nuts":
        chains = f"{s['chains']} chains x ({s['tune']} warm-up + {s['draws']} draws)"
        what = f"NUTS ({s['sampler']}), {chains}"
    else:
        what = s["method"].upper() + " (approximation)"
    label = f"fitting: {what}; compiling first, this can take a few minutes"
    with step(label), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = model.fit(**s, progressbar=sys.stderr.isatty())
    st = getattr(result, "settings", None)
    if st is not None and st.compile_seconds > 0:
        note(f"  compile {st.compile_seconds:.1f} s, sampling {st.sampling_seconds:.1f} s")
    return result


def write_results(
    result: Any, folder: Path, tables: dict[str, Any] | None = None, allocation: Any = None
) -> tuple[list[Path], list[str]]:
    """fit.nc, the CSV tables, diagnostics.json and report.html.

    Result files of an earlier run are removed first (only geommm's own names), so
    the folder never mixes two fits, even if writing stops half way.
    Returns the files written and the outputs that failed (already warned about).
    """
    problems: list[str] = []
    with step(f"writing results to {folder}"):
        remove_results(folder)
        written = [save_fit(result, folder / FIT_FILE)]
        written += write_tables(result, folder, tables, problems)
        if allocation is not None:
            target = folder / allocation_file("channel")
            written.append(write_csv(allocation.table, target))
    with step("writing the HTML report"):
        report = try_report(
            result, folder / "report.html", allocation=allocation, problems=problems
        )
    if report is not None:
        written.append(report)
    return written, problems


def finish(problems: list[str]) -> int:
    """Exit code of a run whose main result is saved: 1 if any other output failed."""
    if not problems:
        return 0
    raise UserError(f"the fit is saved but {len(problems)} output(s) failed: {'; '.join(problems)}")


def show_diagnostics(result: Any) -> None:
    out("Diagnostics:")
    out(str(result.diagnostics()))
    out()


def show_written(folder: Path, written: list[Path]) -> None:
    out(f"Results in {folder}:")
    for path in written:
        out(f"  {path}")
    report = folder / "report.html"
    if report in written:
        out(f"Report: {report.resolve()}")


# --- report / optimize ------------------------------------------------------------------


def saved_fit_path(location: Path) -> Path:
    """The saved fit in ``DIR`` (its fit.nc) or the .nc file itself; it must exist."""
    path = location / FIT_FILE if location.is_dir() else location
    if not path.is_file():
        raise UserError(
            f"no saved fit at {path}; run `geommm fit ... --out {location}` "
            "(or `geommm demo`) first"
        )
    return path


def load_saved_fit(location: Path) -> Any:
    """A saved fit from ``DIR`` (its fit.nc) or from the .nc file itself."""
    import geommm as gm

    path = saved_fit_path(location)
    with step(f"loading {path}"):
        return gm.load_fit(path)


def report(args: argparse.Namespace) -> int:
    """Write the HTML report of a saved fit."""
    saved_fit_path(args.dir)
    folder = args.dir if args.dir.is_dir() else args.dir.parent
    own = folder / "report.html"
    target = prepare_file(args.out if args.out is not None else own, args.overwrite, own)
    result = load_saved_fit(args.dir)
    with step(f"writing {target}"):
        written = write_report(result, target)
    if written is None:
        raise UserError("the HTML report is not available in this version of geommm")
    out(f"Report: {written.resolve()}")
    return 0


def optimize(args: argparse.Namespace) -> int:
    """Optimise the budget allocation of a saved fit; print and write the table."""
    saved_fit_path(args.dir)
    folder = args.dir if args.dir.is_dir() else args.dir.parent
    own = folder / allocation_file(args.by)
    target = prepare_file(args.out if args.out is not None else own, args.overwrite, own)
    result = load_saved_fit(args.dir)
    optimizer = getattr(result, "optimize_budget", None)
    if optimizer is None:
        raise UserError(
            "budget optimisation (fit.optimize_budget) is not available in this version of geommm"
        )
    options: dict[str, Any] = {"by": args.by}
    if args.budget is not None:
        options["budget"] = args.budget
    if args.bounds is not None:
        options["bounds"] = args.bounds
    amount = "the current budget" if args.budget is None else f"a budget of {args.budget:,.0f}"
    with step(f"optimising {amount} by {args.by}"):
        allocation = optimizer(**options)
    show_any(getattr(allocation, "summary", None), "Summary:")
    show_any(allocation.table, f"Allocation by {args.by}:")
    write_csv(allocation.table, target)
    out(f"Allocation: {target}")
    return 0


def show_any(value: Any, title: str) -> None:
    """Print a table, a mapping or text, whichever the library returned."""
    import polars as pl

    if value is None:
        return
    if callable(value):
        value = value()
    if isinstance(value, pl.DataFrame):
        show_table(value, title)
        return
    out(title)
    if isinstance(value, dict):
        for key, item in value.items():
            out(f"  {key}: {_number(item)}")
    else:
        out(str(value))
    out()


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)
