"""The validated geo x week panel the model is built on.

A :class:`Panel` is only ever constructed from data that passed every check
in ``geommm/data/schemas/panel.schema.json``: unique cells, weekly steps, a complete
grid. Columns get their roles (kpi, media, spend, control, population) at read
time or later through :meth:`Panel.require`, so the model can declare what it
needs and get a precise error when the data do not provide it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from geommm.data.columns import check_varies, holds_numbers
from geommm.data.io import DATAFRAME_SOURCE, TableSource, parse_dates, read_table
from geommm.data.grid import check_grid
from geommm.data.schema import Rule, load_schema
from geommm.data.validate import (
    LABEL,
    as_list,
    check_rule,
    require_columns,
    with_cell_labels,
    with_row_labels,
)
from geommm.errors import DataError

__all__ = ["Panel", "read_panel", "ROLES"]

ROLES = ("kpi", "media", "spend", "control", "population")
_ROLE_ALIASES = {"controls": "control"}
# What values() needs to hand out a float array: numbers, nothing missing.
_PLAIN_NUMBERS = Rule(
    name="values", description="any column read as numbers", kind="numeric", finite=True,
    accept_boolean=True,
)


def read_panel(
    source: TableSource,
    geo: str = "geo",
    time: str = "time",
    *,
    kpi: str | None = None,
    media: Sequence[str] | None = None,
    spend: Sequence[str] | None = None,
    controls: Sequence[str] | None = None,
    population: str | None = None,
    date_format: str | None = None,
) -> Panel:
    """Read and validate a geo x week panel from CSV/Parquet path, polars or pandas DataFrame.

    Roles are optional here; any given are checked now, the rest when the model
    calls :meth:`Panel.require`. Every other column that holds numbers is checked
    now too: no missing or infinite values and no stray text among the numbers
    (rules that depend on a role, such as "spend is never negative", wait for it). Raises :class:`~geommm.errors.DataError` (or its
    subclass ``SchemaError``) naming the source, column and offending rows: as
    ``(geo, week)`` cells once the keys parse, before that as ``row N`` counting
    data rows from 0 (header excluded, input order).
    """
    table, name = read_table(source, text_columns=[geo])
    roles = {
        "kpi": kpi,
        "media": media,
        "spend": spend,
        "control": controls,
        "population": population,
    }
    return Panel(
        table,
        geo,
        time,
        source=name,
        roles={k: v for k, v in roles.items() if v is not None},
        date_format=date_format,
    )


class Panel:
    """A validated geo x week table sorted by (geo, time), plus the roles of its columns."""

    def __init__(
        self,
        frame: pl.DataFrame,
        geo: str = "geo",
        time: str = "time",
        *,
        source: str = DATAFRAME_SOURCE,
        roles: Mapping[str, str | Sequence[str]] | None = None,
        date_format: str | None = None,
    ) -> None:
        self._schema = load_schema("panel")
        self._geo, self._time, self._source = geo, time, source
        self._frame = _validated_frame(frame, geo, time, source, date_format, self._schema)
        self._geos = tuple(self._frame[geo].unique().sort().to_list())
        self._times = self._frame[time].unique().sort().to_numpy()
        self._roles: dict[str, Any] = {}
        for role, columns in (roles or {}).items():
            self.require(as_list(columns, role), role)
        self._check_columns(self._unassigned_numbers(), _PLAIN_NUMBERS, "")

    # --- identity --------------------------------------------------------------------

    @property
    def frame(self) -> pl.DataFrame:
        """The data sorted by (geo, time); geo as text, time as ``pl.Date``."""
        return self._frame

    @property
    def geo_col(self) -> str:
        return self._geo

    @property
    def time_col(self) -> str:
        return self._time

    @property
    def source(self) -> str:
        return self._source

    @property
    def geos(self) -> tuple[str, ...]:
        return self._geos

    @property
    def times(self) -> np.ndarray:
        """Week dates as ``datetime64[D]``, sorted."""
        return self._times.copy()

    @property
    def n_geos(self) -> int:
        return len(self._geos)

    @property
    def n_times(self) -> int:
        return len(self._times)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self._frame.columns)

    @property
    def roles(self) -> dict[str, Any]:
        """Roles declared so far: kpi/population -> column name, others -> tuple of names."""
        return dict(self._roles)

    def __len__(self) -> int:
        return self._frame.height

    def __repr__(self) -> str:
        return f"Panel({self._source!r}: {self.summary()})"

    def summary(self) -> str:
        """One line: size, date range and column roles."""
        first, last = self._times[0], self._times[-1]
        geos = f"{self.n_geos} geo{'s' if self.n_geos != 1 else ''}"
        weeks = f"{self.n_times} week{'s' if self.n_times != 1 else ''}"
        parts = [f"{geos} x {weeks} ({first} .. {last})"]
        for role in ROLES:
            if role in self._roles:
                value = self._roles[role]
                parts.append(f"{role}: {value if isinstance(value, str) else ', '.join(value)}")
        return "; ".join(parts)

    # --- roles -----------------------------------------------------------------------

    def require(self, columns: str | Sequence[str], role: str) -> None:
        """Check that ``columns`` can play ``role`` and record it; raise naming the problem.

        Roles: ``kpi``, ``media``, ``spend``, ``control`` (alias ``controls``),
        ``population``. Repeated calls add columns to multi-column roles.
        """
        role = _role_name(role)
        names = as_list(columns, role)
        self._check_role(names, role)
        if not names:
            return
        self._check_one_role(names, role)
        if self._schema.roles[role].multiple:
            known = list(self._roles.get(role, ()))
            self._roles[role] = tuple(known + [n for n in names if n not in known])
        else:
            self._roles[role] = names[0]

    def _check_one_role(self, names: list[str], role: str) -> None:
        """A column plays one role (media and spend may share one: spend drives the response)."""
        shareable = {"media", "spend"}
        for other, taken in self._roles.items():
            if other == role or {other, role} <= shareable:
                continue
            taken = {taken} if isinstance(taken, str) else set(taken)
            clash = [n for n in names if n in taken]
            if clash:
                raise DataError(
                    f"{self._source}: column(s) {clash} cannot be both {other} and {role}; "
                    "give each role its own column."
                )

    def require_variation(self, column: str, role: str = "kpi") -> None:
        """Each geo's ``column`` must change over the weeks (checked before fitting on it).

        A KPI that is the same in every week of a geo (all zero: a geo without data)
        says nothing about what drives it and distorts every pooled result. A panel
        only predicted on may be that short, so this is not a rule of the role itself.
        """
        self.check([column], role)
        check_varies(self._frame, column, self._geo, f"{self._source}: column {column!r} ({role})")

    def check(self, columns: str | Sequence[str], role: str) -> None:
        """Like :meth:`require` but records nothing (e.g. for a one-off lift-test check)."""
        role = _role_name(role)
        self._check_role(as_list(columns, role), role)

    def _check_role(self, names: list[str], role: str) -> None:
        rule = self._schema.roles[role]
        if not rule.multiple and len(names) > 1:
            raise DataError(f"{self._source}: role {role!r} takes one column, got {names}.")
        self._check_columns(names, rule, role)

    def _check_columns(self, names: list[str], rule: Rule, what: str) -> None:
        require_columns(self._frame, names, source=self._source, what=what)
        keys = [n for n in names if n in (self._geo, self._time)]
        if keys:
            raise DataError(
                f"{self._source}: {keys} is the geo/time key and cannot be used as {what}."
            )
        table = with_cell_labels(
            self._frame.select(self._geo, self._time, *dict.fromkeys(names)), self._geo, self._time
        )
        for name in names:
            check_rule(
                table, name, rule, source=self._source, what=what, keys={"geo": self._geo}
            )

    def _unassigned_numbers(self) -> list[str]:
        """Columns without a role that hold numbers (or numbers with stray text).

        Whatever role such a column gets later, a gap, an infinity or a stray word
        is never usable and geommm never fills one in, so they are refused when
        the panel is read. Text columns (region names, codes) are left alone, and
        role rules such as "spend is never negative" wait until the role is known.
        """
        taken = {self._geo, self._time}
        for value in self._roles.values():
            taken.update([value] if isinstance(value, str) else value)
        return [c for c in self._frame.columns if c not in taken and holds_numbers(self._frame[c])]

    # --- numbers out -----------------------------------------------------------------

    def values(self, columns: str | Sequence[str]) -> np.ndarray:
        """Float64 array of shape (n_geos, n_times, len(columns)) in geo/time order."""
        names = as_list(columns, "columns")
        self._check_columns(names, _PLAIN_NUMBERS, "values")
        if not names:
            return np.zeros((self.n_geos, self.n_times, 0))
        flat = self._frame.select(pl.col(n).cast(pl.Float64) for n in names).to_numpy()
        return np.ascontiguousarray(flat.reshape(self.n_geos, self.n_times, len(names)))

    def geo_values(self, column: str) -> np.ndarray:
        """One value per geo (e.g. population), shape (n_geos,); raises if it varies in a geo."""
        constant = dataclasses.replace(_PLAIN_NUMBERS, constant_within="geo")
        self._check_columns([column], constant, "per-geo value")
        return self.values([column])[:, 0, 0].copy()

    # --- reshaping -------------------------------------------------------------------

    def select_times(
        self, start: str | dt.date | np.datetime64 | None = None,
        end: str | dt.date | np.datetime64 | None = None,
    ) -> Panel:
        """A new panel with the weeks in [start, end] (inclusive), re-validated."""
        lo, hi = _as_date(start, "start"), _as_date(end, "end")
        keep = pl.lit(True)
        if lo is not None:
            keep = keep & (pl.col(self._time) >= lo)
        if hi is not None:
            keep = keep & (pl.col(self._time) <= hi)
        subset = self._frame.filter(keep)
        if subset.height == 0:
            raise DataError(
                f"{self._source}: no weeks between {lo} and {hi}; the panel covers "
                f"{self._times[0]} .. {self._times[-1]}."
            )
        return Panel(subset, self._geo, self._time, source=self._source, roles=self._roles)

    def to_xarray(
        self,
        kpi: str | None = None,
        media: Sequence[str] | None = None,
        spend: Sequence[str] | None = None,
        controls: Sequence[str] | None = None,
        channel_names: Sequence[str] | None = None,
    ) -> Any:
        """xarray Dataset with coords geo, time, channel, control (arguments default to roles);
        see :func:`geommm.data.tensors.panel_to_xarray`."""
        from geommm.data.tensors import panel_to_xarray

        return panel_to_xarray(self, kpi, media, spend, controls, channel_names)

    @classmethod
    def from_xarray(cls, ds: Any) -> Panel:
        """Rebuild a panel from :meth:`to_xarray` output (column names restored from attrs)."""
        from geommm.data.tensors import panel_from_xarray

        return panel_from_xarray(ds)


def _validated_frame(
    table: pl.DataFrame, geo: str, time: str, source: str, date_format: str | None, schema: Any
) -> pl.DataFrame:
    """Apply the key and grid rules; return the table sorted by (geo, time)."""
    if table.height == 0 or table.width == 0:
        raise DataError(
            f"{source}: the table is empty ({table.height} rows, {table.width} columns); "
            "expected one row per geo and week."
        )
    if geo == time:
        raise DataError(f"{source}: geo and time must be different columns, both are {geo!r}.")
    require_columns(table, [geo, time], source=source, what="geo/time key")
    labelled = with_row_labels(table)
    geo_rule, time_rule = schema.keys["geo"], schema.keys["time"]
    check_rule(labelled, geo, geo_rule, source=source, what="geo")
    if geo_rule.kind == "string":
        try:
            labelled = labelled.with_columns(pl.col(geo).cast(pl.String))
        except Exception as exc:  # noqa: BLE001 - e.g. list or struct columns
            raise DataError(
                f"{source}: column {geo!r} (geo) cannot be turned into text: it has type "
                f"{table[geo].dtype}."
            ) from exc
    dates = parse_dates(
        labelled, time, source=source, date_format=date_format, allow_missing=time_rule.nullable
    )
    labelled = labelled.with_columns(dates.alias(time))
    check_grid(
        labelled,
        geo,
        time,
        grid=schema.grid,
        frequency_days=time_rule.frequency_days,
        source=source,
    )
    return labelled.drop(LABEL).sort([geo, time])


def _role_name(role: str) -> str:
    role = _ROLE_ALIASES.get(role, role)
    if role not in ROLES:
        raise DataError(f"Unknown role {role!r}; use one of {list(ROLES)}.")
    return role


def _as_date(value: Any, what: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[D]").astype(dt.date)
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise DataError(f"{what} must be a date like '2024-01-15', got {value!r}.") from None
