"""Data layer: read and validate geo panels and lift tests against ``schemas/``.

Everything downstream (formula, model, analysis) receives a validated
:class:`Panel` or lift-test table, so a data problem is reported once, here,
in the analyst's own column names.
"""

from __future__ import annotations

from geommm.data.geolift import from_geolift
from geommm.data.lift_tests import (
    LiftSignWarning,
    check_lift_tests,
    read_lift_tests,
    read_lift_tests_for_panel,
)
from geommm.data.panel import Panel, read_panel
from geommm.data.schema import load_schema

__all__ = [
    "read_panel",
    "Panel",
    "read_lift_tests",
    "check_lift_tests",
    "read_lift_tests_for_panel",
    "from_geolift",
    "load_schema",
    "LiftSignWarning",
]
