"""Candidate tests: a channel, a cell of geos, a length and a kind — searched, not enumerated.

All subsets of 10 geos are 1023 cells per channel, length and kind; most are
pointless. The search keeps every single-geo cell and grows multi-geo cells
greedily from the most informative single geos: each step adds the geo that most
narrows the channel's national ROI (Gaussian preposterior, fast and vectorised),
and every size up to ``max_geos`` is kept as a candidate. With ``max_cost`` a geo is
only added while the cell stays affordable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geommm.analysis.experiments.effects import CellEffects
from geommm.analysis.experiments.preposterior import gaussian_ratio

#: Single geos the greedy search grows multi-geo cells from.
GREEDY_STARTS = 3


@dataclass(frozen=True)
class Candidate:
    """One test: a channel, its geos, and what it changes (draws over the posterior)."""

    channel: int
    geos: tuple[int, ...]
    effects: CellEffects
    lift: np.ndarray  # (D,) KPI change over the measured window
    se: float  # the experiment's own standard error
    info_se: float  # what the refit learns: the lift row and the test weeks in the panel
    cost: float
    spend_change: float
    bau_spend: float


class CellPricer:
    """Lift draws, standard error and cost of any geo set for one channel, length and kind."""

    def __init__(self, effects: CellEffects, channel: int, geo_variance: np.ndarray,
                 lift_se: float | None, relative_se: float | None, kpi_value: float,
                 panel_variance: np.ndarray | None = None) -> None:
        self.effects, self.channel = effects, channel
        self.lift = effects.lift[:, :, channel]  # (D, G)
        self.geo_variance = geo_variance  # (G,)
        self.panel_variance = panel_variance  # (G,) or None: the panel weeks not counted
        self.lift_se, self.relative_se = lift_se, relative_se
        self.spend_change = effects.spend_change[:, channel]
        self.bau = effects.bau_spend[:, channel]
        if effects.kind == "go_dark":  # the KPI given up, carryover tail included
            self.cost = -kpi_value * effects.total[:, :, channel].mean(axis=0)
        else:
            self.cost = self.spend_change.copy()

    def se(self, lift: np.ndarray, variance: np.ndarray) -> np.ndarray:
        if self.lift_se is not None:
            return np.full(np.shape(variance), self.lift_se)
        if self.relative_se is not None:
            return self.relative_se * np.abs(lift.mean(axis=-1))
        return np.sqrt(variance)

    def info_se(self, se: np.ndarray, panel_variance: np.ndarray | float) -> np.ndarray:
        """The lift row and the panel's test weeks combined (inverse-variance)."""
        if self.panel_variance is None:
            return se
        return 1.0 / np.sqrt(1.0 / np.asarray(se) ** 2 + 1.0 / np.asarray(panel_variance))

    def candidate(self, geos: tuple[int, ...]) -> Candidate:
        idx = list(geos)
        lift = self.lift[:, idx].sum(axis=1)
        se = float(self.se(lift, self.geo_variance[idx].sum()))
        panel = 0.0 if self.panel_variance is None else self.panel_variance[idx].sum()
        return Candidate(self.channel, geos, self.effects, lift, se, float(self.info_se(se, panel)),
                         float(self.cost[idx].sum()), float(self.spend_change[idx].sum()),
                         float(self.bau[idx].sum()))


def search(pricer: CellPricer, roi: np.ndarray, pool: tuple[int, ...], max_geos: int,
           max_cost: float | None) -> list[tuple[int, ...]]:
    """Geo sets worth pricing: every usable single geo, then greedy growth from the best.

    ``roi`` (D,) is the channel's national ROI over the draws; a geo is usable where
    business as usual spends in the window (else the test changes nothing)."""
    usable = [g for g in pool if pricer.bau[g] > 0 and pricer.cost[g] > 0]
    if max_cost is not None:
        usable = [g for g in usable if pricer.cost[g] <= max_cost]
    if not usable:
        return []
    singles = [(g,) for g in usable]
    if max_geos < 2 or len(usable) < 2:
        return singles
    ratio = _ratio(pricer, roi, [list(s) for s in singles])
    starts = [usable[i] for i in np.argsort(ratio)[:GREEDY_STARTS]]
    found: dict[tuple[int, ...], None] = dict.fromkeys(singles)
    for first in starts:
        cell = [first]
        while len(cell) < max_geos:
            rest = [g for g in usable if g not in cell]
            if max_cost is not None:
                spent = pricer.cost[cell].sum()
                rest = [g for g in rest if spent + pricer.cost[g] <= max_cost]
            if not rest:
                break
            r = _ratio(pricer, roi, [cell + [g] for g in rest])
            cell = cell + [rest[int(np.argmin(r))]]
            found[tuple(sorted(cell))] = None
    return list(found)


def _ratio(pricer: CellPricer, roi: np.ndarray, cells: list[list[int]]) -> np.ndarray:
    """Gaussian sd ratio (after / now) of the national ROI for each cell; lower is better."""
    lift = np.stack([pricer.lift[:, c].sum(axis=1) for c in cells])  # (N, D)
    variance = np.array([pricer.geo_variance[c].sum() for c in cells])
    se = pricer.se(lift, variance)
    if pricer.panel_variance is not None:
        se = pricer.info_se(se, np.array([pricer.panel_variance[c].sum() for c in cells]))
    return gaussian_ratio(roi, lift, se)
