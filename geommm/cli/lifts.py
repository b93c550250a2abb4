"""Lift-test files on the command line: geommm's own format, or GeoLift output as it comes.

GeoLift's results table is recognised by its columns and converted on the fly, so
``--lift-tests`` takes what the measurement team already has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geommm.cli.console import note


#: Columns that only GeoLift output has (any letter case): its table is converted on the fly.
GEOLIFT_COLUMNS = ("treatment_start", "location", "locations", "att", "lower.conf.int")


def read_lift_tests(path: Path) -> Any:
    """A lift-test file in geommm's format, or GeoLift output (detected by its columns)."""
    import geommm as gm
    from geommm.data.geolift import from_geolift
    from geommm.data.io import read_table
    from geommm.errors import LiftTestError

    table, _ = read_table(path)
    columns = {c.strip().lower() for c in table.columns}
    if "lift" in columns or not columns & set(GEOLIFT_COLUMNS):
        return gm.read_lift_tests(path)
    note(f"  {path} looks like GeoLift output; converting it to lift tests")
    try:
        return from_geolift(path)
    except LiftTestError as exc:
        raise LiftTestError(
            f"{exc} (read as GeoLift output: add a channel and a spend_delta column, one value "
            "per test, or convert it in Python with geommm.data.geolift.from_geolift)"
        ) from None
