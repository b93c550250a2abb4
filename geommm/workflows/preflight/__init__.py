"""Pre-flight: before a long fit, say what the data can and cannot identify.

One concept per module:

- :mod:`~geommm.workflows.preflight.findings`      the findings table (severity, check, what, number, remedy);
- :mod:`~geommm.workflows.preflight.design`        the arrays every check reads, built once;
- :mod:`~geommm.workflows.preflight.kpi`           KPI per geo: constant, unscalable, outliers, level shifts;
- :mod:`~geommm.workflows.preflight.spend`         spend variation per geo and channel;
- :mod:`~geommm.workflows.preflight.collinearity`  correlated channels, variance inflation, fixed multiples;
- :mod:`~geommm.workflows.preflight.controls`      constant and collinear controls;
- :mod:`~geommm.workflows.preflight.ratio`         observations per free parameter;
- :mod:`~geommm.workflows.preflight.lift`          lift tests the model cannot replay, overlaps, dark go-darks;
- :mod:`~geommm.workflows.preflight.truth`         "true" effects drawn from the priors, KPI simulated from them;
- :mod:`~geommm.workflows.preflight.simulate`      identifiability on the user's own design;
- :mod:`~geommm.workflows.preflight.run`           :func:`preflight` and the gate ``GeoMMM.fit`` passes.

Thresholds are in each check module's docstring and in ``docs/preflight.md``.
"""

from geommm.workflows.preflight.findings import SCHEMA, SEVERITIES, Finding, findings_table
from geommm.workflows.preflight.run import MODES, check_before_fit, preflight, run_checks

__all__ = [
    "MODES", "SCHEMA", "SEVERITIES", "Finding", "check_before_fit", "findings_table",
    "preflight", "run_checks",
]
