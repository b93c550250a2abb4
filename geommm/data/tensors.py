"""A panel as xarray tensors (geo, time, channel, control) and back.

The model's arrays are built from the panel directly; this is the labelled form a
user hands to other tools (or gets back from them), with the column names kept in
the Dataset's attributes so the round trip restores the panel exactly.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from geommm.data.panel import Panel
from geommm.data.validate import as_list
from geommm.errors import DataError

_XARRAY_META = "geommm_panel"


def panel_to_xarray(
    panel: Panel,
    kpi: str | None = None,
    media: Sequence[str] | None = None,
    spend: Sequence[str] | None = None,
    controls: Sequence[str] | None = None,
    channel_names: Sequence[str] | None = None,
) -> Any:
    """xarray Dataset with coords geo, time, channel, control (arguments default to roles).

    Variables present when their columns are known: ``kpi (geo, time)``,
    ``media``/``spend`` ``(geo, time, channel)``, ``controls (geo, time, control)``,
    ``population (geo)``.
    """
    import xarray as xr

    kpi = kpi if kpi is not None else panel.roles.get("kpi")
    picked = {
        "media": as_list(media if media is not None else panel.roles.get("media"), "media"),
        "spend": as_list(spend if spend is not None else panel.roles.get("spend"), "spend"),
        "control": as_list(
            controls if controls is not None else panel.roles.get("control"), "controls"
        ),
    }
    if kpi is not None:
        panel._check_role([kpi], "kpi")
    for role, names in picked.items():
        panel._check_role(names, role)
    channels = _channel_names(panel, picked["media"], picked["spend"], channel_names)
    population = panel.roles.get("population")
    coords = {
        "geo": list(panel.geos),
        "time": panel.times,
        "channel": channels,
        "control": picked["control"],
    }
    data: dict[str, Any] = {}
    if kpi is not None:
        data["kpi"] = (("geo", "time"), panel.values([kpi])[:, :, 0])
    if picked["media"]:
        data["media"] = (("geo", "time", "channel"), panel.values(picked["media"]))
    if picked["spend"]:
        data["spend"] = (("geo", "time", "channel"), panel.values(picked["spend"]))
    if picked["control"]:
        data["controls"] = (("geo", "time", "control"), panel.values(picked["control"]))
    if population is not None:
        data["population"] = (("geo",), panel.geo_values(population))
    meta = {
        "geo_col": panel.geo_col,
        "time_col": panel.time_col,
        "source": panel.source,
        "columns": {"kpi": kpi, **picked, "population": population},
    }
    return xr.Dataset(data, coords=coords, attrs={_XARRAY_META: json.dumps(meta)})

def _channel_names(
    panel: Panel, media: list[str], spend: list[str], names: Sequence[str] | None
) -> list[str]:
    if media and spend and len(media) != len(spend):
        raise DataError(
            f"{panel.source}: {len(media)} media columns {media} but {len(spend)} spend "
            f"columns {spend}; give one spend column per media column, in the same order."
        )
    columns = media or spend
    channels = as_list(names, "channel_names") if names is not None else list(columns)
    if len(channels) != len(columns):
        raise DataError(
            f"channel_names {channels} has {len(channels)} names for {len(columns)} "
            f"channel column(s) {columns}."
        )
    if len(set(channels)) != len(channels):
        raise DataError(f"channel_names must be unique, got {channels}.")
    return channels

def panel_from_xarray(ds: Any) -> Panel:
    """Rebuild a panel from :meth:`to_xarray` output (column names restored from attrs)."""
    missing_dims = [d for d in ("geo", "time") if d not in ds.coords]
    if missing_dims:
        raise DataError(f"<xarray>: the Dataset lacks coordinate(s) {missing_dims}.")
    meta = json.loads(ds.attrs.get(_XARRAY_META, "{}"))
    names = meta.get("columns", {})
    geo_col, time_col = meta.get("geo_col", "geo"), meta.get("time_col", "time")
    geos = np.asarray(ds["geo"].values).astype(str)
    times = np.asarray(ds["time"].values).astype("datetime64[D]")
    n_times = len(times)
    table: dict[str, np.ndarray] = {
        geo_col: np.repeat(geos, n_times),
        time_col: np.tile(times, len(geos)),
    }
    roles: dict[str, Any] = {}

    def put(column: str, flat: np.ndarray) -> None:
        if column in table and not np.array_equal(table[column], flat, equal_nan=True):
            raise DataError(
                f"<xarray>: two variables map to column {column!r} with different values."
            )
        table[column] = flat

    if "kpi" in ds:
        roles["kpi"] = names.get("kpi") or "kpi"
        put(roles["kpi"], ds["kpi"].transpose("geo", "time").values.reshape(-1))
    for var, role, dim, prefix in (
        ("media", "media", "channel", "media_"),
        ("spend", "spend", "channel", "spend_"),
        ("controls", "control", "control", ""),
    ):
        if var not in ds:
            continue
        labels = [str(c) for c in ds[dim].values]
        columns = names.get(role) or [prefix + c for c in labels]
        cube = ds[var].transpose("geo", "time", dim).values
        for i, column in enumerate(columns):
            put(column, cube[:, :, i].reshape(-1))
        roles[role] = columns
    if "population" in ds:
        roles["population"] = names.get("population") or "population"
        put(roles["population"], np.repeat(ds["population"].transpose("geo").values, n_times))
    frame = pl.DataFrame(table)
    source = meta.get("source", "<xarray>")
    return Panel(frame, geo_col, time_col, source=source, roles=roles)
