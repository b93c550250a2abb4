"""Synthetic geo panels with known truth: the demo data and every parameter-recovery test.

One concept per module:

- :mod:`~geommm.sim.profiles`  channel profiles, channel names, calendar constants;
- :mod:`~geommm.sim.truth`     media parameters and the true KPI, contributions and ROI
  (its own numpy forward code: the simulator is the yardstick, so it does not share
  the model's transforms);
- :mod:`~geommm.sim.generate`  :func:`simulate`, the generator (baseline, flights, spend);
- :mod:`~geommm.sim.lift`      lift tests placed inside the panel and their true lift;
- :mod:`~geommm.sim.store`     :class:`SimulatedPanel` and its save / load;
- :mod:`~geommm.sim.experiment` a designed test run in the weeks after the fitted ones.
- :mod:`~geommm.sim.organic`, :mod:`~geommm.sim.treatment`, :mod:`~geommm.sim.nonmedia`
  organic media and a non-media lever with known truth (``simulate(organic=..., treatment=...)``);
- :mod:`~geommm.sim.identification` three panels whose identifiability is known
  (strictly collinear pair, independent flighting, a weak always-on channel).

Lift tests happen *inside* the panel: business-as-usual spend is drawn first,
heavy-ups and go-darks are applied to it, and the KPI is computed from the resulting
actual spend — the same situation the model's calibration term assumes.
"""

from __future__ import annotations

from geommm.sim.experiment import DesignedTestRun, panel_until, run_designed_test, true_roi_until
from geommm.sim.generate import build_formula, simulate
from geommm.sim.identification import identification_scenario
from geommm.sim.lift import LIFT_SCHEMA
from geommm.sim.patterns import always_on
from geommm.sim.profiles import (
    CHANNEL_NAMES,
    EXPOSURE_CHANNELS,
    KPI_PER_CAPITA,
    SEASON_PERIOD,
    START_WEEK,
    channel_names,
)
from geommm.sim.store import SimulatedPanel, load, load_from
from geommm.sim.truth import (
    MediaParams,
    SimTruth,
    incremental_kpi,
    media_contributions,
    media_scale,
    true_roi,
)

__all__ = [
    "MediaParams",
    "SimTruth",
    "SimulatedPanel",
    "simulate",
    "media_contributions",
    "incremental_kpi",
    "true_roi",
    "media_scale",
    "load",
    "load_from",
    "build_formula",
    "channel_names",
    "SEASON_PERIOD",
    "START_WEEK",
    "KPI_PER_CAPITA",
    "EXPOSURE_CHANNELS",
    "CHANNEL_NAMES",
    "LIFT_SCHEMA",
    "DesignedTestRun",
    "run_designed_test",
    "panel_until",
    "true_roi_until",
    "always_on",
    "identification_scenario",
]
