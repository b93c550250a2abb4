"""What the user asked the test designer for, checked once, with errors naming the argument.

Every later step (the future plan, the lift draws, the ranking) trusts a
:class:`DesignRequest`: channels and geos are known, each candidate geo set only holds
geos where its channel has spent, windows start after the panel, and the numbers
make sense.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from geommm.errors import DesignError

KINDS = ("heavy_up", "go_dark")
METHODS = ("reweight", "gaussian")


@dataclass(frozen=True)
class DesignRequest:
    """A checked request: indices into the model's channels and geos, weeks as integers."""

    channels: tuple[int, ...]
    geo_pool: tuple[int, ...]  # geos the greedy search may use
    geo_sets: tuple[tuple[int, ...], ...] | None  # explicit geo sets (no search) or None
    weeks: tuple[int, ...]
    kinds: tuple[str, ...]
    spend_factor: float
    max_geos: int
    offset: int  # weeks from the first week after the panel to the test's start
    post_weeks: int
    max_cost: float | None
    n_best: int | None
    lift_se: float | None
    relative_se: float | None
    plan: pl.DataFrame | None
    method: str
    kpi_value: float
    panel_information: bool


def check_request(
    data, *, channels, geos, weeks, kinds, spend_factor, max_geos, start, post_weeks,
    max_cost, n_best, lift_se, relative_se, plan, method, kpi_value, panel_information,
) -> DesignRequest:
    """Check every argument of ``design_lift_tests`` against the model's data."""
    chans = _channels(channels, data.channels)
    rf = getattr(data, "reach_frequency", None)  # lift tests on R&F channels: not calibrated yet
    if rf is not None and channels is not None and set(chans) & set(rf.channels):
        raise DesignError(f"channels={channels!r}: reach & frequency channels cannot take lift tests "
                          "yet (docs/reach_frequency.md); leave them out")
    chans = tuple(c for c in chans if rf is None or c not in rf.channels)
    kinds = _names(kinds, KINDS, "kinds")
    weeks = _weeks(weeks)
    if "heavy_up" in kinds and not (_finite(spend_factor) and spend_factor > 1):
        raise DesignError(
            f"spend_factor={spend_factor!r}: a heavy-up multiplies business-as-usual spend by "
            "spend_factor, so it must be a number > 1 (e.g. 1.5 for +50%); use kinds=('go_dark',) "
            "to switch a channel off instead"
        )
    max_geos = _count(max_geos, "max_geos", 1)
    post_weeks = _count(post_weeks, "post_weeks", 0)
    n_best = None if n_best is None else _count(n_best, "n_best", 1)
    max_cost = _positive_or_none(max_cost, "max_cost")
    lift_se = _positive_or_none(lift_se, "lift_se")
    relative_se = _positive_or_none(relative_se, "relative_se")
    if lift_se is not None and relative_se is not None:
        raise DesignError("give lift_se (a standard error in KPI units) or relative_se "
                          "(a fraction of the expected lift), not both")
    kpi_value = _positive_or_none(kpi_value, "kpi_value")
    if method not in METHODS:
        raise DesignError(f"method={method!r} is not one of {METHODS}")
    pool, sets = _geos(geos, data, chans)
    if plan is not None and not isinstance(plan, pl.DataFrame):
        raise DesignError(f"plan must be a Polars table (geo, week, channel, spend), got {type(plan).__name__}")
    return DesignRequest(
        channels=chans, geo_pool=pool, geo_sets=sets, weeks=weeks, kinds=kinds,
        spend_factor=float(spend_factor), max_geos=max_geos, offset=_offset(start, data.times),
        post_weeks=post_weeks, max_cost=max_cost, n_best=n_best, lift_se=lift_se,
        relative_se=relative_se, plan=plan, method=method, kpi_value=float(kpi_value),
        panel_information=bool(panel_information),
    )


