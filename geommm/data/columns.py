"""Checks on panel columns that no single schema rule expresses.

Which columns hold numbers at all (so they can be checked before any role is
known), and whether a series varies within each geo (what fitting needs).
"""

from __future__ import annotations

import polars as pl

from geommm.data.validate import _MAX_SHOWN
from geommm.errors import DataError

__all__ = ["check_varies", "holds_numbers"]


def holds_numbers(values: pl.Series) -> bool:
    """Numeric or boolean, or text of which most values (but not all) read as numbers."""
    if values.dtype.is_numeric() or values.dtype == pl.Boolean:
        return True
    if values.dtype != pl.String:
        return False
    present = values.drop_nulls()
    parsed = present.str.strip_chars().cast(pl.Float64, strict=False).is_not_null().sum()
    return 0 < len(present) - parsed <= parsed


def check_varies(
    table: pl.DataFrame, column: str, group: str, where: str, error: type[DataError] = DataError
) -> None:
    """Each ``group`` (geo) must hold more than one value of ``column``."""
    flat = (
        table.group_by(group)
        .agg(pl.col(column).n_unique().alias("n"), pl.col(column).first().alias("v"))
        .filter(pl.col("n") == 1)
        .sort(group)
    )
    if flat.height:
        examples = ", ".join(f"{g!r} (always {v})" for g, _, v in flat.head(_MAX_SHOWN).iter_rows())
        more = f" and {flat.height - _MAX_SHOWN} more" if flat.height > _MAX_SHOWN else ""
        raise error(
            f"{where} is constant within {group!r} {examples}{more}. A series that never "
            "changes cannot show what drives it, and one without data (e.g. all zero) "
            f"distorts every result; fix the data or drop those rows of {group!r}."
        )
