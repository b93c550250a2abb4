"""Terminal output: results on stdout, progress and problems on stderr.

Keeping the two streams apart lets ``geommm fit ... > results.txt`` capture
only the tables while the analyst still sees what is happening.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from geommm._interrupts import InterruptGuard


#: The panel key columns the command line assumes when --geo / --time are not given
#: (the demo, the simulator and the examples all use these names).
DEFAULT_GEO, DEFAULT_TIME = "geo", "week"


class UserError(Exception):
    """A command-line mistake outside the library (e.g. a missing option value): exit 1."""


def out(text: str = "") -> None:
    """A result line (stdout)."""
    print(text, flush=True)


def note(text: str) -> None:
    """A progress or advice line (stderr)."""
    print(text, file=sys.stderr, flush=True)


class _NoteHandler(logging.Handler):
    """Library progress messages (logger "geommm") as indented notes on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        note(f"  {record.getMessage()}")


def show_progress() -> None:
    """Show geommm's own progress messages (e.g. "compiled in 4.2 s; sampling")."""
    logger = logging.getLogger("geommm")
    if not any(isinstance(h, _NoteHandler) for h in logger.handlers):
        logger.addHandler(_NoteHandler())
    logger.setLevel(logging.INFO)
    logger.propagate = False


@contextmanager
def one_line_warnings() -> Iterator[None]:
    """Show Python warnings as ``warning: ...`` lines on stderr (no source line)."""

    def show(message, category, filename, lineno, file=None, line=None):
        note(f"warning: {one_line(message)}")

    previous = warnings.showwarning
    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous


def one_line(message: object) -> str:
    """Error text on one line, so scripts can grep it and terminals show it whole."""
    return cli_words(" ".join(str(message).split()))


def cli_words(text: str) -> str:
    """Library advice in command-line words: ``date_format='%d/%m/%Y'`` -> ``--date-format '%d/%m/%Y'``."""
    import re

    text = re.sub(r"\bdate_format=", "--date-format ", text)
    text = re.sub(r"pass --date-format \(e\.g\.", "pass --date-format (e.g.", text)
    if "geo/time key column(s)" in text and "not found" in text:
        text += (
            f" Name the geo and week columns with --geo COL and --time COL "
            f"(defaults {DEFAULT_GEO!r} and {DEFAULT_TIME!r})."
        )
    return text


#: Ctrl-C presses seen during the running command (see :func:`watch_interrupts`).
_interrupts: list[InterruptGuard] = []


@contextmanager
def watch_interrupts() -> Iterator[None]:
    """Stop on Ctrl-C between steps, where stopping is clean.

    Raised at an arbitrary point, a KeyboardInterrupt can be swallowed by a
    library (JAX's garbage-collection callback drops it) or, landing inside code
    run by ``exec``, make CPython exit by SIGINT instead of with our exit code.
    So the first Ctrl-C only sets a flag that :func:`step` checks; a second one
    raises at once. Fitting checks it too, while compiling and sampling.
    """
    with InterruptGuard(defer=True, stage="the command") as guard:
        _interrupts.append(guard)
        try:
            yield
        finally:
            _interrupts.remove(guard)


def stop_if_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed since the command started."""
    if any(guard.count for guard in _interrupts):
        raise KeyboardInterrupt


@contextmanager
def step(label: str) -> Iterator[None]:
    """Announce a long step on stderr and report how long it took."""
    stop_if_interrupted()
    note(f"{label} ...")
    start = time.perf_counter()
    yield
    stop_if_interrupted()
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
