"""Lift tests run inside a simulated panel: where they go, what they do to spend, what they measure.

Business-as-usual (BAU) spend is drawn first; heavy-ups and go-darks are applied to
it, and the KPI is computed from the resulting actual spend — the same situation
the model's calibration term assumes. Tests never share a geo-channel within each
other's carryover, so every measured lift has exactly one cause.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from geommm.errors import DataError
from geommm.sim.precision import round_bits
from geommm.sim.truth import MediaParams, media_contributions

__all__ = [
    "LIFT_SCHEMA",
    "LiftTest",
    "place_lift_tests",
    "designed_tests",
    "apply_tests",
    "lift_table",
    "lift_bau_frame",
]

#: Columns and types of the simulated lift-test table (as written to lift_tests.csv).
LIFT_SCHEMA = {
    "test_id": pl.String,
    "channel": pl.String,
    "geos": pl.String,
    "start": pl.Date,
    "end": pl.Date,
    "measure_end": pl.Date,
    "spend_delta": pl.Float64,
    "lift": pl.Float64,
    "lift_se": pl.Float64,
    "true_lift": pl.Float64,
}


@dataclass(frozen=True)
class LiftTest:
    """One experiment in index form: a channel, a cell of geos and its weeks."""

    channel: int
    geos: tuple[int, ...]
    start: int
    end: int  # inclusive
    measure_end: int  # inclusive
    multiplier: float  # 0 for a go-dark


def _overlaps(busy, cell, channel, start, last) -> bool:
    """Whether weeks ``start..last`` of ``channel`` in any geo of ``cell`` are already taken."""
    return any(g in cell and cc == channel and not (last < a or start > b)
               for g, cc, a, b in busy)


def place_lift_tests(
    rng: np.random.Generator, bau: np.ndarray, channels: list[str], max_lag: int,
    n_tests: int, post: int = 4,
) -> list[LiftTest]:
    """Heavy-ups and go-darks on weeks the channel is live, never overlapping on a geo-channel.

    Tests alternate heavy-up / go-dark and multi- / single-geo cells, rotate over the
    channels, and keep each test's own carryover out of every other test's window on
    the same geo-channel, so each lift is attributable to one test.
    """
    n_geos, n_weeks, n_ch = bau.shape
    if n_tests and n_weeks < 8 + post + 2:
        raise DataError(
            f"n_weeks={n_weeks} is too short for lift tests; use >= 14 weeks or n_lift_tests=0"
        )
    tests: list[LiftTest] = []
    busy: list[tuple[int, int, int, int]] = []  # (geo, channel, first, last) weeks touched
    for i in range(n_tests):
        kind_up = i % 2 == 0
        multi = i % 4 in (0, 3) and n_geos > 1
        for attempt in range(2000):
            # the channel this test is meant for first; any channel if it never fits
            c = i % n_ch if attempt < 500 else int(rng.integers(n_ch))
            size = int(rng.integers(2, 4)) if multi else 1
            cell = rng.choice(n_geos, size=min(size, n_geos), replace=False)
            geos = tuple(sorted(cell.tolist()))
            length = int(rng.integers(4, 9))
            start = int(rng.integers(1, n_weeks - length - post + 1))
            end, measure_end = start + length - 1, start + length - 1 + post
            last = max(measure_end, end + max_lag - 1)
            live = (bau[list(geos), start:end + 1, c] > 0).mean(axis=1)
            if live.min() >= 0.75 and not _overlaps(busy, geos, c, start, last):
                break
        else:
            raise DataError(
                f"could not place {n_tests} non-overlapping lift tests in {n_weeks} weeks; "
                "use fewer tests or more weeks"
            )
        mult = float(rng.uniform(1.5, 3.0)) if kind_up else 0.0
        tests.append(LiftTest(c, geos, start, end, measure_end, mult))
        busy += [(g, c, start, last) for g in geos]
    return tests


def designed_tests(
    design: Sequence[dict], channels: list[str], geos: list[str], n_weeks: int, max_lag: int,
    bau: np.ndarray,
) -> list[LiftTest]:
    """Planned tests, checked: known channel and geos, inside the panel, no overlap, and
    the channel live in the window (a go-dark in a pause would measure nothing)."""
    tests: list[LiftTest] = []
    busy: list[tuple[int, int, int, int]] = []
    for i, d in enumerate(design):
        where = f"lift_design[{i}]"
        unknown = set(d) - {"channel", "geos", "start", "weeks", "multiplier", "post"}
        if unknown:
            raise DataError(f"{where}: unknown key(s) {sorted(unknown)}")
        if d.get("channel") not in channels:
            raise DataError(f"{where}: channel {d.get('channel')!r} is not one of {list(channels)}")
        missing = [g for g in d.get("geos", []) if g not in geos]
        if missing or not d.get("geos"):
            raise DataError(f"{where}: geos {missing or d.get('geos')!r} are not in the panel "
                            f"{geos[:3]}...")
        start, length = int(d.get("start", -1)), int(d.get("weeks", 0))
        post, mult = int(d.get("post", 4)), float(d.get("multiplier", -1))
        if start < 0 or length < 1 or post < 0 or start + length + post > n_weeks:
            raise DataError(f"{where}: weeks {start}..{start + length + post - 1} fall outside "
                            f"the panel's 0..{n_weeks - 1} (start, weeks and post must fit)")
        if mult < 0 or mult == 1.0:
            raise DataError(f"{where}: multiplier {mult} must be 0 (go-dark) or positive and not 1")
        c = channels.index(d["channel"])
        cell = tuple(sorted(geos.index(g) for g in d["geos"]))
        end, measure_end = start + length - 1, start + length - 1 + post
        last = max(measure_end, end + max_lag - 1)
        if _overlaps(busy, cell, c, start, last):
            raise DataError(f"{where}: overlaps another test of {d['channel']} in the same geo "
                            "within its carryover; move it so each lift has one cause")
        dark = [geos[g] for g in cell if not (bau[g, start:end + 1, c] > 0).any()]
        if dark:
            raise DataError(f"{where}: {d['channel']} has no spend in {dark} in weeks "
                            f"{start}..{end} (a pause in its plan); move the test")
        tests.append(LiftTest(c, cell, start, end, measure_end, mult))
        busy += [(g, c, start, last) for g in cell]
    return tests


def apply_tests(bau: np.ndarray, tests: list[LiftTest]) -> np.ndarray:
    """Actual spend: BAU with each test's heavy-up or go-dark applied in its window."""
    spend = bau.copy()
    for t in tests:
        spend[list(t.geos), t.start:t.end + 1, t.channel] *= t.multiplier
    return spend


