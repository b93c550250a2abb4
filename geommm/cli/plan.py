"""Budget plans on the command line: optimiser options from flags, the plan printed and saved.

``geommm optimize`` covers every ``Fit.optimize_budget`` option; the plan it
writes (``allocation_<by>.csv`` and its summary JSON) is picked up again by
``geommm report``, so the report shows the plan the planner chose.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geommm.cli.console import UserError, out, show_table

if TYPE_CHECKING:
    import polars as pl

    from geommm.fit import Fit

#: Name of the summary file written next to ``allocation_<by>.csv``.
SUMMARY_SUFFIX = "_summary.json"


@dataclass
class SavedAllocation:
    """An allocation read back from disk: the table, its summary and notes."""

    table: pl.DataFrame
    summary: dict
    by: str
    notes: list[str] = field(default_factory=list)


def optimizer_options(args: argparse.Namespace, channels: tuple[str, ...]) -> dict[str, Any]:
    """Keyword arguments for ``Fit.optimize_budget`` from the ``optimize`` flags."""
    options: dict[str, Any] = {"by": args.by, "objective": args.objective}
    if args.budget is not None:
        options["budget"] = args.budget
    if args.target_mroi is not None:
        options["target_marginal_roi"] = args.target_mroi
    if args.bounds:
        options["bounds"] = bounds_from_flags(args.bounds, channels)
    if args.fixed:
        options["fixed"] = [_fixed_item(item) for item in args.fixed]
    if args.national:
        if args.by != "geo":
            raise UserError("--national needs --by geo (with --by channel every split is national)")
        options["national_channels"] = list(args.national)
    for flag, key in (
        ("weeks", "weeks"),
        ("risk_quantile", "risk_quantile"),
        ("hdi_prob", "hdi_prob"),
        ("effectiveness", "effectiveness"),
    ):
        if getattr(args, flag) is not None:
            options[key] = getattr(args, flag)
    return options


def _fixed_item(text: str) -> str | tuple[str, str]:
    geo, sep, channel = text.rpartition(":")
    return (geo, channel) if sep else text


def bounds_from_flags(specs: list[tuple], channels: tuple[str, ...]) -> Any:
    """One bounds argument from the --bounds items (see ``argtypes._bound_spec``).

    ``LOW,HIGH`` sets every channel, ``CHANNEL=LOW:HIGH`` overrides one; a CSV
    file is the optimiser's bounds table and cannot be mixed with the others.
    """
    import polars as pl

    files = [s[1] for s in specs if s[0] == "file"]
    if files:
        if len(specs) > 1:
            raise UserError("--bounds: give either one bounds CSV or LOW,HIGH / CHANNEL=LOW:HIGH items")
        return _bounds_file(files[0])
    pairs = [s for s in specs if s[0] == "all"]
    per_channel = {s[1]: (s[2], s[3]) for s in specs if s[0] == "channel"}
    if not per_channel:
        return pairs[-1][1:]
    unknown = sorted(set(per_channel) - set(channels))
    if unknown:
        raise UserError(f"--bounds names unknown channel(s) {unknown}; the model has {list(channels)}")
    low, high = pairs[-1][1:] if pairs else (0.8, 1.2)
    rows = [(c, *per_channel.get(c, (low, high))) for c in channels]
    return pl.DataFrame(rows, schema=["channel", "lower", "upper"], orient="row")


def _bounds_file(path: Path) -> Any:
    from geommm.data.io import read_table

    if not path.is_file():
        raise UserError(f"--bounds file {path} not found")
    table, _ = read_table(path)
    return table


# ---------------------------------------------------------------------------- output
def show_allocation(allocation: Any) -> None:
    """The plan as a planner reads it: summary lines, then the table with % changes."""
    import polars as pl

    s = allocation.summary
    out("Summary:")
    for key, value in s.items():
        out(f"  {key}: {_value(key, value)}")
    for n in allocation.notes:
        out(f"  note: {n}")
    out()
    table = allocation.table.with_columns(
        pl.col("change_pct").map_elements(lambda v: f"{v:+.1%}", return_dtype=pl.String),
        pl.col("move_probability").map_elements(lambda v: f"{v:.2f}", return_dtype=pl.String)
        .fill_null(""),
        pl.col("note").fill_null(""),
    )
    show_table(table, f"Allocation by {allocation.by}:")


def _value(key: str, value: Any) -> str:
    if isinstance(value, float):
        if key in ("hdi_prob", "risk_quantile"):
            return f"{value:.0%}"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return "n/a" if value is None else str(value)


def write_allocation(allocation: Any, target: Path) -> list[Path]:
    """The table as CSV and its summary and notes as JSON next to it."""
    from geommm.cli.outputs import write_csv, write_json

    summary_path = summary_file(target)
    record = {"summary": allocation.summary, "by": allocation.by, "notes": allocation.notes}
    return [write_csv(allocation.table, target), write_json(record, summary_path)]


def summary_file(table_path: Path) -> Path:
    return table_path.with_name(table_path.stem + SUMMARY_SUFFIX)


def read_allocation(folder: Path) -> SavedAllocation | None:
    """The newest ``allocation_*.csv`` in ``folder`` with its summary, or None."""
    import polars as pl

    from geommm.analysis.tables import ALLOCATION

    found = sorted(folder.glob("allocation_*.csv"), key=lambda p: p.stat().st_mtime)
    if not found:
        return None
    path = found[-1]
    table = pl.read_csv(path, schema_overrides={"note": pl.String, "geo": pl.String})
    if "move_probability" not in table.columns:  # written before the column existed
        table = table.with_columns(pl.lit(None, dtype=pl.Float64).alias("move_probability"))
        table = table.select([c for c in ALLOCATION if c in table.columns] + [
            c for c in table.columns if c not in ALLOCATION])
    missing = [c for c in ALLOCATION if c not in table.columns]
    if missing:
        raise UserError(f"{path} is not an allocation table: it lacks column(s) {missing}")
    side = summary_file(path)
    if side.is_file():
        record = json.loads(side.read_text(encoding="utf-8"))
        summary = {k: (float("nan") if v is None and k.startswith("expected") else v)
                   for k, v in record["summary"].items()}
        return SavedAllocation(table, summary, record.get("by", "channel"), record.get("notes", []))
    return SavedAllocation(table, _summary_from_table(table), _by(table))


def _by(table: pl.DataFrame) -> str:
    from geommm.analysis.tables import NATIONAL

    return "geo" if bool((table["geo"] != NATIONAL).any()) else "channel"


def _summary_from_table(table: pl.DataFrame) -> dict:
    """What a table alone tells: totals and the mean lift (no interval without the draws)."""
    current, optimal = table["current_kpi_mean"].sum(), table["optimal_kpi_mean"].sum()
    return {
        "budget": float(table["optimal_spend"].sum()),
        "weeks": None,
        "by": _by(table),
        "hdi_prob": 0.9,
        "current_spend": float(table["current_spend"].sum()),
        "optimal_spend": float(table["optimal_spend"].sum()),
        "current_kpi_mean": float(current),
        "optimal_kpi_mean": float(optimal),
        "expected_lift_mean": float(optimal - current),
        "expected_lift_hdi_low": float("nan"),
        "expected_lift_hdi_high": float("nan"),
    }


def default_allocation(result: Fit, problems: list[str]) -> Any:
    """Today's budget reallocated across channels under the default bounds; None on failure."""
    from geommm.cli.console import step
    from geommm.cli.outputs import failed

    try:
        with step("optimising the current budget across channels (bounds 0.8-1.2 x current)"):
            return result.optimize_budget(by="channel")
    except Exception as exc:  # noqa: BLE001 - the fit and ROI tables stand without it
        problems.append(failed("the budget optimisation", exc))
        return None
