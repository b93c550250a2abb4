"""Known organic media added to a simulated panel, for the organic(...) term's recovery.

A non-paid exposure column (newsletter sends, say) drives the KPI through geometric
adstock and a Hill curve, each geo with its own retention, half-saturation and effect,
exactly the shape the term models. The truth keeps its own forward maths (``truth.py``'s
adstock and Hill, the simulator's yardstick). The column's contribution is added
centred on each geo's weekly average, so every geo's noise-free mean KPI (the KPI scale
``s_g``) and with it every other truth of the panel stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from geommm.sim.truth import _geometric_adstock, _hill, media_scale

#: Weeks in which the sends run (the rest are dark): some on/off contrast to learn from.
ON_SHARE = 0.7


@dataclass(frozen=True)
class OrganicTruth:
    """What generated an organic column: per-geo shape and effect, in the model's units."""

    name: str
    column: str
    retention: np.ndarray  # (G,) weekly carryover (geometric)
    half_saturation: np.ndarray  # (G,) in scaled exposure (x / m_g)
    slope: float
    effect: np.ndarray  # (G,) scaled by the simulator's KPI scale s_g
    kpi_scale: np.ndarray  # (G,) s_g
    max_lag: int = 8

    @classmethod
    def from_settings(cls, d: dict[str, Any]) -> OrganicTruth:
        return cls(**{k: np.asarray(v, dtype="float64") if isinstance(v, list) else v for k, v in d.items()})

    def to_settings(self) -> dict[str, Any]:
        return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in self.__dict__.items()}

    def contributions(self, exposure: np.ndarray) -> np.ndarray:
        """``(G, T)`` KPI (original units) the exposure ``(G, T)`` adds against none."""
        x = np.asarray(exposure, dtype="float64")[..., None] / media_scale(exposure[..., None])[:, None, :]
        ad = _geometric_adstock(x, self.retention[:, None], self.max_lag)
        k = self.half_saturation[:, None, None]
        gain = _hill(ad, k, self.slope) - _hill(np.zeros_like(ad), k, self.slope)
        return self.kpi_scale[:, None] * self.effect[:, None] * gain[..., 0]

    def model_effect(self, kpi_mean: np.ndarray) -> np.ndarray:
        """``organic_effect`` in the fitted model's units: per the geo's mean KPI."""
        return self.effect * self.kpi_scale / np.asarray(kpi_mean, dtype="float64")


def organic_exposure(rng: np.random.Generator, kpi_scale: np.ndarray, n_weeks: int) -> np.ndarray:
    """Weekly sends ``(G, T)``: proportional to geo size, on in ~70% of weeks, noisy."""
    on = rng.random((len(kpi_scale), n_weeks)) < ON_SHARE
    level = np.exp(0.4 * rng.standard_normal((len(kpi_scale), n_weeks)))
    return np.round(on * level * kpi_scale[:, None] / 50.0)


def make_organic(
    rng: np.random.Generator, kpi_scale: np.ndarray, n_weeks: int, *, name: str = "newsletter",
    column: str | None = None, share: float = 0.06, retention: float = 0.4,
    half_saturation: float = 0.8, slope: float = 1.5, max_lag: int = 8,
) -> tuple[OrganicTruth, np.ndarray, np.ndarray]:
    """An organic truth, its exposure ``(G, T)`` and its contribution ``(G, T)`` (KPI units),
    scaled so the term explains ``share`` of the noise-free KPI."""
    if not (0 < share < 0.5 and 0 < retention < 1 and half_saturation > 0 and slope > 0):
        raise ValueError(
            f"organic: need 0 < share < 0.5, 0 < retention < 1, half_saturation > 0, slope > 0; got "
            f"share={share}, retention={retention}, half_saturation={half_saturation}, slope={slope}")
    G = len(kpi_scale)
    exposure = organic_exposure(rng, kpi_scale, n_weeks)
    z = rng.standard_normal((3, G))
    logit = np.log(retention / (1 - retention))
    unit = OrganicTruth(
        name=name, column=column or f"{name}_sends", retention=1 / (1 + np.exp(-(logit + 0.2 * z[0]))),
        half_saturation=half_saturation * np.exp(0.1 * z[1]), slope=float(slope),
        effect=np.exp(0.15 * z[2]), kpi_scale=np.asarray(kpi_scale, dtype="float64"), max_lag=max_lag,
    )
    unit_total = unit.contributions(exposure).sum()
    truth = OrganicTruth(**{**unit.__dict__, "effect": unit.effect * share * kpi_scale.sum() * n_weeks / unit_total})
    return truth, exposure, truth.contributions(exposure)