def lift_table(
    rng: np.random.Generator, tests: list[LiftTest], bau: np.ndarray, spend: np.ndarray,
    per_spend: np.ndarray, p: MediaParams, channels: list[str], geos: list[str],
    weeks: np.ndarray, noise: float, bits: int | None = None,
) -> pl.DataFrame:
    """True lift = noise-free KPI(actual) - KPI(actual with the test undone), start..measure_end.
    Inputs are formed as the panel's are (``round_bits`` with ``bits``, sim/precision.py).

    Tests never touch the same geo-channel within each other's carryover, so "the test
    undone" is the business-as-usual spend. The standard error is ``noise * |true lift|``.
    """
    rows = []
    actual = media_contributions(round_bits(spend * per_spend, bits), p)
    for i, t in enumerate(tests):
        g, c = list(t.geos), t.channel
        window = slice(t.start, t.end + 1)
        undone = spend.copy()
        undone[g, window, c] = bau[g, window, c]
        without = media_contributions(round_bits(undone * per_spend, bits), p)
        diff = (actual - without)[g, t.start:t.measure_end + 1, c]
        true_lift = float(diff.sum())
        se = noise * abs(true_lift)
        rows.append(dict(
            test_id=f"lift_{i + 1:02d}", channel=channels[c], geos=";".join(geos[j] for j in g),
            start=weeks[t.start].item(), end=weeks[t.end].item(),
            measure_end=weeks[t.measure_end].item(),
            spend_delta=float((spend[g, window, c] - bau[g, window, c]).sum()),
            lift=true_lift + se * float(rng.standard_normal()), lift_se=se, true_lift=true_lift,
        ))
    return pl.DataFrame(rows, schema=LIFT_SCHEMA)


def lift_bau_frame(
    tests: list[LiftTest], bau: np.ndarray, per_spend: np.ndarray, geos: list[str],
    weeks: np.ndarray, bits: int | None = None,
) -> pl.DataFrame:
    """Business-as-usual spend and input of every test geo-week: each test's counterfactual."""
    rows = [
        (f"lift_{i + 1:02d}", geos[g], weeks[w].item(), float(bau[g, w, t.channel]),
         float(round_bits(bau[g, w, t.channel] * per_spend[g, w, t.channel], bits)))
        for i, t in enumerate(tests) for g in t.geos for w in range(t.start, t.end + 1)
    ]
    schema = {"test_id": pl.String, "geo": pl.String, "week": pl.Date, "spend": pl.Float64,
              "input": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")
