"""The ``geommm`` command line: sub-commands, options and their help texts.

Only argparse is imported here, so ``geommm --help`` never waits for PyMC.
Numeric options are checked by argparse itself (usage error, exit 2) before
any data is read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from geommm.cli.argtypes import _bound_spec, _count, _positive, _unit_interval
from geommm.cli.console import DEFAULT_GEO, DEFAULT_TIME
from geommm.cli.outputs import ALLOCATION_BY

DEMO_OUT = Path("geommm-demo-output")
METHODS = ("nuts", "laplace", "map", "advi")
SAMPLERS = ("nutpie", "pymc", "numpyro")
MASS_MATRICES = ("draws", "gradients", "low_rank")
PRECISIONS = ("auto", "float64", "float32")
LIKELIHOODS = ("normal", "studentt")


def _command(
    subs, name: str, summary: str, description: str, example: str
) -> argparse.ArgumentParser:
    return subs.add_parser(
        name,
        help=summary,
        description=f"{summary}\n\n{description}".strip(),
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _panel_keys(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--geo", metavar="COL", help=f"geo column (default: --config, else {DEFAULT_GEO!r})"
    )
    p.add_argument(
        "--time",
        metavar="COL",
        help=f"week/date column (default: --config, else {DEFAULT_TIME!r})",
    )
    p.add_argument("--population", metavar="COL", help="population column used to scale each geo")
    p.add_argument(
        "--date-format", metavar="FMT", help="strptime format for non-ISO dates, e.g. %%d/%%m/%%Y"
    )


def _sampler_options(
    p: argparse.ArgumentParser, draws: int | None, tune: int | None, chains: int | None
) -> None:
    def shown(value: int | None) -> str:
        return "" if value is None else f" (default {value})"

    p.add_argument(
        "--draws", type=_count(1), metavar="N", help=f"posterior draws per chain{shown(draws)}"
    )
    p.add_argument(
        "--tune", type=_count(0), metavar="N", help=f"warm-up iterations per chain{shown(tune)}"
    )
    p.add_argument("--chains", type=_count(1), metavar="N", help=f"number of chains{shown(chains)}")
    p.add_argument("--seed", type=_count(0), metavar="S", help="random seed (default 0)")


def _strict_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit with code 3 when the sampler diagnostics verdict is WARNING or FAIL "
        "(results are still written)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The full ``geommm`` parser with one sub-parser per command."""
    from geommm import __version__

    parser = argparse.ArgumentParser(
        prog="geommm",
        description=(
            "Hierarchical geo-level Bayesian media mix modelling with Geo-Lift calibration.\n"
            "Start with `geommm demo`; every command has --help."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"geommm {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _command(
        subs,
        "validate",
        "Check a panel file and show its geos, weeks, date range and column roles.",
        "Reads a CSV/TSV/Parquet panel exactly as the model would and reports the first problem\n"
        "found (missing column, gaps, duplicates, bad dates, negative spend) with the rows\n"
        "involved. With --formula it also runs the pre-flight checks: what the data can\n"
        "identify (spend variation, collinearity, controls, KPI, parameters, lift tests),\n"
        "blocking problems first; exit 1 if one would stop the fit.",
        "geommm validate panel.csv --geo geo --time week --kpi revenue "
        "--media tv_spend search_spend",
    )
    p.add_argument("panel", metavar="PANEL", type=Path, help="panel file (.csv, .tsv or .parquet)")
    p.add_argument(
        "--geo", metavar="COL", default=DEFAULT_GEO, help="geo column (default %(default)s)"
    )
    p.add_argument(
        "--time", metavar="COL", default=DEFAULT_TIME, help="week/date column (default %(default)s)"
    )
    p.add_argument("--kpi", metavar="COL", help="KPI column (revenue, conversions, ...)")
    for role, what in (("media", "media input"), ("spend", "spend"), ("controls", "control")):
        p.add_argument(
            f"--{role}", metavar="COL", nargs="+", action="extend", help=f"{what} column(s)"
        )
    p.add_argument("--population", metavar="COL", help="population column")
    p.add_argument(
        "--date-format", metavar="FMT", help="strptime format for non-ISO dates, e.g. %%d/%%m/%%Y"
    )
    p.add_argument("--lift-tests", metavar="FILE", type=Path, help="also check a lift-test CSV")
    p.add_argument(
        "--formula", metavar="TEXT",
        help="also run the pre-flight checks for this model formula: what the data can "
        "identify, blocking problems first (exit 1 if any)",
    )
    p.add_argument(
        "--simulate", action="store_true",
        help="with --formula: plant known effects on this design and refit a few simulated "
        "markets to say which channels it can identify (minutes)",
    )
    p.add_argument("--n-sims", type=_count(1), default=3, metavar="N",
                   help="simulated markets for --simulate (default %(default)s)")
    p.add_argument("--roi", type=_positive, metavar="X",
                   help="centre the simulated markets' ROI on X instead of the prior's centre")
    p.add_argument("--seed", type=_count(0), default=0, metavar="S",
                   help="random seed of the simulation (default 0)")

    p = _command(
        subs,
        "simulate",
        "Simulate a geo panel with known true ROI (and lift tests run inside it).",
        "Writes panel.parquet, lift_tests.csv, truth.json and truth_*.parquet into --out and\n"
        "prints the formula that matches the simulated columns.",
        "geommm simulate --geos 12 --weeks 104 --channels 3 --seed 1 --out sim12",
    )
    for flag, minimum, default, metavar, what in (
        ("--geos", 1, 10, "N", "number of geos"),
        ("--weeks", 8, 104, "T", "number of weeks"),
        ("--channels", 1, 4, "C", "media channels"),
        ("--seed", 0, 0, "S", "random seed"),
    ):
        p.add_argument(flag, type=_count(minimum), default=default, metavar=metavar,
                       help=f"{what} (default %(default)s)")
    plan = p.add_mutually_exclusive_group()
    plan.add_argument(
        "--no-collinear", action="store_true", help="let tv and search follow separate buying plans"
    )
    plan.add_argument(
        "--strict-collinear", action="store_true",
        help="search's weekly spend a fixed multiple of tv's in every geo: the panel alone "
        "cannot tell them apart (what lift tests are for)",
    )
    p.add_argument(
        "--lift-tests",
        type=_count(0),
        default=4,
        metavar="K",
        help="lift tests to run (default %(default)s)",
    )
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace files in a non-empty --out")

    p = _command(
        subs,
        "demo",
        "Fit the bundled demo panel and compare the estimated ROI with the known truth.",
        "10 geos x 104 weeks x 4 channels (tv and search bought together) with 4 lift tests.\n"
        "Default: NUTS (nutpie), 4 chains x (500 warm-up + 1000 draws) in worker processes:\n"
        "1-2.5 minutes on 2 quiet cores depending on the machine, more when other jobs share them.\n"
        "--fast uses a Laplace approximation instead (10-13 s to fit on 2 quiet cores plus\n"
        "4-7 s to import; approximate intervals, for a first look).",
        "geommm demo --out demo-results",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEMO_OUT,
        metavar="DIR",
        help="output folder (default ./%(default)s)",
    )
    p.add_argument("--fast", action="store_true", help="Laplace approximation (mode + curvature) instead of NUTS")
    _sampler_options(p, draws=1000, tune=500, chains=4)
    _strict_option(p)
    p.add_argument("--overwrite", action="store_true", help="replace files in a non-empty --out")

    p = _command(
        subs,
        "fit",
        "Fit a model to a panel and write the fit, ROI tables, diagnostics and report.",
        "Writes fit.nc, roi_channel.csv, roi_geo.csv, marginal_roi_channel.csv,\n"
        "marginal_roi_geo.csv, contributions.csv, fit_metrics.csv, lift_test_check.csv\n"
        "(with lift tests), diagnostics.json and report.html into --out.\n"
        "Options given here override the --config file.",
        'geommm fit --data panel.csv --time week --formula "revenue ~ trend() + (1 | geo) + '
        "media(tv_spend, name='tv')\" --out results",
    )
    p.add_argument("--data", type=Path, metavar="PANEL", help="panel file (.csv, .tsv or .parquet)")
    p.add_argument("--formula", metavar="TEXT", help="model formula (quote it)")
    _panel_keys(p)
    p.add_argument(
        "--lift-tests",
        type=Path,
        metavar="FILE",
        help="lift-test CSV (geommm's format, or GeoLift output with channel and spend_delta "
        "columns added; detected by its columns)",
    )
    p.add_argument("--config", type=Path, metavar="FILE", help="TOML config (see docs/cli.md)")
    _sampler_options(p, draws=1000, tune=500, chains=4)
    p.add_argument("--method", choices=METHODS, help="nuts (default), laplace (fast approximate intervals), map (point estimate) or advi (deprecated)")
    p.add_argument("--sampler", choices=SAMPLERS, help="NUTS implementation (default nutpie)")
    p.add_argument(
        "--target-accept",
        type=_unit_interval,
        metavar="P",
        help="NUTS target acceptance (default 0.9)",
    )
    p.add_argument(
        "--max-treedepth",
        type=int,
        choices=range(1, 16),
        metavar="D",
        help="NUTS: stop a trajectory after 2^D - 1 leapfrog steps (1-15, default 10)",
    )
    p.add_argument(
        "--mass-matrix",
        choices=MASS_MATRICES,
        help="nutpie's mass-matrix adaptation: draws (default, more effective samples) "
        "or gradients (nutpie's own, fewer steps per draw) or low_rank (also learns strong correlations)",
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="arithmetic of the log density during NUTS: auto (default: float32 from 30,000 "
        "geo x week x channel cells, else float64), float64, or float32 (sampling 1.3-1.8x "
        "faster on a CPU; nutpie with JAX only)",
    )
    p.add_argument("--likelihood", choices=LIKELIHOODS, help="observation noise (default normal)")
    p.add_argument(
        "--out", type=Path, metavar="DIR", help="output folder (or [output] dir in --config)"
    )
    p.add_argument(
        "--overwrite", action="store_true", default=None, help="replace files in a non-empty --out"
    )
    _strict_option(p)

    p = _command(
        subs,
        "report",
        "Write the self-contained HTML report of a saved fit.",
        "Reads DIR/fit.nc (written by `geommm fit` or `geommm demo`); no refitting.",
        "geommm report results --out results/report.html",
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="folder holding fit.nc")
    p.add_argument("--out", type=Path, metavar="FILE", help="report file (default DIR/report.html)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    p = _command(
        subs,
        "optimize",
        "Reallocate a budget across channels or geos to maximise the expected KPI.",
        "Reads DIR/fit.nc; prints the plan, writes DIR/allocation_<by>.csv and its summary\n"
        "(allocation_<by>_summary.json), and with --report the report with this plan.\n"
        "--bounds takes LOW,HIGH for every channel, CHANNEL=LOW:HIGH per channel (repeat it),\n"
        "or a CSV with columns [geo,] channel, lower, upper[, kind].",
        "geommm optimize results --by geo --bounds 0.8,1.2 tv=0.9:1.1 --fixed display "
        "--weeks 13",
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="folder holding fit.nc")
    target = p.add_mutually_exclusive_group()
    target.add_argument(
        "--budget",
        type=_positive,
        metavar="X",
        help="total spend to allocate over the planning weeks (default: what was spent)",
    )
    target.add_argument(
        "--target-mroi",
        type=_positive,
        metavar="R",
        help="instead of a budget: the largest budget whose best plan still earns this "
        "marginal ROI",
    )
    p.add_argument(
        "--by",
        choices=ALLOCATION_BY,
        default="channel",
        help="allocate over channels nationally or geo x channel cells (default %(default)s)",
    )
    p.add_argument(
        "--bounds",
        type=_bound_spec,
        nargs="+",
        action="extend",
        metavar="SPEC",
        help="limits as multiples of current spend: 0.8,1.2 for all, tv=0.9:1.1 per channel, "
        "or a bounds CSV (default 0.8,1.2)",
    )
    p.add_argument(
        "--fixed",
        nargs="+",
        action="extend",
        metavar="CHANNEL",
        help="channels (or GEO:CHANNEL cells with --by geo) held at current spend",
    )
    p.add_argument(
        "--national",
        nargs="+",
        action="extend",
        metavar="CHANNEL",
        help="with --by geo: channels bought nationally; their geo split stays as it is",
    )
    p.add_argument(
        "--weeks",
        type=_count(1),
        metavar="N",
        help="plan over the last N weeks' flighting (default: the whole analysed period)",
    )
    p.add_argument(
        "--objective",
        choices=("mean", "risk_adjusted"),
        default="mean",
        help="maximise the expected KPI (mean, default) or a low quantile of it (risk_adjusted)",
    )
    p.add_argument(
        "--risk-quantile",
        type=_positive,
        metavar="Q",
        help="quantile --objective risk_adjusted maximises (default 0.1)",
    )
    p.add_argument(
        "--effectiveness",
        choices=("latest", "average"),
        help="a time-varying channel's effectiveness for the plan: the last fitted week's "
        "(latest, default) or the mean over the fitted weeks (average); static channels ignore it",
    )
    p.add_argument(
        "--hdi-prob", type=_positive, metavar="P", help="interval probability (default 0.9)"
    )
    p.add_argument(
        "--out", type=Path, metavar="FILE", help="allocation CSV (default DIR/allocation_<by>.csv)"
    )
    p.add_argument(
        "--weekly-plan",
        type=Path,
        metavar="FILE",
        help="also write the geo x channel x week spend plan as CSV",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="rewrite DIR/report.html with this plan in its headline and budget sections",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    from geommm.cli.batch import add_parser as add_fit_many
    from geommm.cli.design import add_parser as add_design_test

    add_fit_many(subs, _command)
    from geommm.cli.refresh import add_parser as add_refresh

    add_refresh(subs, _command)
    add_design_test(subs, _command, _positive, _count)
    return parser
