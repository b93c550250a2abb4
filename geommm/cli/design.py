"""``geommm design-test``: which Geo-Lift test to run next, from a saved fit."""

from __future__ import annotations

import argparse
from pathlib import Path

from geommm.cli.console import out, show_table, step
from geommm.cli.outputs import write_csv

KINDS = ("heavy_up", "go_dark")
SHOWN = ("rank", "channel", "kind", "geos", "start", "end", "measure_end", "spend_change",
         "lift_mean", "lift_se", "power", "roi_hdi_now", "roi_hdi_after", "roi_hdi_shrink", "cost")


def _weeks(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of weeks, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_parser(subs, command, positive, count) -> None:
    p = command(
        subs,
        "design-test",
        "Rank candidate Geo-Lift tests by how much they would sharpen the ROI, per unit of cost.",
        "Reads DIR/fit.nc; prints which channels are prior-driven and the best tests (channel,\n"
        "geos, weeks, spend change, expected lift, its standard error, power, the national ROI's\n"
        "90% interval now and expected after the test, and the cost); writes every ranked test to\n"
        "--out (default DIR/lift_test_design.csv). Tests start the week after the panel unless\n"
        "--start says otherwise.",
        "geommm design-test results --channel email --weeks 4 8 --max-geos 3 --max-cost 500000",
    )
    p.add_argument("dir", type=Path, metavar="FIT_DIR", help="folder holding fit.nc")
    p.add_argument("--channel", nargs="+", metavar="NAME", help="channels to test (default: all)")
    p.add_argument("--geos", nargs="+", metavar="GEO", help="geos the search may use (default: all)")
    p.add_argument("--weeks", nargs="+", type=_weeks, default=[4, 6, 8], metavar="W",
                   help="test lengths in weeks (default 4 6 8)")
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS), help="test kinds (default both)")
    p.add_argument("--spend-factor", type=positive, default=1.5, metavar="F",
                   help="heavy-up spend multiplier, > 1 (default %(default)s)")
    p.add_argument("--max-geos", type=count(1), default=4, metavar="N", help="largest cell (default 4)")
    p.add_argument("--start", metavar="DATE", help="first test week (default: the week after the panel)")
    p.add_argument("--post-weeks", type=count(0), default=4, metavar="N",
                   help="weeks measured after the spend change (default 4)")
    p.add_argument("--max-cost", type=positive, metavar="X",
                   help="only tests costing at most X, ranked by interval shrink")
    p.add_argument("--lift-se", type=positive, metavar="SE", help="the tests' standard error (KPI units)")
    p.add_argument("--best", type=count(1), default=10, metavar="N", help="tests printed (default 10)")
    p.add_argument("--out", type=Path, metavar="CSV", help="ranked tests (default DIR/lift_test_design.csv)")


def design_test(args: argparse.Namespace) -> int:
    """Identification first (what needs a test), then the ranked candidate tests."""
    import polars as pl

    from geommm.cli.commands import load_saved_fit

    fit = load_saved_fit(args.dir)
    with step("checking which ROIs the data identify"):
        ident = fit.identification()
    national = ident.filter(pl.col("geo") == "national")
    show_table(national.drop("geo"), "Identification (sd of log ROI, prior vs posterior):")
    with step("ranking candidate tests"):
        table = fit.design_lift_tests(
            channels=args.channel, geos=args.geos, weeks=tuple(args.weeks), kinds=tuple(args.kinds),
            spend_factor=args.spend_factor, max_geos=args.max_geos, start=args.start,
            post_weeks=args.post_weeks, max_cost=args.max_cost, n_best=None, lift_se=args.lift_se,
        )
    if table.height == 0:
        out("No feasible test: every candidate cell lacks business-as-usual spend, or costs more "
            "than --max-cost.")
    else:
        show_table(table.head(args.best).select(SHOWN), "Best tests:")
    folder = args.dir if args.dir.is_dir() else args.dir.parent
    target = args.out if args.out is not None else folder / "lift_test_design.csv"
    write_csv(table, target)
    out(f"All {table.height} ranked tests: {target}")
    return 0
