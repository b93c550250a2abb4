"""Terminal output: results on stdout, progress and problems on stderr.

Keeping the two streams apart lets ``geommm fit ... > results.txt`` capture
only the tables while the analyst still sees what is happening.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class UserError(Exception):
    """A command-line mistake outside the library (e.g. a missing option value): exit 1."""


def out(text: str = "") -> None:
    """A result line (stdout)."""
    print(text, flush=True)


def note(text: str) -> None:
    """A progress or advice line (stderr)."""
    print(text, file=sys.stderr, flush=True)


def one_line(message: object) -> str:
    """Error text on one line, so scripts can grep it and terminals show it whole."""
    return cli_words(" ".join(str(message).split()))


def cli_words(text: str) -> str:
    """Library advice in command-line words: ``date_format='%d/%m/%Y'`` -> ``--date-format '%d/%m/%Y'``."""
    import re

    text = re.sub(r"\bdate_format=", "--date-format ", text)
    return re.sub(r"pass --date-format \(e\.g\.", "pass --date-format (e.g.", text)


@contextmanager
def step(label: str) -> Iterator[None]:
    """Announce a long step on stderr and report how long it took."""
    note(f"{label} ...")
    start = time.perf_counter()
    yield
    note(f"  done in {_seconds(time.perf_counter() - start)}")


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def show_table(frame: Any, title: str | None = None) -> None:
    """Print a polars table in full (no truncation), markdown style, numbers rounded."""
    import polars as pl

    if title:
        out(title)
    money = [c for c, t in frame.schema.items() if t.is_float() and _is_large(frame[c])]
    other = [c for c, t in frame.schema.items() if t.is_float() and c not in money]
    pretty = frame.with_columns(
        [pl.col(c).round(0).cast(pl.Int64, strict=False) for c in money]
        + [pl.col(c).round(3) for c in other]
    )
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=250,
        fmt_str_lengths=60,
        tbl_formatting="ASCII_MARKDOWN",
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        thousands_separator=",",
    ):
        out(str(pretty))
    out()


def _is_large(values: Any) -> bool:
    """Amounts in the thousands (spend, KPI, lift) read best as whole numbers with separators."""
    biggest = values.abs().max()
    return biggest is not None and biggest >= 1000 and values.is_finite().all()
