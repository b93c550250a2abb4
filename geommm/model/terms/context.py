"""What the model's terms share while they build: the inputs, and the tensors made so far.

Each term reads what earlier terms left in ``values`` (the media term's saturated
media, the level term's geo levels, ...) and returns its own additions; the names
are the trace's names where a tensor is stored, so ``expected.py`` and the media
transform read the graph and the posterior draws alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geommm.formula.terms import ModelSpec
from geommm.media import MediaTransform
from geommm.model.design import ModelData
from geommm.model.lift import LiftCells
from geommm.model.priors import PriorSet


@dataclass
class TermContext:
    """The inputs of one model build and ``values``: every tensor the terms made, by name.

    ``geo_centring`` (per channel) and ``level_centring`` are the partial-centring
    weights of the geo media effects and the geo levels (1 = non-centred).
    """

    spec: ModelSpec
    data: ModelData
    priors: PriorSet
    transform: MediaTransform
    lift_cells: LiftCells | None = None
    likelihood: str = "normal"
    store_mean: bool = False
    geo_centring: np.ndarray | None = None
    level_centring: float | None = None
    observed_weeks: np.ndarray | None = None  # KPI likelihood on these weeks only (refresh)
    #: (first week, prior sd) of a refresh's step change in effectiveness (terms/effect_shift.py)
    effect_shift: tuple[int, float] | None = None
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def pools_geos(self) -> bool:
        """More than one geo: geo deviations and their spreads exist."""
        return self.data.n_geos > 1

    def shared_rv(self, name: str, dims: str | None = None):
        """The variable of a shared prior, named as the prior."""
        return self.priors.shared[name].create(name, dims=dims)

    def channel_rv(self, name: str):
        """The per-channel variable of a media prior, named as the prior."""
        return self.priors.channel[name].create(name, dims="channel")

    def channel_geo_sd(self, name: str):
        """A per-channel geo spread, or None with one geo (nothing to pool)."""
        return self.channel_rv(name) if self.pools_geos else None
