"""What-if plans: the KPI media would drive under a different spend plan.

A plan is either multipliers of the observed spend (per channel, or per geo x
channel) or a spend table by geo, week and channel for weeks inside the panel
and/or after it. Cells a spend table does not list keep the actual spend inside
the panel and, after it, "business as usual": the most recent weeks repeated.
Spend becomes model input (exposure) at the cell's own observed price of
exposure, so a plan that restates the actual spend changes nothing.

KPI here is incremental KPI driven by media over the plan's weeks, carryover
tail included (as in ROI); ``change`` is the plan minus the actual /
business-as-usual plan, per posterior draw.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from geommm.analysis.draws import summarise
from geommm.analysis.forward import ForwardModel, as_forward
from geommm.analysis.curves import NATIONAL
from geommm.errors import DataError
from geommm.model.design import ModelData

ALL_MEDIA = "all media"
TIME_COLUMNS = ("time", "week", "date")


@dataclass
class MediaPlan:
    """Reference (actual / business-as-usual) and scenario media and spend, (G, T, C)."""

    reference_input: np.ndarray
    reference_spend: np.ndarray
    input: np.ndarray
    spend: np.ndarray


def scenario(
    fit, spend_plan, hdi_prob: float = 0.9, time_column: str | None = None
) -> pl.DataFrame:
    """KPI from media under ``spend_plan`` and its change against the actual plan.

    ``spend_plan``: a dict ``{channel: multiplier}``; a Polars table ``[geo,] channel,
    multiplier``; or a Polars table ``geo, <week>, channel, spend`` (the week column
    named like the panel's, or time/week/date). Rows: each geo x channel, each geo's
    "all media", and the same for "national". Columns: geo, channel, current_spend,
    spend, spend_change, kpi_mean, kpi_hdi_low, kpi_hdi_high, change_mean,
    change_hdi_low, change_hdi_high.
    """
    forward = as_forward(fit)
    data = forward.data
    if isinstance(spend_plan, Mapping):
        plan = multiplier_plan(data, _multipliers_from_dict(spend_plan, data))
    elif _is_frame(spend_plan):
        table = spend_plan if isinstance(spend_plan, pl.DataFrame) else pl.from_pandas(spend_plan)
        if "multiplier" in table.columns:
            plan = multiplier_plan(data, _multipliers_from_table(table, data))
        else:
            panel_time = getattr(getattr(fit, "panel", None), "time_col", None)
            plan = spend_table_plan(data, table, time_column or panel_time)
    else:
        raise DataError(
            "spend_plan must be a dict {channel: multiplier}, a table with columns [geo,] "
            "channel, multiplier, or a table geo, week, channel, spend; "
            f"got {type(spend_plan).__name__}"
        )
    return _table(forward, plan, hdi_prob)


# ------------------------------------------------------------------- plan builders
def multiplier_plan(data: ModelData, multipliers: np.ndarray) -> MediaPlan:
    """Observed weekly plan with each geo x channel scaled by ``multipliers`` (G, C)."""
    m = multipliers[:, None, :]
    return MediaPlan(data.media_input, data.spend, data.media_input * m, data.spend * m)


def spend_table_plan(data: ModelData, table: pl.DataFrame, time_column: str | None) -> MediaPlan:
    """Scenario from a long spend table; weeks after the panel extend the timeline."""
    time_col = _time_column(table, time_column)
    missing = [c for c in ("geo", "channel", "spend") if c not in table.columns]
    if missing:
        raise DataError(
            f"the spend plan lacks column(s) {missing}; it needs geo, {time_col}, channel, spend"
        )
    g_idx = _index(table["geo"].cast(pl.String).to_list(), data.geos, "geo")
    c_idx = _index(table["channel"].cast(pl.String).to_list(), data.channels, "channel")
    t_idx = _week_index(table[time_col], data.times, time_col)
    spend = table["spend"].cast(pl.Float64).to_numpy()
    bad = ~np.isfinite(spend) | (spend < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"spend plan row {i} (geo {data.geos[g_idx[i]]!r}, channel "
            f"{data.channels[c_idx[i]]!r}) has spend {spend[i]}; spend must be >= 0"
        )
    keys = np.stack([g_idx, t_idx, c_idx], axis=1)
    if len(np.unique(keys, axis=0)) < len(keys):
        raise DataError(
            "the spend plan lists some geo / week / channel more than once; keep one row each"
        )
    ref_input, ref_spend = business_as_usual(data, max(data.n_times, int(t_idx.max()) + 1))
    price = np.where(
        ref_spend > 0,
        ref_input / np.where(ref_spend > 0, ref_spend, 1.0),
        data.input_per_spend[:, None, :],
    )  # model input per unit of spend
    new_input, new_spend = ref_input.copy(), ref_spend.copy()
    new_spend[g_idx, t_idx, c_idx] = spend
    new_input[g_idx, t_idx, c_idx] = spend * price[g_idx, t_idx, c_idx]
    return MediaPlan(ref_input, ref_spend, new_input, new_spend)


def business_as_usual(data: ModelData, n_weeks: int) -> tuple[np.ndarray, np.ndarray]:
    """Observed input and spend, extended to ``n_weeks`` by repeating the most recent weeks."""
    extra = n_weeks - data.n_times
    if extra <= 0:
        return data.media_input, data.spend
    window = min(extra, data.n_times)
    source = data.n_times - window + np.arange(extra) % window
    return (
        np.concatenate([data.media_input, data.media_input[:, source]], axis=1),
        np.concatenate([data.spend, data.spend[:, source]], axis=1),
    )


# ------------------------------------------------------------------------- result
def _media_kpi(forward: ForwardModel, media: np.ndarray) -> np.ndarray:
    """(D, G, C) KPI driven by ``media`` over its weeks plus the carryover tail."""
    tail = forward.data.max_lag - 1
    return forward.media_kpi(media, carryover_weeks=tail)


def _table(forward: ForwardModel, plan: MediaPlan, hdi_prob: float) -> pl.DataFrame:
    data = forward.data
    new = _media_kpi(forward, plan.input)
    ref = _media_kpi(forward, plan.reference_input)
    spend, ref_spend = plan.spend.sum(axis=1), plan.reference_spend.sum(axis=1)  # (G, C)
    labels_geo = [*data.geos, NATIONAL]
    labels_ch = [*data.channels, ALL_MEDIA]

    joint_new = joint_change = None
    tail = data.max_lag - 1  # a log KPI: the channels' counterfactuals overlap; all media exactly
    if (joint_new := forward.link.joint_media_kpi(forward, plan.input, tail)) is not None:
        joint_change = joint_new - forward.link.joint_media_kpi(forward, plan.reference_input, tail)

    def with_totals(x: np.ndarray, all_media: np.ndarray | None = None) -> np.ndarray:
        """(..., G, C) -> (..., G + 1, C + 1): national row, all-media column."""
        total = x.sum(axis=-1, keepdims=True) if all_media is None else all_media[..., None]
        x = np.concatenate([x, total], axis=-1)
        return np.concatenate([x, x.sum(axis=-2, keepdims=True)], axis=-2)

    kpi = summarise(with_totals(new, joint_new), hdi_prob)
    change = summarise(with_totals(new - ref, joint_change), hdi_prob)
    spend_t, ref_t = with_totals(spend), with_totals(ref_spend)
    n_g, n_c = len(labels_geo), len(labels_ch)
    return pl.DataFrame(
        {
            "geo": np.repeat(labels_geo, n_c),
            "channel": np.tile(labels_ch, n_g),
            "current_spend": ref_t.reshape(-1),
            "spend": spend_t.reshape(-1),
            "spend_change": (spend_t - ref_t).reshape(-1),
            "kpi_mean": kpi["mean"].reshape(-1),
            "kpi_hdi_low": kpi["hdi_low"].reshape(-1),
            "kpi_hdi_high": kpi["hdi_high"].reshape(-1),
            "change_mean": change["mean"].reshape(-1),
            "change_hdi_low": change["hdi_low"].reshape(-1),
            "change_hdi_high": change["hdi_high"].reshape(-1),
        }
    )


# ------------------------------------------------------------------------ parsing
def _is_frame(obj) -> bool:
    return isinstance(obj, pl.DataFrame) or type(obj).__name__ == "DataFrame"


def _multipliers_from_dict(plan: Mapping, data: ModelData) -> np.ndarray:
    m = np.ones((data.n_geos, data.n_channels))
    for channel, value in plan.items():
        c = _index([channel], data.channels, "channel")[0]
        m[:, c] = _multiplier(value, f"channel {channel!r}")
    return m


def _multipliers_from_table(table: pl.DataFrame, data: ModelData) -> np.ndarray:
    if "channel" not in table.columns:
        raise DataError("a multiplier plan needs a channel column (and optionally geo)")
    m = np.ones((data.n_geos, data.n_channels))
    has_geo = "geo" in table.columns
    rows = sorted(table.iter_rows(named=True), key=lambda r: has_geo and r["geo"] is not None)
    for r in rows:  # channel-wide rows first, so geo rows override them
        c = _index([r["channel"]], data.channels, "channel")[0]
        geo = r["geo"] if has_geo else None
        where = f"channel {r['channel']!r}" + ("" if geo is None else f" in geo {geo!r}")
        value = _multiplier(r["multiplier"], where)
        if geo is None:
            m[:, c] = value
        else:
            m[_index([geo], data.geos, "geo")[0], c] = value
    return m


def _multiplier(value, where: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value) or value < 0:
        raise DataError(
            f"spend multiplier for {where} must be a number >= 0 (1 = as spent), got {value}"
        )
    return value


def _index(names: list, known: tuple[str, ...], what: str) -> np.ndarray:
    position = {n: i for i, n in enumerate(known)}
    unknown = sorted({str(n) for n in names if n not in position})
    if unknown:
        raise DataError(
            f"the plan names unknown {what}(s) {unknown[:10]}; the model has {list(known)[:20]}"
        )
    return np.array([position[n] for n in names], dtype=int)


def _time_column(table: pl.DataFrame, preferred: str | None) -> str:
    for name in (preferred, *TIME_COLUMNS):
        if name and name in table.columns:
            return name
    raise DataError(
        f"the spend plan needs a week column ({preferred or 'time'}); it has {table.columns}"
    )


def _week_index(column: pl.Series, times: np.ndarray, name: str) -> np.ndarray:
    """Week positions counted from the panel's first week; later weeks extend the timeline."""
    series = column.str.to_date() if column.dtype == pl.String else column.cast(pl.Date)
    if series.null_count():
        raise DataError(f"the spend plan's {name!r} column has missing or unreadable dates")
    days = (series.to_numpy().astype("datetime64[D]") - times[0]).astype(int)
    off_grid = days % 7 != 0
    if off_grid.any() or (days < 0).any():
        i = int(np.argmax(off_grid | (days < 0)))
        raise DataError(
            f"spend plan week {series[i]} is not one of the panel's weeks or a later week on the "
            f"same weekday (the panel starts {times[0]}, weekly)"
        )
    return days // 7
