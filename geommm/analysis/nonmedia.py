"""What organic media and treatments added to the KPI, with intervals; never an ROI.

An organic term has no spend, so it has no ROI and no place in the budget optimiser:
its table says so in a ``note`` rather than leaving an empty or made-up ROI. A
treatment's incremental KPI is against its counterfactual level (the term's
``baseline``), the same reference the contributions table uses. Both come from the
forward model's components (``ForwardModel.baseline_contributions``), so the numbers
here add up to the contributions table's rows.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from geommm.analysis.draws import summarise
from geommm.analysis.forward import ForwardModel
from geommm.analysis.tables import NATIONAL, ORGANIC_EFFECTS, TREATMENT_EFFECTS

BY = ("national", "geo")
ORGANIC_NOTE = "organic: no spend, so no ROI and no place in the budget optimiser"


def organic_table(forward: ForwardModel, by: str = "national", hdi_prob: float = 0.9) -> pl.DataFrame:
    """One row per organic term (and geo with ``by="geo"``): exposure, incremental KPI
    over the fitted weeks against no exposure, and its share of the KPI."""
    data = forward.data
    organic = data.organic
    if organic is None:
        return _empty(ORGANIC_EFFECTS)
    exposure = organic.exposure.sum(axis=1)  # (G, O)
    frames = []
    for k, name in enumerate(organic.names):
        frames.append(_rows(forward, name, by, hdi_prob, {"organic": name},
                            {"exposure": _per(exposure[:, k], by)}, ORGANIC_NOTE))
    return pl.concat(frames).select(ORGANIC_EFFECTS)


def treatment_table(forward: ForwardModel, by: str = "national", hdi_prob: float = 0.9) -> pl.DataFrame:
    """One row per treatment (and geo with ``by="geo"``): its counterfactual level, its
    average level, and the incremental KPI over the fitted weeks against the lever held
    at the counterfactual level, with its share of the KPI."""
    data = forward.data
    treatment = data.treatment
    if treatment is None:
        return _empty(TREATMENT_EFFECTS)
    terms = {t.name: t for t in forward.spec.treatments}
    frames = []
    for k, name in enumerate(treatment.names):
        level = treatment.values[..., k].mean(axis=1)  # (G,)
        mean_level = level if by == "geo" else np.array([treatment.values[..., k].mean()])
        term = terms[name]
        how = term.baseline if isinstance(term.baseline, str) else "given"
        note = f"against {term.input} held at {treatment.baseline[k]:g} ({how}) in every geo and week"
        frames.append(_rows(forward, name, by, hdi_prob, {"treatment": name},
                            {"baseline_level": np.full(len(mean_level), treatment.baseline[k]),
                             "mean_level": mean_level}, note))
    return pl.concat(frames).select(TREATMENT_EFFECTS)


def _rows(forward, name, by, hdi_prob, key, extra, note) -> pl.DataFrame:
    draws = forward.baseline_contributions()[name].sum(axis=2)  # (D, G)
    kpi = forward.data.kpi.sum(axis=1)  # (G,)
    if by == "national":
        draws, kpi = draws.sum(axis=1, keepdims=True), np.array([kpi.sum()])
        geos = [NATIONAL]
    else:
        geos = list(forward.data.geos)
    s = summarise(draws, hdi_prob)
    share = summarise(draws / kpi[None, :], hdi_prob)
    return pl.DataFrame({
        "geo": geos, **{k: [v] * len(geos) for k, v in key.items()}, **extra,
        "incremental_kpi_mean": s["mean"], "incremental_kpi_hdi_low": s["hdi_low"],
        "incremental_kpi_hdi_high": s["hdi_high"], "kpi_share_mean": share["mean"],
        "kpi_share_hdi_low": share["hdi_low"], "kpi_share_hdi_high": share["hdi_high"],
        "note": [note] * len(geos),
    })


def _per(values: np.ndarray, by: str) -> np.ndarray:
    return values if by == "geo" else np.array([values.sum()])


def _empty(columns) -> pl.DataFrame:
    return pl.DataFrame({c: pl.Series(c, [], dtype=pl.String if c in ("geo", "organic", "treatment", "note")
                                      else pl.Float64) for c in columns})
