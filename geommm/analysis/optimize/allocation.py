"""What a budget plan may change, and the plan the optimiser recommends.

A planning *unit* gets one spend decision: a channel nationally (``by="channel"``,
one multiplier applied in every geo) or one geo x channel cell (``by="geo"``).
Bounds, fixed units and current spend are all turned into spend per unit over
the planning weeks here, so the optimiser sees one box per unit and one budget
equation, and every user mistake is caught before any number is computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from geommm.errors import OptimizationError

from geommm.analysis.tables import NATIONAL  # noqa: E402
BY = ("channel", "geo")
KINDS = ("relative", "absolute")
#: Relative bounds of a unit that a bounds table does not mention.
DEFAULT_BOUNDS = (0.8, 1.2)


@dataclass
class Units:
    """Planning units and their limits, all in spend over the planning weeks."""

    by: str
    geos: tuple[str, ...]
    channels: tuple[str, ...]
    labels: list[tuple[str, str]]  # (geo or "national", channel) per unit
    unit_of_cell: np.ndarray  # (G, C) index of the unit each geo x channel cell belongs to
    current: np.ndarray  # (U,)
    lower: np.ndarray  # (U,)
    upper: np.ndarray  # (U,)
    kind: list[str]  # "relative" / "absolute" per unit
    fixed: np.ndarray  # (U,) bool
    notes: list[list[str]] = field(default_factory=list)

    @property
    def n_units(self) -> int:
        return len(self.labels)


def planning_units(
    geos: Sequence[str],
    channels: Sequence[str],
    current_spend: np.ndarray,
    by: str = "channel",
    bounds=DEFAULT_BOUNDS,
    fixed=None,
    national_channels: Sequence[str] | None = None,
) -> Units:
    """Units for ``by`` with spend limits from ``bounds`` and ``fixed``.

    ``current_spend`` is (G, C) spend over the planning weeks. ``bounds`` is a
    ``(lower, upper)`` pair of multipliers of current spend for every unit, or a
    Polars table ``[geo,] channel, lower, upper[, kind]`` (kind "relative" or
    "absolute" spend over the planning weeks; rows without a geo apply to every
    geo of the channel; units not listed keep ``DEFAULT_BOUNDS``).
    ``national_channels`` (with ``by="geo"``): channels bought nationally, one unit
    each over all geos, so their geo split stays at today's shares.
    """
    if by not in BY:
        raise OptimizationError(
            f"by={by!r} is not one of {BY}: 'channel' plans one multiplier "
            "per channel for all geos, 'geo' one per geo x channel cell"
        )
    geos, channels = tuple(geos), tuple(channels)
    national = _national(national_channels, by, channels)
    if by == "channel":
        national = set(channels)
    labels = [(NATIONAL, c) for c in channels if c in national]
    labels += [(g, c) for g in geos for c in channels if c not in national]
    index = {label: u for u, label in enumerate(labels)}
    unit_of_cell = np.array(
        [[index[(NATIONAL, c) if c in national else (g, c)] for c in channels] for g in geos],
        dtype=int,
    ).reshape(len(geos), len(channels))
    current = np.zeros(len(labels))
    np.add.at(current, unit_of_cell, current_spend)
    rows = _bound_rows(bounds, by, geos, channels)
    for geo, channel in rows:
        if geo is not None and channel in national and by == "geo":
            raise OptimizationError(
                f"bounds table row for geo {geo!r}, channel {channel!r}: {channel!r} is bought "
                "nationally (national_channels), so its bounds are for all geos; leave geo empty"
            )
    lower, upper, kind = np.empty(len(labels)), np.empty(len(labels)), []
    for u, label in enumerate(labels):
        lo, hi, k = rows.get(label) or rows.get((None, label[1])) or (*DEFAULT_BOUNDS, "relative")
        _check_bound(label, lo, hi, k)
        scale = current[u] if k == "relative" else 1.0
        lower[u], upper[u] = lo * scale, hi * scale
        kind.append(k)
    units = Units(
        by=by,
        geos=geos,
        channels=channels,
        labels=labels,
        unit_of_cell=unit_of_cell,
        current=current.astype("float64"),
        lower=lower,
        upper=upper,
        kind=kind,
        fixed=_fixed_mask(fixed, by, labels, geos, channels),
        notes=[[] for _ in labels],
    )
    units.lower[units.fixed] = units.current[units.fixed]
    units.upper[units.fixed] = units.current[units.fixed]
    for u in np.nonzero(units.fixed)[0]:
        units.notes[u].append("held at current spend")
    if by == "geo":
        for u, (geo, _) in enumerate(labels):
            if geo == NATIONAL:
                units.notes[u].append("bought nationally: the geo split stays at current shares")
    return units


def _national(channels_given, by: str, channels) -> set[str]:
    if not channels_given:
        return set()
    if isinstance(channels_given, str):
        channels_given = [channels_given]
    unknown = [c for c in channels_given if c not in channels]
    if unknown:
        raise OptimizationError(
            f"national_channels names unknown channel(s) {unknown}; the model has {list(channels)}"
        )
    if by != "geo":
        raise OptimizationError(
            "national_channels needs by='geo'; with by='channel' every channel is planned nationally"
        )
    return set(channels_given)


def _where(label: tuple[str, str]) -> str:
    geo, channel = label
    return (
        f"channel {channel!r}" if geo in (None, NATIONAL) else f"geo {geo!r}, channel {channel!r}"
    )


def _check_bound(label, lo: float, hi: float, kind: str) -> None:
    what = _where(label)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise OptimizationError(f"bounds for {what} must be finite numbers, got ({lo}, {hi})")
    if lo < 0 or hi < 0:
        raise OptimizationError(
            f"bounds for {what} are negative ({lo}, {hi}); spend cannot go below 0 — use "
            f"{'multipliers >= 0' if kind == 'relative' else 'spend amounts >= 0'}"
        )
    if lo > hi:
        raise OptimizationError(
            f"bounds for {what}: lower {lo} is above upper {hi}; swap them or widen the range"
        )


def _bound_rows(bounds, by: str, geos, channels) -> dict:
    """{(geo or None, channel): (lower, upper, kind)} from a pair or a Polars table."""
    if isinstance(bounds, pl.DataFrame):
        return _table_rows(bounds, by, geos, channels)
    try:
        lo, hi = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise OptimizationError(
            "bounds must be a (lower, upper) pair of multipliers of current spend, e.g. "
            "(0.8, 1.2), or a Polars table with columns [geo,] channel, lower, upper[, kind]; "
            f"got {bounds!r}"
        ) from None
    return {(None, c): (lo, hi, "relative") for c in channels}


def _table_rows(table: pl.DataFrame, by: str, geos, channels) -> dict:
    missing = [c for c in ("channel", "lower", "upper") if c not in table.columns]
    if missing:
        raise OptimizationError(
            f"the bounds table lacks column(s) {missing}; it needs [geo,] channel, lower, upper"
            f"[, kind] (has {table.columns})"
        )
    rows: dict = {}
    has_geo = "geo" in table.columns
    for rec in table.iter_rows(named=True):
        channel = rec["channel"]
        geo = rec.get("geo") if has_geo else None
        geo = None if geo in (None, NATIONAL) else str(geo)
        kind = rec.get("kind") or "relative"
        if channel not in channels:
            raise OptimizationError(
                f"bounds table names unknown channel {channel!r}; the model has {list(channels)}"
            )
        if geo is not None and geo not in geos:
            raise OptimizationError(
                f"bounds table names unknown geo {geo!r}; the model has {list(geos)[:20]}"
            )
        if geo is not None and by == "channel":
            raise OptimizationError(
                f"bounds table row for geo {geo!r}, channel {channel!r}: by='channel' plans one "
                "national multiplier per channel, so bounds are per channel; leave geo empty "
                "or use by='geo'"
            )
        if kind not in KINDS:
            raise OptimizationError(
                f"bounds kind {kind!r} for {_where((geo, channel))} is not one of {KINDS}"
            )
        key = (geo, channel)
        if key in rows:
            raise OptimizationError(f"bounds table lists {_where(key)} twice; keep one row")
        lo, hi = rec["lower"], rec["upper"]
        if lo is None or hi is None:
            raise OptimizationError(f"bounds for {_where(key)} have an empty lower or upper value")
        rows[key] = (float(lo), float(hi), kind)
    return rows


def _fixed_mask(fixed, by: str, labels, geos, channels) -> np.ndarray:
    """Units held at current spend: channel names, (geo, channel) pairs or a table."""
    mask = np.zeros(len(labels), dtype=bool)
    if fixed is None:
        return mask
    if isinstance(fixed, str):
        fixed = [fixed]
    if isinstance(fixed, pl.DataFrame):
        if "channel" not in fixed.columns:
            raise OptimizationError("the fixed table needs a channel column (and optionally geo)")
        geo_col = fixed["geo"].to_list() if "geo" in fixed.columns else [None] * fixed.height
        fixed = list(zip(geo_col, fixed["channel"].to_list()))
    index = {label: u for u, label in enumerate(labels)}
    for item in _as_items(fixed):
        geo, channel = item
        if channel not in channels:
            raise OptimizationError(
                f"fixed names unknown channel {channel!r}; the model has {list(channels)}"
            )
        if geo in (None, NATIONAL):
            hits = [u for (g, c), u in index.items() if c == channel]
        elif by == "channel":
            raise OptimizationError(
                f"fixed cell ({geo!r}, {channel!r}) needs by='geo'; with by='channel' "
                "fix whole channels"
            )
        elif geo not in geos:
            raise OptimizationError(
                f"fixed names unknown geo {geo!r}; the model has {list(geos)[:20]}"
            )
        elif (geo, channel) not in index:
            raise OptimizationError(
                f"fixed cell ({geo!r}, {channel!r}): {channel!r} is bought nationally "
                "(national_channels); fix the whole channel instead"
            )
        else:
            hits = [index[(geo, channel)]]
        mask[hits] = True
    return mask


def _as_items(fixed: Iterable) -> list[tuple[str | None, str]]:
    out = []
    for item in fixed:
        if isinstance(item, str):
            out.append((None, item))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            out.append((item[0], item[1]))
        else:
            raise OptimizationError(
                f"fixed entries are channel names or (geo, channel) pairs; got {item!r}"
            )
    return out


# ----------------------------------------------------------------------- the result
@dataclass
class Allocation:
    """A recommended budget plan.

    ``table``: geo ("national" when by="channel"), channel, current_spend,
    optimal_spend, change, change_pct, lower_spend, upper_spend, current_kpi_mean,
    optimal_kpi_mean, marginal_roi (at the recommended plan), move_probability (the
    posterior probability that the move points the right way; below 0.8 the note says
    the move is within its own uncertainty), note.
    ``summary``: budget, current_kpi_mean, optimal_kpi_mean, expected_lift_mean,
    expected_lift_hdi_low, expected_lift_hdi_high and how it was solved.
    KPI is incremental KPI from media over the planning weeks, carryover included.
    """

    table: pl.DataFrame
    summary: dict
    by: str
    notes: list[str] = field(default_factory=list)
    #: (geos, channels, weeks, current weekly spend (G, W, C), recommended weekly spend (G, W, C))
    weekly: tuple | None = field(default=None, repr=False)

    def weekly_plan(self) -> pl.DataFrame:
        """Spend per geo x channel x planning week: ``geo, channel, time, current_spend, spend``.

        Each unit's flighting keeps its shape (every week scaled by the unit's
        multiplier), so the weeks add up to ``table``'s recommended spend and the
        whole plan to the budget.
        """
        if self.weekly is None:
            raise OptimizationError("this allocation carries no weekly plan (it was read from a file)")
        geos, channels, times, now, plan = self.weekly
        G, W, C = plan.shape
        return pl.DataFrame(
            {
                "geo": np.repeat(np.asarray(geos, dtype=object), W * C).tolist(),
                "channel": np.tile(np.asarray(channels, dtype=object), G * W).tolist(),
                "time": np.tile(np.repeat(np.asarray(times), C), G),
                "current_spend": now.reshape(-1),
                "spend": plan.reshape(-1),
            }
        )

    def __repr__(self) -> str:
        s = self.summary
        head = (
            f"Allocation(by={self.by!r}, budget {s['budget']:,.0f} over {s['weeks']} weeks, "
            f"objective {s['objective']!r}): expected lift {s['expected_lift_mean']:+,.0f} "
            f"({s['hdi_prob']:.0%} HDI {s['expected_lift_hdi_low']:+,.0f} .. "
            f"{s['expected_lift_hdi_high']:+,.0f}) on {s['current_kpi_mean']:,.0f} from media"
        )
        moves = (
            self.table.filter(pl.col("change") != 0)
            .sort(pl.col("change").abs(), descending=True)
            .head(5)
        )
        lines = [head]
        for r in moves.iter_rows(named=True):
            pct = "" if r["change_pct"] is None else f" ({r['change_pct']:+.1%})"
            sure = r.get("move_probability")
            odds = "" if sure is None else f", P(right direction) {sure:.2f}"
            lines.append(
                f"  {r['geo']} / {r['channel']}: {r['current_spend']:,.0f} -> "
                f"{r['optimal_spend']:,.0f}{pct}{odds}"
            )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
