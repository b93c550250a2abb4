"""Argument types of the command line: numbers, bounds and limits, checked by argparse.

A malformed value is a usage error (exit 2) naming the option, before any data is read.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "count"
    return parse


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _nonnegative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _bounds(text: str) -> tuple[float, float]:
    parts = text.replace(" ", "").split(",")
    try:
        low, high = (float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected LOW,HIGH multipliers of current spend such as 0.8,1.2, got {text!r}"
        ) from None
    if not 0 <= low <= 1 <= high:
        raise argparse.ArgumentTypeError(f"need 0 <= LOW <= 1 <= HIGH, got {text!r}")
    return low, high


def _bound_spec(text: str) -> tuple:
    """One --bounds item: ("all", low, high), ("channel", name, low, high) or ("file", path)."""
    if "=" in text:
        name, _, limits = text.partition("=")
        low_high = limits.replace(" ", "").split(":")
        try:
            low, high = (float(v) for v in low_high)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected CHANNEL=LOW:HIGH such as tv=0.9:1.1, got {text!r}"
            ) from None
        if not name.strip() or not 0 <= low <= high:
            raise argparse.ArgumentTypeError(f"need a channel name and 0 <= LOW <= HIGH, got {text!r}")
        return ("channel", name.strip(), low, high)
    if text.lower().endswith((".csv", ".tsv", ".parquet")):
        return ("file", Path(text))
    return ("all", *_bounds(text))


def _unit_interval(text: str) -> float:
    value = _positive(text)
    if not 0.5 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0.5, 1), got {text}")
    return value
