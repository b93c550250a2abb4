"""``simulate(..., organic={...}, treatment={...})``: the simulated panel with an organic
column and / or a non-media lever added, their truths kept in the settings.

Each gets its own random stream (seeded from the panel's seed), so the rest of the
panel is the one ``simulate`` draws without them, apart from the KPI, which gains
their centred contributions (every geo's noise-free mean KPI unchanged). The formula
gains ``organic(...)`` / ``treatment(...)``. Truths: :func:`organic_truth`,
:func:`treatment_truth`, and :func:`nonmedia_contributions` (per geo and week).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl

from geommm.sim.organic import OrganicTruth, make_organic
from geommm.sim.treatment import TreatmentTruth, make_treatment

#: Offsets of the two terms' random streams from the panel's seed.
_STREAMS = {"organic": 7001, "treatment": 7002}


def add_terms(sim, organic: dict[str, Any] | None = None, treatment: dict[str, Any] | None = None):
    """``sim`` with the requested terms added (itself when neither is asked for); ``{}`` or
    True adds a term with its defaults."""
    if organic is None and treatment is None:
        return sim
    panel, formula, settings = sim.panel, sim.formula, dict(sim.settings)
    geos = sim.truth.geos
    kpi_scale = np.asarray(sim.truth.kpi_scale, dtype="float64")
    n_weeks = panel.height // len(geos)
    revenue = panel["revenue"].to_numpy().reshape(len(geos), n_weeks)
    seed = int(settings.get("seed", 0))
    for key, options, make in (("organic", organic, make_organic), ("treatment", treatment, make_treatment)):
        if options is None or options is False:
            continue
        options = {} if options is True else dict(options)
        rng = np.random.default_rng(seed + _STREAMS[key])
        truth, values, gain = make(rng, kpi_scale, n_weeks, **options)
        if truth.column in panel.columns:
            raise ValueError(f"simulate({key}=...): column {truth.column!r} is already in the panel")
        revenue = revenue + gain - gain.mean(axis=1, keepdims=True)
        panel = panel.with_columns(pl.Series(truth.column, values.reshape(-1)))
        formula += (f" + organic({truth.column}, name='{truth.name}')" if key == "organic"
                    else f" + treatment({truth.column}, name='{truth.name}')")
        settings[key] = {"options": options, "truth": truth.to_settings()}
    panel = panel.with_columns(pl.Series("revenue", revenue.reshape(-1)))
    return replace(sim, panel=panel, formula=formula, settings=settings)


def organic_truth(sim) -> OrganicTruth:
    """The organic truth of a panel simulated with ``organic=...``."""
    return OrganicTruth.from_settings(sim.settings["organic"]["truth"])


def treatment_truth(sim) -> TreatmentTruth:
    """The treatment truth of a panel simulated with ``treatment=...``."""
    return TreatmentTruth.from_settings(sim.settings["treatment"]["truth"])


def nonmedia_contributions(sim) -> dict[str, np.ndarray]:
    """Each added term's true contribution ``(G, T)`` in KPI units, by its name."""
    geos = sim.truth.geos
    out = {}
    for key, get in (("organic", organic_truth), ("treatment", treatment_truth)):
        if key in sim.settings:
            truth = get(sim)
            out[truth.name] = truth.contributions(sim.panel[truth.column].to_numpy().reshape(len(geos), -1))
    return out
