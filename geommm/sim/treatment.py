"""A known non-media lever added to a simulated panel, for the treatment(...) term's recovery.

The lever is a promotional discount depth (percentage points, 0 in most weeks,
5-25 in a geo's promotion weeks). Each point of discount adds ``effect`` times the
geo's KPI scale ``s_g`` to the week's KPI, so the incremental KPI against no discount
(the panel minimum, the term's default baseline) is ``s_g * effect * (x - 0)``. As for
organic media, the addition is centred on each geo's weekly average, so the panel's
other truths stay as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Share of geo-weeks with a promotion.
PROMO_SHARE = 0.3


@dataclass(frozen=True)
class TreatmentTruth:
    """What generated a lever column: its effect per unit and the counterfactual level."""

    name: str
    column: str
    effect: float  # KPI (share of s_g) per unit of the lever
    baseline: float  # the counterfactual level the incremental KPI is measured against
    kpi_scale: np.ndarray  # (G,) s_g

    @classmethod
    def from_settings(cls, d: dict[str, Any]) -> TreatmentTruth:
        return cls(**{k: np.asarray(v, dtype="float64") if isinstance(v, list) else v for k, v in d.items()})

    def to_settings(self) -> dict[str, Any]:
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.__dict__.items()}

    def contributions(self, lever: np.ndarray) -> np.ndarray:
        """``(G, T)`` KPI (original units) against the lever held at ``baseline``."""
        return self.kpi_scale[:, None] * self.effect * (np.asarray(lever, dtype="float64") - self.baseline)

    def model_effect(self, lever: np.ndarray, kpi_mean: np.ndarray) -> float:
        """``treatment_effect`` in the fitted model's units: per sd of the lever, per the
        geo's mean KPI (averaged over geos, weighted by KPI: the model shares one value)."""
        ratio = np.asarray(self.kpi_scale) / np.asarray(kpi_mean, dtype="float64")
        w = np.asarray(kpi_mean) / np.sum(kpi_mean)
        return float(self.effect * np.std(lever) * np.sum(w * ratio))


def make_treatment(
    rng: np.random.Generator, kpi_scale: np.ndarray, n_weeks: int, *, name: str = "discount",
    column: str | None = None, effect: float = 0.004,
) -> tuple[TreatmentTruth, np.ndarray, np.ndarray]:
    """A lever truth, the lever ``(G, T)`` and its contribution ``(G, T)`` (KPI units)."""
    if not np.isfinite(effect):
        raise ValueError(f"treatment: effect={effect} must be a finite number")
    G = len(kpi_scale)
    promo = rng.random((G, n_weeks)) < PROMO_SHARE
    lever = np.round(promo * rng.uniform(5.0, 25.0, (G, n_weeks)), 1)
    truth = TreatmentTruth(name=name, column=column or name, effect=float(effect), baseline=0.0,
                           kpi_scale=np.asarray(kpi_scale, dtype="float64"))
    return truth, lever, truth.contributions(lever)
