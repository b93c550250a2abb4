"""Geo-Lift calibration: each experiment's model-implied lift, adstock-aware, per geo.

The experiment happened inside the panel, so observed spend already holds the
heavy-up or go-dark. Business-as-usual (BAU) spend over the test window is the
actual spend minus ``spend_delta`` (spread in proportion to actual spend, evenly
where it is zero). Because adstock is linear, the BAU adstocked media is the
observed adstocked media minus the adstocked spend change; both go through each
geo's own saturation, and the difference, summed over the test geos and weeks
``start..measure_end`` (carryover included) and scaled back to KPI units, is the
implied lift. All tests are flattened into one list of (test, geo, week) cells so
the graph holds a single vectorised term, whatever the number of tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from geommm.errors import LiftTestError
from geommm.media import MediaTransform, lag_stack
from geommm.media.backend import xp_of
from geommm.model.synergy import synergy_lift


@dataclass
class LiftCells:
    """Precomputed cells of all lift tests (K cells over N tests)."""

    test_ids: tuple[str, ...]
    lift: np.ndarray  # (N,) measured lift, KPI units
    lift_se: np.ndarray  # (N,)
    geo_idx: np.ndarray  # (K,)
    time_idx: np.ndarray  # (K,)
    channel_idx: np.ndarray  # (K,)
    test_idx: np.ndarray  # (K,)
    delta_lagged: np.ndarray  # (K, L) scaled input change at t - l (actual - BAU)

    @property
    def n_tests(self) -> int:
        return len(self.test_ids)

    def membership(self) -> np.ndarray:
        """(N, K) 0/1 matrix summing cells into tests."""
        m = np.zeros((self.n_tests, len(self.test_idx)))
        m[self.test_idx, np.arange(len(self.test_idx))] = 1.0
        return m


def build_lift_cells(lifts: pl.DataFrame, data) -> LiftCells:
    """Turn validated lift-test rows into cells on the model's geo/time/channel grid.

    The caller reads and checks the tests with the data layer first
    (``geommm.data.read_lift_tests_for_panel``); the model never reads files.
    """
    geo_pos = {g: i for i, g in enumerate(data.geos)}
    chan_pos = {c: i for i, c in enumerate(data.channels)}
    times = data.times
    L = data.max_lag
    input_per_spend = data.input_per_spend
    cells: dict[str, list] = {k: [] for k in ("g", "t", "c", "i", "d")}
    ids, lift, se = [], [], []
    for i, row in enumerate(lifts.iter_rows(named=True)):
        tid = str(row["test_id"])
        channel = row["channel"]
        if channel not in chan_pos:
            raise LiftTestError(
                f"lift test {tid!r}: channel {channel!r} is not a media term of the model; "
                f"channels are {list(chan_pos)}"
            )
        geos = list(row["geo_list"]) if "geo_list" in row else str(row["geos"]).split(";")
        unknown = [g for g in geos if g not in geo_pos]
        if unknown:
            raise LiftTestError(f"lift test {tid!r}: geo(s) {unknown} are not in the panel")
        c = chan_pos[channel]
        if data.reach_frequency is not None and c in data.reach_frequency.channels:
            raise LiftTestError(f"lift test {tid!r}: channel {channel!r} is a reach & frequency channel; "
                                "lift tests on R&F channels are not supported yet (docs/reach_frequency.md)")
        g_idx = np.array([geo_pos[g] for g in geos])
        start, end = np.datetime64(row["start"], "D"), np.datetime64(row["end"], "D")
        measure_end = np.datetime64(row.get("measure_end") or row["end"], "D")
        window = np.flatnonzero((times >= start) & (times <= end))
        measured = np.flatnonzero((times >= start) & (times <= measure_end))
        if window.size == 0:
            raise LiftTestError(
                f"lift test {tid!r}: window {start}..{end} holds no week of the panel "
                f"({times[0]}..{times[-1]})"
            )
        actual = data.spend[np.ix_(g_idx, window, [c])][..., 0]  # (n_geos, n_weeks)
        typical = _typical_spend(data.spend[g_idx, :, c], window, L)
        delta_spend = _spread(float(row["spend_delta"]), actual, typical, tid)
        delta_input = delta_spend * input_per_spend[g_idx, c][:, None]
        delta_scaled = np.zeros((len(g_idx), data.n_times))
        delta_scaled[:, window] = delta_input / data.media_scale[g_idx, c][:, None]
        lagged = lag_stack(delta_scaled, L, time_axis=-1)  # (L, n_geos, T)
        for j, g in enumerate(g_idx):
            for t in measured:
                cells["g"].append(g)
                cells["t"].append(t)
                cells["c"].append(c)
                cells["i"].append(i)
                cells["d"].append(lagged[:, j, t])
        ids.append(tid)
        lift.append(float(row["lift"]))
        se.append(float(row["lift_se"]))
    return LiftCells(
        test_ids=tuple(ids),
        lift=np.array(lift),
        lift_se=np.array(se),
        geo_idx=np.array(cells["g"], dtype=int),
        time_idx=np.array(cells["t"], dtype=int),
        channel_idx=np.array(cells["c"], dtype=int),
        test_idx=np.array(cells["i"], dtype=int),
        delta_lagged=np.array(cells["d"]).reshape(-1, L),
    )


def _typical_spend(spend: np.ndarray, window: np.ndarray, lookback: int) -> np.ndarray:
    """(n_geos,) weekly spend of each test geo just outside the window (before, else after).

    Used to share a go-dark's missing spend between geos of different size."""
    start, stop = window[0], window[-1] + 1
    before = spend[:, max(0, start - max(lookback, 4)) : start]
    after = spend[:, stop : stop + max(lookback, 4)]
    for part in (before, after):
        if part.size and part.sum() > 0:
            return part.mean(axis=1)
    return np.ones(spend.shape[0])


