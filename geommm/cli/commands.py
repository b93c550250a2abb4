"""What each ``geommm`` sub-command does (except ``demo``, in :mod:`geommm.cli.demo`).

Heavy modules (PyMC, the model) are imported inside the functions so the
parser stays quick; every user mistake surfaces as a ``GeoMMMError`` or
:class:`~geommm.cli.console.UserError` that ``main`` prints on one line.
"""

from __future__ import annotations

import argparse
import inspect
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geommm.cli.console import DEFAULT_GEO, DEFAULT_TIME, UserError, note, out, show_table, step
from geommm.cli.lifts import read_lift_tests
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

if TYPE_CHECKING:
    from geommm import GeoMMM
    from geommm.analysis.optimize import Allocation
    from geommm.fit import Fit

FIT_FILE = "fit.nc"


# --- validate ---------------------------------------------------------------------------


def validate(args: argparse.Namespace) -> int:
    """Read the panel with the given roles; print its summary or the first problem; with
    ``--formula``, the pre-flight findings (exit 1 when one blocks the fit)."""
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
    lifts = None
    if args.lift_tests is not None:
        from geommm.data.lift_tests import check_lift_tests

        lifts = read_lift_tests(args.lift_tests)
        check_lift_tests(lifts, panel, name=str(args.lift_tests))  # geos, weeks; channels need the formula
        channels = sorted(set(lifts["channel"].to_list()))
        out(
            f"{args.lift_tests}: OK, {lifts.height} lift test(s) on {', '.join(channels)}, "
            "in the panel's geos and weeks (channels and spend are checked by `geommm fit`)"
        )
    if args.formula is not None:
        from geommm.cli.preflight import show_preflight

        return show_preflight(args, panel, lifts)
    if args.simulate:
        raise UserError("--simulate needs --formula: the simulation refits the model")
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
        max_treedepth=args.max_treedepth,
        mass_matrix=args.mass_matrix,
        precision=args.precision,
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
            geo=config.geo or DEFAULT_GEO,
            time=config.time or DEFAULT_TIME,
            population=config.population,
            date_format=config.date_format,
        )
        lifts = read_lift_tests(config.lift_tests) if config.lift_tests is not None else None
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
    from geommm.cli.plan import default_allocation

    problems: list[str] = []
    allocation = default_allocation(result, problems)
    written, more = write_results(result, folder, tables, allocation=allocation)
    problems += more
    show_diagnostics(result)
    show_table(tables["roi_channel.csv"], "National ROI (KPI per unit of spend, 90% HDI):")
    show_table(
        tables["marginal_roi_channel.csv"],
        "National marginal ROI (return on the next unit of spend):",
    )
    if allocation is not None:
        out("Budget: the same total spend, each channel kept within 0.8-1.2x its current spend:")
        out(repr(allocation))
        out()
    show_written(folder, written)
    return finish(problems, strict_verdict(result, args.strict))


def fit_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``GeoMMM.fit`` defaults overlaid with the given settings (so messages show real values)."""
    from geommm import GeoMMM
    from geommm.config import FIT_KEYS

    params = inspect.signature(GeoMMM.fit).parameters
    defaults = {k: params[k].default for k in FIT_KEYS if k in params}
    return {**defaults, **settings}


def run_fit(model: GeoMMM, settings: dict[str, Any]) -> Fit:
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
        # on a terminal nutpie draws its bar; off one the fit prints plain progress lines
        result = model.fit(**s, progressbar=True)
    st = result.settings
    if st.compile_seconds > 0:
        note(f"  compile {st.compile_seconds:.1f} s, sampling {st.sampling_seconds:.1f} s")
    return result


def write_results(
    result: Fit,
    folder: Path,
    tables: dict[str, Any] | None = None,
    allocation: Allocation | None = None,
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
            from geommm.cli.plan import write_allocation

            written += write_allocation(allocation, folder / f"allocation_{allocation.by}.csv")
    with step("writing the HTML report"):
        report = try_report(
            result, folder / "report.html", allocation=allocation, problems=problems
        )
    if report is not None:
        written.append(report)
    return written, problems


#: Exit code of ``--strict`` when the sampler diagnostics are not "ok".
STRICT_EXIT = 3


def strict_verdict(result: Fit, strict: bool) -> int:
    """``STRICT_EXIT`` when ``strict`` and the diagnostics verdict is a warning or a failure."""
    if not strict:
        return 0
    verdict = result.diagnostics().verdict
    if verdict in ("warning", "fail"):
        note(f"--strict: the diagnostics verdict is {verdict.upper()}; exit code {STRICT_EXIT}")
        return STRICT_EXIT
    return 0


def finish(problems: list[str], code: int = 0) -> int:
    """Exit code of a run whose main result is saved: 1 if any other output failed,
    else ``code`` (e.g. the --strict verdict)."""
    if not problems:
        return code
    raise UserError(f"the fit is saved but {len(problems)} output(s) failed: {'; '.join(problems)}")


def show_diagnostics(result: Fit) -> None:
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


def load_saved_fit(location: Path) -> Fit:
    """A saved fit from ``DIR`` (its fit.nc) or from the .nc file itself."""
    import geommm as gm

    path = saved_fit_path(location)
    with step(f"loading {path}"):
        return gm.load_fit(path)


def report(args: argparse.Namespace) -> int:
    """Write the HTML report of a saved fit (with the newest budget plan in its folder)."""
    from geommm.cli.plan import read_allocation

    saved_fit_path(args.dir)
    folder = args.dir if args.dir.is_dir() else args.dir.parent
    own = folder / "report.html"
    target = prepare_file(args.out if args.out is not None else own, args.overwrite, own)
    result = load_saved_fit(args.dir)
    allocation = read_allocation(folder)
    if allocation is not None:
        note(f"  with the budget plan in {folder}/allocation_{allocation.by}.csv")
    with step(f"writing {target}"):
        written = write_report(result, target, allocation=allocation)
    out(f"Report: {written.resolve()}")
    return 0


def optimize(args: argparse.Namespace) -> int:
    """Optimise the budget allocation of a saved fit; print and write the plan."""
    from geommm.cli.plan import optimizer_options, show_allocation, write_allocation

    saved_fit_path(args.dir)
    folder = args.dir if args.dir.is_dir() else args.dir.parent
    own = folder / allocation_file(args.by)
    target = prepare_file(args.out if args.out is not None else own, args.overwrite, own)
    result = load_saved_fit(args.dir)
    options = optimizer_options(args, result.channels)
    if args.target_mroi is not None:
        amount = f"the budget for a marginal ROI of {args.target_mroi:g}"
    else:
        amount = "the current budget" if args.budget is None else f"a budget of {args.budget:,.0f}"
    with step(f"optimising {amount} by {args.by}"):
        allocation = result.optimize_budget(**options)
    show_allocation(allocation)
    write_allocation(allocation, target)
    out(f"Allocation: {target}")
    if args.weekly_plan is not None:
        write_csv(allocation.weekly_plan(), args.weekly_plan)
        out(f"Weekly plan: {args.weekly_plan}")
    if args.report:
        with step("writing the report with this plan"):
            report_path = write_report(result, folder / "report.html", allocation=allocation)
        out(f"Report: {report_path.resolve()}")
    return 0


def show_summary(summary: dict[str, Any], title: str) -> None:
    """Print a name/value summary (e.g. an allocation's), one line each."""
    out(title)
    for key, item in summary.items():
        out(f"  {key}: {_number(item)}")
    out()


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)
