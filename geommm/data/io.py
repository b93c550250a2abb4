"""Turn whatever the analyst hands us (file path or DataFrame) into a Polars table.

Reading is the boundary: pandas is converted here, CSV pitfalls (wrong
delimiter, type inference from the first rows only) are caught here, and
dates are parsed here, so everything downstream works on Polars types.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import polars as pl

from geommm.data.validate import LABEL, describe_rows
from geommm.errors import DataError, SchemaError

__all__ = ["TableSource", "read_table", "parse_dates", "DATAFRAME_SOURCE"]

TableSource = str | os.PathLike | pl.DataFrame | Any  # Any: a pandas DataFrame
DATAFRAME_SOURCE = "<DataFrame>"
_CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
_PARQUET_SUFFIXES = {".parquet", ".pq"}


def read_table(
    source: TableSource, text_columns: Collection[str] = ()
) -> tuple[pl.DataFrame, str]:
    """Return ``(table, source_name)``; the name is used in every error message.

    ``text_columns`` (any letter case) are read from CSV as text, so identifiers
    such as geo ``007`` keep their leading zeros instead of becoming the number 7.
    """
    if isinstance(source, pl.DataFrame):
        return source, DATAFRAME_SOURCE
    if isinstance(source, pl.LazyFrame):
        return source.collect(), DATAFRAME_SOURCE
    if _is_pandas(source):
        return _from_pandas(source), DATAFRAME_SOURCE
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        return _read_file(path, text_columns), path.name
    raise DataError(
        f"Cannot read a table from a {type(source).__name__}; pass a path to a CSV or Parquet "
        "file, a polars DataFrame or a pandas DataFrame."
    )


def _is_pandas(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and hasattr(obj, "to_numpy")


def _from_pandas(frame: Any) -> pl.DataFrame:
    """Convert pandas, keeping a named index (e.g. geo/time) as columns."""
    try:
        if any(name is not None for name in frame.index.names):
            frame = frame.reset_index()
    except ValueError as exc:  # an index level shares its name with a column
        raise DataError(f"{DATAFRAME_SOURCE}: cannot turn the index into columns: {exc}") from exc
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    try:
        return pl.from_pandas(frame)
    except Exception:  # noqa: BLE001 - mixed-type object columns; retried as text below
        pass
    # Object columns mixing numbers and text: keep the text so validation can show it.
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = [None if _is_missing(v) else str(v) for v in frame[name]]
    try:
        return pl.from_pandas(frame)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types
        raise DataError(f"{DATAFRAME_SOURCE}: cannot convert the pandas DataFrame: {exc}") from exc


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _read_file(path: Path, text_columns: Collection[str]) -> pl.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: file not found (working directory: {Path.cwd()}).")
    suffix = path.suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        try:
            return pl.read_parquet(path)
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"{path.name}: cannot read as Parquet: {exc}") from exc
    if suffix in _CSV_SUFFIXES:
        return _read_csv(path, "\t" if suffix == ".tsv" else ",", text_columns)
    raise DataError(
        f"{path.name}: unknown file type {suffix!r}; use .csv, .tsv or .parquet, "
        "or read it yourself and pass the DataFrame."
    )


def _read_csv(path: Path, separator: str, text_columns: Collection[str]) -> pl.DataFrame:
    try:
        wanted = {c.lower() for c in text_columns}
        header = pl.read_csv(path, separator=separator, n_rows=0).columns if wanted else []
        # infer_schema_length=None: scan every row, so a stray text value deep in a
        # numeric column is read as text (and reported) instead of failing the read.
        table = pl.read_csv(
            path,
            separator=separator,
            infer_schema_length=None,
            schema_overrides={c: pl.String for c in header if c.lower() in wanted},
        )
    except Exception as exc:  # noqa: BLE001 - polars raises several error types
        header = _first_line(path)
        if separator not in header:
            _complain_about_delimiter(path, header, separator)
        raise DataError(
            f"{path.name}: cannot read as CSV ({exc}). Check that the file is UTF-8, that "
            "every line has the same number of fields and that text containing the delimiter "
            "is quoted."
        ) from exc
    if table.width == 1:
        _complain_about_delimiter(path, table.columns[0], separator)
    return table


def _first_line(path: Path) -> str:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        return handle.readline().rstrip("\r\n")


def _complain_about_delimiter(path: Path, header: str, separator: str) -> None:
    """A single column whose name holds ';' or a tab means the wrong delimiter was used."""
    for candidate, label in ((";", "';'"), ("\t", "tab"), ("|", "'|'"), (",", "','")):
        if candidate != separator and candidate in header:
            raise DataError(
                f"{path.name}: the file was read as a single column named {header!r}; it looks "
                f"{label}-separated, not {separator!r}-separated. Save it with commas, or read it "
                "yourself, e.g. read_panel(pl.read_csv("
                f"{str(path)!r}, separator={candidate!r}), ...)."
            )


# --- dates ---------------------------------------------------------------------------

# Shapes of date text: (name shown to the user, regex, strptime format or None if ambiguous).
_DATE_SHAPES: tuple[tuple[str, str, str | None], ...] = (
    ("YYYY-MM-DD", r"^\d{4}-\d{1,2}-\d{1,2}$", "%Y-%m-%d"),
    ("YYYY-MM-DD 00:00:00", r"^\d{4}-\d{1,2}-\d{1,2}[T ]00:00(:00(\.0+)?)?Z?$", "iso-midnight"),
    ("YYYY-MM-DD hh:mm (a time of day)", r"^\d{4}-\d{1,2}-\d{1,2}[T ]\d{1,2}:\d{2}", None),
    ("YYYY/MM/DD", r"^\d{4}/\d{1,2}/\d{1,2}$", "%Y/%m/%d"),
    ("DD/MM/YYYY or MM/DD/YYYY", r"^\d{1,2}/\d{1,2}/\d{4}$", None),
    ("DD.MM.YYYY", r"^\d{1,2}\.\d{1,2}\.\d{4}$", None),
    ("DD-MM-YYYY or MM-DD-YYYY", r"^\d{1,2}-\d{1,2}-\d{4}$", None),
    ("YYYYMMDD", r"^\d{8}$", None),
)


def parse_dates(
    table: pl.DataFrame,
    column: str,
    *,
    source: str,
    date_format: str | None = None,
    error: type[DataError] = DataError,
    allow_missing: bool = False,
) -> pl.Series:
    """Parse ``table[column]`` to ``pl.Date`` or raise naming the bad values and their rows.

    ``table`` must carry the row-label column used by :func:`describe_rows`. Accepted:
    Date, Datetime at midnight, ISO text (``2024-01-15``), or text in ``date_format``.
    Nothing is guessed: ambiguous text such as ``01/02/2024`` needs ``date_format``.
    Empty cells are refused unless ``allow_missing`` (then they stay null).
    """
    values = table[column]
    where = f"{source}: column {column!r}"
    missing = values.is_null()
    if missing.all() and allow_missing:
        return values.cast(pl.Date, strict=False)
    if missing.any() and not allow_missing:
        rows = describe_rows(table.filter(missing))
        raise error(f"{where} has missing dates at {rows}. Every row needs a date.")
    if values.dtype == pl.Date:
        return values
    if isinstance(values.dtype, pl.Datetime):
        return _datetime_to_date(table, column, where, error)
    if date_format is not None:
        return _parse_with_format(table, column, date_format, where, error)
    if values.dtype != pl.String:
        raise (SchemaError if error is DataError else error)(
            f"{where} holds {values.dtype} values (e.g. {values.drop_nulls()[0]!r}), not dates. "
            "Use ISO dates "
            "like '2024-01-15', or pass date_format (e.g. date_format='%Y%m%d')."
        )
    return _parse_text(table, column, where, error)


def _datetime_to_date(
    table: pl.DataFrame, column: str, where: str, error: type[DataError]
) -> pl.Series:
    values = table[column]
    has_clock = values.dt.truncate("1d") != values
    if has_clock.any():
        rows = describe_rows(table.filter(has_clock), value=column)
        raise error(
            f"{where} holds times of day, not week dates, at {rows}. Weekly panels need one "
            "date per week; convert with .dt.date() if the times are meaningless."
        )
    return values.dt.date()


def _parse_with_format(
    table: pl.DataFrame, column: str, date_format: str, where: str, error: type[DataError]
) -> pl.Series:
    text = table[column].cast(pl.String).str.strip_chars()
    try:
        parsed = text.str.strptime(pl.Date, date_format, strict=False)
    except Exception as exc:  # noqa: BLE001 - polars rejects some format strings outright
        raise error(f"{where}: date_format {date_format!r} is not usable: {exc}") from exc
    failed = parsed.is_null() & text.is_not_null()
    if failed.any():
        rows = describe_rows(table.filter(failed), value=column)
        raise error(
            f"{where} has {int(failed.sum())} value(s) that do not match date_format "
            f"{date_format!r}: {rows}. Fix those cells or pass the right date_format."
        )
    return parsed


def _parse_text(table: pl.DataFrame, column: str, where: str, error: type[DataError]) -> pl.Series:
    text = table[column].str.strip_chars()
    shape_of = pl.lit(None, dtype=pl.Int32)
    for index, (_, pattern, _) in reversed(list(enumerate(_DATE_SHAPES))):
        shape_of = pl.when(pl.col("text").str.contains(pattern)).then(index).otherwise(shape_of)
    shapes = table.with_columns(text=text).with_columns(shape=shape_of)

    unknown = shapes["shape"].is_null() & shapes["text"].is_not_null()
    if unknown.any():
        rows = describe_rows(shapes.filter(unknown), value=column)
        raise error(
            f"{where} has {int(unknown.sum())} value(s) that are not dates: {rows}. "
            "Use ISO dates like '2024-01-15' or pass date_format."
        )
    present = shapes["shape"].drop_nulls().unique().sort().to_list()
    if len(present) > 1:
        parts = []
        for index in present:
            subset = shapes.filter(pl.col("shape") == index)
            rows = describe_rows(subset, value=column, limit=3)
            parts.append(f"{subset.height} like {_DATE_SHAPES[index][0]} ({rows})")
        raise error(
            f"{where} mixes date formats: " + "; ".join(parts) + ". Write every date the same "
            "way, preferably ISO '2024-01-15'."
        )
    name, _, fmt = _DATE_SHAPES[present[0]]
    if fmt is None:
        raise error(
            f"{where} holds dates like {text.drop_nulls()[0]!r} ({name}), which geommm will "
            "not guess. "
            f"Pass date_format, e.g. {_suggest_format(text, name)}."
        )
    if fmt == "iso-midnight":
        text = text.str.slice(0, 10).str.strip_chars()
        fmt = "%Y-%m-%d"
    parsed = text.str.strptime(pl.Date, fmt, strict=False)
    failed = parsed.is_null() & text.is_not_null()
    if failed.any():
        rows = describe_rows(table.filter(failed), value=column)
        raise error(
            f"{where} has {int(failed.sum())} impossible date(s) (format {name}): {rows}. "
            "Fix those cells."
        )
    return parsed


def _suggest_format(text: pl.Series, shape: str) -> str:
    """Name the format the data imply when the day is unambiguous somewhere (a part > 12)."""
    text = text.drop_nulls()
    separator = next((s for s in "/.-" if s in text[0]), None)
    if shape == "YYYYMMDD":
        return "date_format='%Y%m%d'"
    if separator is None or "hh:mm" in shape:
        return "date_format='%Y-%m-%d %H:%M:%S' and then check the times"
    parts = text.str.split(separator)
    first = parts.list.get(0).cast(pl.Int64, strict=False)
    second = parts.list.get(1).cast(pl.Int64, strict=False)
    day_first = f"date_format='%d{separator}%m{separator}%Y'"
    month_first = f"date_format='%m{separator}%d{separator}%Y'"
    if (first > 12).any():
        return day_first
    if (second > 12).any():
        return month_first
    return f"{day_first} or {month_first}"


def strip_label(table: pl.DataFrame) -> pl.DataFrame:
    """Drop the internal row-label column if present."""
    return table.drop(LABEL, strict=False)