def _spread(spend_delta: float, actual: np.ndarray, typical: np.ndarray, test_id: str) -> np.ndarray:
    """Spend change per (geo, week) of the window.

    Proportional to actual spend where there is some. Where there is none (a
    go-dark), business-as-usual spend is unknown: it is shared between geos in
    proportion to their typical spend around the window and evenly over weeks,
    which beats an even split when test geos differ in size.
    """
    total = actual.sum()
    if total > 0:
        if spend_delta > total * (1 + 1e-9):
            raise LiftTestError(
                f"lift test {test_id!r}: spend_delta {spend_delta:g} is larger than the actual "
                f"spend {total:g} in the test geos and window, so business-as-usual spend would "
                "be negative; spend_delta is actual minus business-as-usual spend"
            )
        return spend_delta * actual / total
    if spend_delta > 0:
        raise LiftTestError(
            f"lift test {test_id!r}: positive spend_delta {spend_delta:g} (a heavy-up) but the "
            "panel shows no spend of that channel in the test geos and window"
        )
    share = typical / typical.sum() if typical.sum() > 0 else np.full(len(typical), 1 / len(typical))
    return np.broadcast_to((spend_delta * share / actual.shape[1])[:, None], actual.shape).copy()


def implied_lift(
    cells: LiftCells,
    transform: MediaTransform,
    params: dict[str, Any],
    adstocked: Any,
    kpi_scale: np.ndarray,
    log_level: Any = None,
) -> Any:
    """Implied lift per test (KPI units), for PyMC tensors or numpy with leading draw axes.

    ``adstocked`` is the observed adstocked scaled media ``(..., G, T, C)``; ``params``
    hold ``retention``, ``half_saturation``, ``slope`` ... and ``media_effect``, and with
    time-varying channels ``effect_multiplier`` ``(..., G, T, C)``: each cell's effect is
    the channel's effectiveness in that cell's week (a spring test informs spring).

    ``log_level`` ``(..., G, T)`` (a log KPI): the log of the expected scaled KPI with the
    media as observed, noise's ``sd^2 / 2`` included; each cell's lift is then the KPI
    with the test's spend minus the KPI without it, ``s e^level (1 - e^-(effect change))``.
    """
    g, t, c = cells.geo_idx, cells.time_idx, cells.channel_idx
    xp = xp_of(adstocked, params["media_effect"])
    weights = transform.weights(params, cells.delta_lagged.shape[1])
    w = weights[..., g, c, :]  # (..., K, L)
    actual = adstocked[..., g, t, c]
    bau = xp.maximum(actual - (w * cells.delta_lagged).sum(axis=-1), 0.0)
    sat = transform.saturate_cells(xp.stack([actual, bau], axis=-1), params, g, c)
    beta = params["media_effect"][..., g, c]
    if params.get("effect_multiplier") is not None:  # a varying channel: its effectiveness in the test's weeks
        beta = beta * params["effect_multiplier"][..., g, t, c]
    if log_level is None:
        diff = kpi_scale[g] * beta * (sat[..., 0] - sat[..., 1])
        if params.get("synergy_pairs"):  # synergy(a, b): the interaction moves with the tested channel
            diff = diff + synergy_lift(cells, transform, params, adstocked, sat[..., 0] - sat[..., 1], kpi_scale)
    else:  # a log KPI (no synergy there: formula/log_kpi.py refuses the pair)
        diff = kpi_scale[g] * xp.exp(log_level[..., g, t]) * -xp.expm1(-beta * (sat[..., 0] - sat[..., 1]))
    if xp is np:
        return diff @ cells.membership().T
    import pytensor.tensor as pt

    return pt.dot(pt.as_tensor(cells.membership()), diff)
