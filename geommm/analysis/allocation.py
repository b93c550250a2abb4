"""Planning units and the Allocation result now live in :mod:`geommm.analysis.optimize.allocation`;
this name keeps ``from geommm.analysis.allocation import Allocation`` working."""

from geommm.analysis.optimize.allocation import (
    BY,
    DEFAULT_BOUNDS,
    KINDS,
    NATIONAL,
    Allocation,
    Units,
    planning_units,
)

__all__ = ["BY", "DEFAULT_BOUNDS", "KINDS", "NATIONAL", "Allocation", "Units", "planning_units"]
