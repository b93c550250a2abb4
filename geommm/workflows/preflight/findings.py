"""One finding per problem, and the table they make: decision first.

Every check returns :class:`Finding` rows: how serious it is, which check found
it, which channel / geo / control it concerns, the number measured, the
threshold it crossed and one plain sentence that says what to do. The table
sorts blocking problems first, then warnings, then information, so the answer
to "can I fit this?" is always the first row.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

#: Severities, most serious first. ``blocking``: the fit could not answer anything
#: (it stops unless ``fit(preflight="warn")``); ``warning``: the fit runs but some
#: numbers will lean on the priors; ``info``: worth knowing, nothing to fix.
SEVERITIES = ("blocking", "warning", "info")

#: The findings table's columns and types (a contract: the CLI and tests read them).
SCHEMA = {
    "severity": pl.String,
    "check": pl.String,
    "channel": pl.String,
    "geo": pl.String,
    "control": pl.String,
    "value": pl.Float64,
    "threshold": pl.Float64,
    "verdict": pl.String,
    "message": pl.String,
}


@dataclass(frozen=True)
class Finding:
    """One problem: severity, the check's name, what it concerns and the sentence to act on."""

    severity: str
    check: str
    message: str
    value: float = math.nan
    threshold: float = math.nan
    channel: str | None = None
    geo: str | None = None
    control: str | None = None
    verdict: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")


def findings_table(findings: Iterable[Finding]) -> pl.DataFrame:
    """The findings as a Polars table, blocking first, then warnings, then info
    (the checks' own order kept within each severity)."""
    rows = sorted(findings, key=lambda f: SEVERITIES.index(f.severity))
    return pl.DataFrame(
        [{name: getattr(f, name) for name in SCHEMA} for f in rows], schema=SCHEMA
    ).with_columns(pl.col("value", "threshold").fill_null(float("nan")))


def blocking(table: pl.DataFrame) -> pl.DataFrame:
    """The rows that stop a fit."""
    return table.filter(pl.col("severity") == "blocking")


def describe_blocking(table: pl.DataFrame) -> str:
    """One message naming every blocking finding (for :class:`~geommm.errors.PreflightError`)."""
    rows = blocking(table)
    lines = [f"- {message}" for message in rows["message"]]
    return (
        f"pre-flight found {rows.height} blocking problem(s); the fit would have nothing to "
        "answer:\n" + "\n".join(lines) + "\nFix them, or fit anyway with fit(..., preflight=\"warn\")."
    )


def fmt(x: float) -> str:
    """A number as a marketer reads it: 3 significant digits, no exponent below a billion."""
    if not math.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) >= 1e9 or abs(x) < 1e-3):
        return f"{x:.2e}"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def share(x: float) -> str:
    """A share as a percentage."""
    return f"{100 * x:.0f}%" if abs(x) >= 0.01 or x == 0 else f"{100 * x:.2g}%"