def _finite(x) -> bool:
    try:
        return bool(np.isfinite(float(x)))
    except (TypeError, ValueError):
        return False


def _count(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise DesignError(f"{name}={value!r} must be a whole number >= {minimum}")
    return int(value)


def _positive_or_none(value, name: str) -> float | None:
    if value is None:
        return None
    if not (_finite(value) and float(value) > 0):
        raise DesignError(f"{name}={value!r} must be a positive number (or None)")
    return float(value)


def _names(value, known: Sequence[str], name: str) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    unknown = [v for v in items if v not in known]
    if unknown or not items:
        raise DesignError(f"{name}={value!r}: unknown or empty; choose from {list(known)}")
    return tuple(dict.fromkeys(items))


def _channels(channels, known: Sequence[str]) -> tuple[int, ...]:
    if channels is None:
        return tuple(range(len(known)))
    names = (channels,) if isinstance(channels, str) else tuple(channels)
    unknown = [c for c in names if c not in known]
    if unknown or not names:
        raise DesignError(f"channels={channels!r}: unknown channel(s) {unknown}; the model's "
                          f"channels are {list(known)}")
    return tuple(dict.fromkeys(known.index(c) for c in names))


def _weeks(weeks) -> tuple[int, ...]:
    items = (weeks,) if isinstance(weeks, (int, np.integer)) else tuple(weeks)
    bad = [w for w in items if isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1]
    if bad or not items:
        raise DesignError(f"weeks={weeks!r}: test lengths must be whole numbers of weeks >= 1")
    return tuple(sorted({int(w) for w in items}))


def _geos(geos, data, channels: tuple[int, ...]):
    """(pool, explicit sets): all geos by default; a list of names is a pool to search;
    a list of lists is a list of geo sets to evaluate as they are."""
    known = list(data.geos)
    if geos is None:
        return tuple(range(len(known))), None
    items = [geos] if isinstance(geos, str) else list(geos)
    explicit = bool(items) and all(not isinstance(g, str) for g in items)
    sets = [list(s) for s in items] if explicit else [items]
    if not items or any(not s for s in sets):
        raise DesignError(f"geos={geos!r}: give geo names, or lists of geo names (one per cell)")
    names = [g for s in sets for g in s]
    unknown = sorted({str(g) for g in names if g not in known})
    if unknown:
        raise DesignError(f"geos: unknown geo(s) {unknown}; the panel's geos are {known[:20]}")
    spent = data.spend.sum(axis=1)  # (G, C)
    for c in channels:
        dark = sorted({g for g in names if not spent[known.index(g), c] > 0})
        if dark:
            raise DesignError(
                f"geos: channel {data.channels[c]!r} never spends in {dark}, so a test there "
                f"cannot change its spend; drop these geos or pick other channels"
            )
    as_idx = [tuple(sorted(dict.fromkeys(known.index(g) for g in s))) for s in sets]
    if explicit:
        return tuple(sorted({g for s in as_idx for g in s})), tuple(dict.fromkeys(as_idx))
    return as_idx[0], None


def _offset(start, times: np.ndarray) -> int:
    """Weeks between the first week after the panel and ``start`` (0 by default)."""
    last = np.datetime64(times[-1], "D")
    if start is None:
        return 0
    try:
        if isinstance(start, (dt.date, np.datetime64)):
            day = np.datetime64(start, "D")
        else:
            day = np.datetime64(dt.date.fromisoformat(str(start)), "D")
    except ValueError:
        raise DesignError(f"start={start!r} is not a date (YYYY-MM-DD)") from None
    days = int((day - last).astype(int))
    if days <= 0:
        raise DesignError(
            f"start={start!r}: the test window overlaps the panel (its last week is {last}); a "
            "designed test lies in the future, so start after the panel's last week"
        )
    if days % 7:
        raise DesignError(f"start={start!r} is not on the panel's weekly grid (weeks of {last})")
    return days // 7 - 1
