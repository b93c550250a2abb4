"""``geommm refresh``: add new weeks to a saved fit and say what changed."""

from __future__ import annotations

import argparse
from pathlib import Path

from geommm._atomic import write_text
from geommm.cli.argtypes import _nonnegative
from geommm.cli.console import UserError, out, step
from geommm.cli.outputs import prepare_dir, write_csv


def add_parser(subs, command) -> None:
    p = command(
        subs,
        "refresh",
        "Refit a saved fit with new weeks (frozen scaling; the last posterior as prior).",
        "NEW_PANEL holds the new weeks (alone, or after the fitted ones). Writes fit.nc,\n"
        "what_changed_roi.csv, effect_shift.csv, forecast_check.csv,\n"
        "budget_change.csv and summary.txt to --out.",
        "geommm refresh results/ q3_panel.csv --out results_q3 --method sequential",
    )
    p.add_argument("fit_dir", type=Path, metavar="FIT_DIR", help="folder of a saved fit (or its .nc)")
    p.add_argument("new_panel", type=Path, metavar="NEW_PANEL", help="CSV/Parquet with the new weeks")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument("--method", choices=("sequential", "full"), default="sequential")
    p.add_argument("--allow-restated", action="store_true", help="accept changed values of fitted weeks")
    p.add_argument("--effect-shift-sd", type=_nonnegative, default=None, metavar="SD",
                   help="prior sd of each channel's step change in effectiveness at the first new week "
                        "(log scale; default 0.25; 0: constant effects, a plain refit)")
    p.add_argument("--draws", type=int, help="draws per chain (default: the saved fit's)")
    p.add_argument("--tune", type=int, help="warm-up steps per chain (default: the saved fit's)")
    p.add_argument("--chains", type=int, help="chains (default: the saved fit's)")
    p.add_argument("--seed", type=int, help="random seed (default: the saved fit's)")
    p.add_argument("--overwrite", action="store_true", help="replace files in a non-empty --out")


def refresh(args: argparse.Namespace) -> int:
    from geommm.cli.commands import load_saved_fit
    from geommm.data import read_panel
    from geommm.errors import GeoMMMError

    parent = load_saved_fit(args.fit_dir)
    if not args.new_panel.is_file():
        raise UserError(f"new panel {args.new_panel} does not exist")
    folder = prepare_dir(args.out, args.overwrite)
    panel = read_panel(args.new_panel, geo=parent.panel.geo_col, time=parent.panel.time_col)
    kwargs = {k: getattr(args, k) for k in ("draws", "tune", "chains", "seed", "effect_shift_sd")
              if getattr(args, k) is not None}
    try:
        with step(f"refreshing ({args.method})"):
            child = parent.refresh(panel, method=args.method, allow_restated=args.allow_restated, **kwargs)
        with step("comparing with the previous fit"):
            changes = child.what_changed(parent)
    except GeoMMMError as exc:
        raise UserError(str(exc)) from None
    written = [child.save(folder / "fit.nc")]
    written.append(write_csv(changes.roi, folder / "what_changed_roi.csv"))
    written.append(write_csv(changes.forecast, folder / "forecast_check.csv"))
    if changes.shift is not None and changes.shift.height:
        written.append(write_csv(changes.shift, folder / "effect_shift.csv"))
    if changes.budget is not None:
        written.append(write_csv(changes.budget, folder / "budget_change.csv"))
    written.append(write_text(folder / "summary.txt", changes.summary + "\n"))
    out(changes.summary)
    for path in written:
        out(f"  {path}")
    return 0
