"""Run a designed Geo-Lift test in a simulated market, so the measurement loop is testable.

The honest set-up: simulate a longer panel than the model sees, fit on its first
``fit_weeks`` weeks, and run the test in the hidden weeks after them. The test
changes the market's own spend there (heavy-up: x multiplier, go-dark: 0) in the
test geos and weeks; the KPI moves by exactly what the truth's forward code says
the spend change does (same weekly noise, same baseline: the same market with
other media); the measured lift is the true lift over start..measure_end plus
Normal noise with the test's stated standard error. Out comes the panel extended
to the measured end, with the test's spend in it, and the lift-test row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from geommm.errors import DataError
from geommm.sim.lift import LIFT_SCHEMA
from geommm.sim.precision import round_bits, round_floats
from geommm.sim.store import SimulatedPanel
from geommm.sim.truth import media_contributions, true_roi

__all__ = ["DesignedTestRun", "panel_until", "run_designed_test", "true_roi_until"]


@dataclass(frozen=True)
class DesignedTestRun:
    """A designed test run in the simulated market."""

    panel: pl.DataFrame  # the simulated panel up to the test's measured end, test spend in it
    lift_tests: pl.DataFrame  # one row (LIFT_SCHEMA): measured lift, its se and the true lift
    true_lift: float


def run_designed_test(
    simulated: SimulatedPanel,
    test: Mapping[str, Any],
    *,
    fit_weeks: int,
    lift_se: float | None = None,
    seed: int = 0,
    test_id: str | None = None,
) -> DesignedTestRun:
    """Run ``test`` (a designed test: channel, geos, start, end, measure_end,
    spend_multiplier and lift_se, e.g. a row of ``fit.design_lift_tests()``) in the
    weeks after the first ``fit_weeks`` of ``simulated``. ``lift_se`` overrides the
    test's stated standard error of the measured lift."""
    truth = simulated.truth
    frame = simulated.panel.sort("geo", "week")
    weeks = frame["week"].unique().sort().to_numpy().astype("datetime64[D]")
    geos, chans = list(truth.geos), list(truth.channels)
    G, T = len(geos), len(weeks)
    where = "run_designed_test"
    channel = test.get("channel")
    if channel not in chans:
        raise DataError(f"{where}: channel {channel!r} is not one of {chans}")
    cell = test.get("geos")
    cell = cell.split(";") if isinstance(cell, str) else list(cell or [])
    if not cell or any(g not in geos for g in cell):
        raise DataError(f"{where}: geos {cell!r} are not all in the simulated panel")
    start, end, measure_end = (_week(test.get(k), weeks, where, k) for k in ("start", "end", "measure_end"))
    if not fit_weeks <= start <= end <= measure_end:
        raise DataError(
            f"{where}: the test ({weeks[start]}..{weeks[measure_end]}) must lie after the "
            f"{fit_weeks} fitted weeks (up to {weeks[fit_weeks - 1]}), start <= end <= measure_end"
        )
    mult = float(test.get("spend_multiplier", np.nan))
    se = float(test.get("lift_se", np.nan) if lift_se is None else lift_se)
    if not (np.isfinite(mult) and mult >= 0 and mult != 1.0) or not (np.isfinite(se) and se > 0):
        raise DataError(f"{where}: need spend_multiplier >= 0 (not 1) and lift_se > 0, got "
                        f"{mult} and {se}")
    c, g_idx = chans.index(channel), [geos.index(g) for g in cell]
    spend = _cube(frame, [truth.channel_spend[x] for x in chans], G, T)
    inputs = _cube(frame, [truth.channel_inputs[x] for x in chans], G, T)
    new_spend, new_inputs = spend.copy(), inputs.copy()
    bits = simulated.settings.get("significant_bits")  # as the panel was rounded
    new_spend[g_idx, start:end + 1, c] = round_bits(new_spend[g_idx, start:end + 1, c] * mult, bits)
    new_inputs[g_idx, start:end + 1, c] = round_bits(new_inputs[g_idx, start:end + 1, c] * mult, bits)
    params = truth.media_params  # the market's response stays as it was drawn
    change = media_contributions(new_inputs, params) - media_contributions(inputs, params)
    true_lift = float(change[g_idx, start:measure_end + 1, c].sum())
    lift = true_lift + se * float(np.random.default_rng(seed).standard_normal())
    revenue = frame["revenue"].to_numpy().reshape(G, T) + change.sum(axis=2)
    columns = {"revenue": revenue.ravel()}
    for i, x in enumerate(chans):
        columns[truth.channel_spend[x]] = new_spend[:, :, i].ravel()
        columns[truth.channel_inputs[x]] = new_inputs[:, :, i].ravel()
    extended = frame.with_columns(pl.Series(k, v) for k, v in columns.items())
    row = {
        "test_id": test_id or str(test.get("test_id") or "designed_01"), "channel": channel,
        "geos": ";".join(cell), "start": weeks[start].item(), "end": weeks[end].item(),
        "measure_end": weeks[measure_end].item(),
        "spend_delta": float((new_spend - spend)[g_idx, start:end + 1, c].sum()),
        "lift": lift, "lift_se": se, "true_lift": true_lift,
    }
    extended = round_floats(extended, bits, columns=["revenue"])  # spend and inputs: above
    lifts = round_floats(pl.DataFrame([row], schema=LIFT_SCHEMA), bits)
    return DesignedTestRun(panel_until(extended, measure_end + 1), lifts, lifts["true_lift"].item())


def panel_until(panel: pl.DataFrame, n_weeks: int) -> pl.DataFrame:
    """The first ``n_weeks`` weeks of a simulated panel (what the model sees so far)."""
    weeks = panel["week"].unique().sort()
    if not 1 <= n_weeks <= len(weeks):
        raise DataError(f"n_weeks={n_weeks} must be within the panel's 1..{len(weeks)} weeks")
    return panel.filter(pl.col("week") <= weeks[n_weeks - 1])


def true_roi_until(simulated: SimulatedPanel, n_weeks: int, national: bool = True,
                   panel: pl.DataFrame | None = None) -> np.ndarray:
    """True ROI over the first ``n_weeks`` weeks (carryover after them included), per channel
    (``national``) or (geo, channel): the truth for a fit on those weeks."""
    truth = simulated.truth
    frame = panel_until((simulated.panel if panel is None else panel).sort("geo", "week"), n_weeks)
    G, chans = len(truth.geos), list(truth.channels)
    spend = _cube(frame, [truth.channel_spend[x] for x in chans], G, n_weeks)
    inputs = _cube(frame, [truth.channel_inputs[x] for x in chans], G, n_weeks)
    return true_roi(inputs, spend, truth.media_params, national=national)


def _cube(frame: pl.DataFrame, columns: list[str], n_geos: int, n_weeks: int) -> np.ndarray:
    """(geo, week, channel) from a panel sorted by geo then week."""
    return np.stack([frame[c].cast(pl.Float64).to_numpy().reshape(n_geos, n_weeks) for c in columns], -1)


def _week(value, weeks: np.ndarray, where: str, name: str) -> int:
    try:
        day = np.datetime64(str(value)[:10], "D")
    except ValueError:
        raise DataError(f"{where}: {name}={value!r} is not a date") from None
    hit = np.flatnonzero(weeks == day)
    if not hit.size:
        raise DataError(f"{where}: {name}={value} is not a week of the simulated panel "
                        f"({weeks[0]}..{weeks[-1]})")
    return int(hit[0])
