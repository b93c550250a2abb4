"""``gm.preflight(panel, formula)``: before a long fit, what can this data identify?

Part 1 runs every data check (seconds, numpy only) and returns the findings.
Part 2 (``simulate=True``) keeps the user's spend, controls and calendar, plants
known "true" effects drawn from the priors, and refits with the fast first look,
to say per channel whether this design can identify it (see ``simulate.py``).

The fit calls :func:`check_before_fit`: blocking findings stop ``GeoMMM.fit``
with a :class:`~geommm.errors.PreflightError` unless ``fit(preflight="warn")``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import polars as pl

from geommm.errors import FitError, PreflightError, PreflightWarning
from geommm.workflows.preflight import collinearity, controls, kpi, lift, ratio, spend
from geommm.workflows.preflight.design import Design, build_design, design_of_model
from geommm.workflows.preflight.findings import (
    Finding,
    blocking,
    describe_blocking,
    findings_table,
)

#: The checks, in the order their findings are listed within a severity.
CHECKS = (kpi.check, spend.check, collinearity.check, controls.check, ratio.check, lift.check)
#: What ``GeoMMM.fit(preflight=...)`` accepts.
MODES = ("block", "warn", "off")


def run_checks(design: Design) -> pl.DataFrame:
    """Every data check on ``design``, as the findings table (blocking first)."""
    found: list[Finding] = []
    for check in CHECKS:
        found += check(design)
    if design.data is None:
        if not any(f.severity == "blocking" for f in found):
            found.append(Finding("blocking", "design", str(design.build_problem)))
        found.append(Finding(
            "info", "skipped",
            "collinearity, control and KPI residual checks need the model's arrays; "
            "they run once the blocking problems are fixed.",
        ))
    return findings_table(found)


def preflight(
    panel: Any,
    formula: str,
    lift_tests: pl.DataFrame | Any | None = None,
    *,
    geo: str = "geo",
    time: str = "time",
    population: str | None = None,
    priors: Mapping[str, Any] | None = None,
    likelihood: str = "normal",
    simulate: bool = False,
    n_sims: int = 3,
    roi: float | Mapping[str, float] | None = None,
    seed: int = 0,
) -> pl.DataFrame:
    """Findings about what ``formula`` can learn from ``panel``: a Polars table with
    severity (blocking / warning / info), check, channel, geo, control, value (the
    number measured), threshold, verdict and message (what to do), blocking first.

    ``simulate=True`` adds one ``identification`` row per channel: ``n_sims`` panels
    with the user's spend, controls and calendar and KPI simulated from effects drawn
    from the priors (centred on ``roi``, one number or one per channel, if given),
    each refitted with the fast first look; verdict identified / weak / not identified.
    Arguments as in :class:`~geommm.mmm.GeoMMM`.
    """
    design = build_design(
        panel, formula, lift_tests, geo=geo, time=time, population=population,
        priors=priors, likelihood=likelihood,
    )
    table = run_checks(design)
    if not simulate:
        return table
    if blocking(table).height:
        note = Finding(
            "info", "identification",
            "the identification simulation did not run: fix the blocking problems first.",
        )
        return findings_table([*_rows(table), note])
    from geommm.workflows.preflight.simulate import identification, identification_findings

    detail = identification(
        design, n_sims=n_sims, roi=roi, seed=seed, prior_overrides=priors,
    )
    return findings_table([*_rows(table), *identification_findings(detail, table)])


def _rows(table: pl.DataFrame) -> list[Finding]:
    return [Finding(**row) for row in table.iter_rows(named=True)]


def check_before_fit(model: Any, mode: str = "block") -> pl.DataFrame | None:
    """The gate ``GeoMMM.fit`` passes: raise :class:`PreflightError` on blocking findings
    (``mode="block"``), warn instead (``"warn"``) or skip the checks (``"off"``)."""
    if mode not in MODES:
        raise FitError(f"preflight={mode!r} is not one of {MODES}")
    if mode == "off":
        return None
    table = run_checks(design_of_model(model))
    bad = blocking(table)
    if bad.height:
        if mode == "block":
            raise PreflightError(describe_blocking(table), findings=bad)
        warnings.warn(describe_blocking(table), PreflightWarning, stacklevel=3)
    return table
