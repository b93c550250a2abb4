"""Closing the loop: a designed test, once run, becomes a lift-test row the model accepts.

The row states what happened, in the lift-test schema (geommm/data/schemas/
lift_tests.schema.json): the designed channel, geos and weeks, the measured lift
and its standard error, and the spend change — the designed one unless the
measurement team says what was really spent. Lift tests must lie inside the panel,
so refit on a panel extended by the test weeks (with the test's spend in them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from geommm.data.lift_tests import validate_lift_tests
from geommm.errors import DesignError

_NEEDED = ("channel", "geos", "start", "end", "measure_end")


def to_lift_test(
    result_row: Any,
    lift: float,
    se: float,
    *,
    spend_delta: float | None = None,
    test_id: str | None = None,
) -> pl.DataFrame:
    """One validated lift-test row from a row of ``design_lift_tests`` and its result.

    ``result_row``: a one-row table or a mapping with channel, geos, start, end,
    measure_end, spend_change (and test_id). ``lift``: the measured incremental KPI over
    start..measure_end in the test geos; ``se``: its standard error. ``spend_delta``
    (actual minus business-as-usual spend) defaults to the designed spend change.
    Pass the result (or several, concatenated) as ``GeoMMM(..., lift_tests=...)``.
    """
    row = _as_mapping(result_row)
    missing = [k for k in _NEEDED if row.get(k) is None]
    if missing:
        raise DesignError(f"result_row lacks {missing}; pass a row of fit.design_lift_tests()")
    for name, value in (("lift", lift), ("se", se)):
        if not np.isfinite(_float(value, name)):
            raise DesignError(f"{name}={value!r} must be a finite number")
    if not float(se) > 0:
        raise DesignError(f"se={se!r} must be positive (the lift's standard error)")
    delta = row.get("spend_change") if spend_delta is None else spend_delta
    if delta is None or not np.isfinite(_float(delta, "spend_delta")) or float(delta) == 0:
        raise DesignError(f"spend_delta={delta!r}: give the test's spend change (actual - "
                          "business as usual, negative for a go-dark)")
    table = pl.DataFrame({
        "test_id": [str(test_id or row.get("test_id") or "designed_test")],
        "channel": [str(row["channel"])],
        "geos": [row["geos"] if isinstance(row["geos"], str) else ";".join(row["geos"])],
        "start": [row["start"]], "end": [row["end"]], "measure_end": [row["measure_end"]],
        "spend_delta": [float(delta)], "lift": [float(lift)], "lift_se": [float(se)],
    })
    return validate_lift_tests(table, "to_lift_test", warn=False)


def _float(value, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise DesignError(f"{name}={value!r} must be a number") from None


def _as_mapping(row: Any) -> Mapping:
    if isinstance(row, pl.DataFrame):
        if row.height != 1:
            raise DesignError(f"result_row must be one row of the design table, got {row.height} rows")
        return row.row(0, named=True)
    if isinstance(row, Mapping):
        return row
    raise DesignError(f"result_row must be a one-row table or a mapping, got {type(row).__name__}")
