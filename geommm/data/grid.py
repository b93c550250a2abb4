"""The weekly grid every panel must form: unique (geo, week) cells, regular steps, no gaps.

Checked once when a panel is read, with errors that name the geo and the weeks
(duplicates, a step that is not one period, weeks missing in some geos).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from geommm.data.validate import _MAX_SHOWN, LABEL
from geommm.errors import DataError

__all__ = ["check_grid"]


def check_grid(
    table: pl.DataFrame,
    geo: str,
    time: str,
    *,
    grid: Mapping[str, Any],
    frequency_days: int | None,
    source: str,
) -> None:
    """Unique cells, enough rows per geo, regular steps, and a complete geo x time grid."""
    by_key = {"geo": geo, "time": time}
    _check_duplicates(table, [by_key[k] for k in grid.get("unique_keys", [])], source)
    min_rows = int(grid.get("min_rows_per_geo", 1))
    counts = table.group_by(geo).len().sort(geo)
    short = counts.filter(pl.col("len") < min_rows)
    if short.height:
        names = ", ".join(f"{g!r} ({n} row)" for g, n in short.head(_MAX_SHOWN).iter_rows())
        raise DataError(
            f"{source}: geo(s) with fewer than {min_rows} weeks: {names}"
            f"{' and more' if short.height > _MAX_SHOWN else ''}. A geo needs a time series; "
            "remove it or add its other weeks."
        )
    if frequency_days is not None:
        _check_steps(table, geo, time, frequency_days, source)
    if grid.get("complete", False):
        _check_complete(table, geo, time, counts, source)


def _check_duplicates(table: pl.DataFrame, keys: list[str], source: str) -> None:
    if not keys:
        return
    dupes = (
        table.group_by(keys)
        .agg(pl.len().alias("_n"), pl.col(LABEL).alias("_rows"))
        .filter(pl.col("_n") > 1)
        .sort(keys)
    )
    if dupes.height:
        items = [
            f"({', '.join(str(row[k]) for k in keys)}) at {', '.join(row['_rows'])}"
            for row in dupes.head(_MAX_SHOWN).iter_rows(named=True)
        ]
        more = f" and {dupes.height - _MAX_SHOWN} more" if dupes.height > _MAX_SHOWN else ""
        raise DataError(
            f"{source}: {dupes.height} duplicate ({', '.join(repr(k) for k in keys)}) cell(s): "
            + "; ".join(items)
            + f"{more}. Each geo may have one row per week; aggregate or remove the repeats."
        )


def _check_steps(table: pl.DataFrame, geo: str, time: str, days: int, source: str) -> None:
    """Within a geo every step is a whole number of weeks; across geos weeks line up."""
    steps = table.with_columns(
        pl.col(time).shift(1).over(geo).alias("_prev"),
        (pl.col(time) - pl.col(time).shift(1)).over(geo).dt.total_days().alias("_step"),
    )
    odd = steps.filter((pl.col("_step") % days) != 0)
    if odd.height:
        items = [
            f"geo {g!r}: {p} -> {t} ({s} day(s))"
            for g, t, p, s in odd.select(geo, time, "_prev", "_step").head(_MAX_SHOWN).iter_rows()
        ]
        raise DataError(
            f"{source}: column {time!r} is not a weekly series ({days}-day steps): "
            + "; ".join(items)
            + f"{' and more' if odd.height > _MAX_SHOWN else ''}. Aggregate daily data to weeks "
            "(one date per week) before reading."
        )
    weekdays = table.group_by(geo).agg(pl.col(time).dt.weekday().first().alias("wd"))
    if weekdays["wd"].n_unique() > 1:
        names = ["", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        first = weekdays.sort(geo).unique("wd", keep="first", maintain_order=True)
        items = [f"geo {g!r} on {names[w]}s" for g, w in first.iter_rows()]
        raise DataError(
            f"{source}: column {time!r} uses different weekdays in different geos: "
            + ", ".join(items)
            + ". Label every geo's weeks with the same day (e.g. the Monday starting the week)."
        )
    weeks = table[time].unique().sort()
    gaps = pl.DataFrame({"to": weeks}).with_columns(
        pl.col("to").shift(1).alias("from"), pl.col("to").diff().dt.total_days().alias("step")
    ).filter(pl.col("step") > days)
    if gaps.height:
        items = [
            f"{f} -> {t} ({s // days - 1} week(s) missing)"
            for t, f, s in gaps.head(_MAX_SHOWN).iter_rows()
        ]
        raise DataError(
            f"{source}: column {time!r} has weeks with no rows for any geo: "
            + "; ".join(items)
            + ". Weekly panels must be contiguous; add the missing weeks (0 for inactive media) "
            "or analyse the periods separately with select_times."
        )


def _check_complete(
    table: pl.DataFrame, geo: str, time: str, counts: pl.DataFrame, source: str
) -> None:
    n_weeks = table[time].n_unique()
    if counts["len"].min() == n_weeks:
        return
    grid = counts.select(geo).join(table.select(pl.col(time).unique()), how="cross")
    missing = (
        grid.join(table.select(geo, time), on=[geo, time], how="anti")
        .sort([geo, time])
        .group_by(geo, maintain_order=True)
        .agg(pl.len().alias("n"), pl.col(time).head(_MAX_SHOWN).cast(pl.String).alias("weeks"))
    )
    items = [
        f"geo {g!r} lacks {n} week(s): {', '.join(w)}{' ...' if n > len(w) else ''}"
        for g, n, w in missing.head(_MAX_SHOWN).iter_rows()
    ]
    more = f" and {missing.height - _MAX_SHOWN} more geo(s)" if missing.height > _MAX_SHOWN else ""
    raise DataError(
        f"{source}: the geo x week grid has gaps (other geos have these weeks): "
        + "; ".join(items)
        + f"{more}. Add the missing rows (0 for media with no activity; geommm never fills "
        "gaps), drop the geo, or restrict the period with select_times."
    )
