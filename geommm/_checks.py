"""Check the arguments of public functions before any work starts.

Each check names the argument, the value given and what is allowed, and raises
:class:`~geommm.errors.ArgumentError` (or the error class the caller passes),
so a typo never surfaces as a raw NumPy, arviz or TypeError after minutes of
compiling or sampling.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from geommm.errors import ArgumentError, GeoMMMError

Error = type[GeoMMMError]


def number(name: str, value: Any, error: Error = ArgumentError) -> float:
    """A real, finite number (not a bool, not text)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise error(f"{name} must be a finite number, got {value!r}")
    return value


def positive(name: str, value: Any, error: Error = ArgumentError) -> float:
    value = number(name, value, error)
    if not value > 0:
        raise error(f"{name} must be positive, got {value!r}")
    return value


def at_least(name: str, value: Any, minimum: float, error: Error = ArgumentError) -> float:
    value = number(name, value, error)
    if value < minimum:
        raise error(f"{name} must be at least {minimum:g}, got {value!r}")
    return value


def whole(name: str, value: Any, minimum: int = 0, error: Error = ArgumentError) -> int:
    """A whole number >= ``minimum``; 10.0 is accepted as 10, 10.5 and "10" are not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{name} must be a whole number, got {value!r}")
    if not (math.isfinite(value) and float(value).is_integer()):
        raise error(f"{name} must be a whole number, got {value!r}")
    if value < minimum:
        raise error(f"{name} must be at least {minimum}, got {value!r}")
    return int(value)


def seed(value: Any, name: str = "seed", error: Error = ArgumentError) -> int | None:
    return None if value is None else whole(name, value, 0, error)


def hdi_prob(value: Any, error: Error = ArgumentError) -> float:
    """The probability mass of a highest-density interval: strictly between 0 and 1."""
    value = number("hdi_prob", value, error)
    if not 0 < value < 1:
        raise error(f"hdi_prob must be between 0 and 1 (e.g. 0.9 for 90%), got {value!r}")
    return value


def one_of(name: str, value: Any, options: Sequence[str], error: Error = ArgumentError) -> str:
    if not isinstance(value, str) or value not in options:
        raise error(f"{name} must be one of {tuple(options)}, got {value!r}")
    return value


def some_of(
    name: str, value: Any, options: Sequence[str], error: Error = ArgumentError
) -> list[str]:
    """One option or a list of distinct options (e.g. ``by=["geo", "time"]``)."""
    chosen = [value] if isinstance(value, str) else value
    if not isinstance(chosen, Collection) or isinstance(chosen, Mapping):
        raise error(f"{name} must be one of {tuple(options)} or a list of them, got {value!r}")
    chosen = list(chosen)
    bad = [v for v in chosen if not isinstance(v, str) or v not in options]
    if bad or len(set(chosen)) != len(chosen):
        raise error(f"{name} may hold {tuple(options)}, each once; got {value!r}")
    return chosen


def numbers_list(name: str, value: Any, error: Error = ArgumentError) -> list[float] | None:
    """None or a sequence of finite numbers (e.g. a spend grid)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__iter__"):
        raise error(f"{name} must be a list of numbers, got {value!r}")
    return [number(f"{name} entries", v, error) for v in value]


def output_file(name: str, path: Any, error: Error = ArgumentError) -> Path:
    """A file path to write (not an existing folder)."""
    if not isinstance(path, (str, os.PathLike)):
        raise error(f"{name} must be a file path, got {path!r}")
    path = Path(path)
    if path.is_dir() or str(path).endswith(os.sep) or path.name in ("", ".", ".."):
        raise error(f"{name} must be a file, but {str(path)!r} is a folder; add a file name")
    return path


def keywords(function: Callable, given: Mapping[str, Any], error: Error = ArgumentError) -> None:
    """Every key of ``given`` is a parameter of ``function`` (raised before calling it)."""
    known = [
        n for n, p in inspect.signature(function).parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise error(f"{function.__name__}() has no option(s) {unknown}; options: {known}")
