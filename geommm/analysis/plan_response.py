"""A media plan scaled by a multiplier per geo x channel: its KPI and derivatives.

The optimiser, the response curves and the target-ROI search all ask "what if each
cell spent m times its plan"; :class:`PlanResponse` answers from the forward model's
draws with closed-form saturation sums (adstock is linear, so the plan is adstocked
once per draw). A log KPI has its own answer (``analysis/log_kpi.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geommm.analysis.synergy_plan import SynergySums
from geommm.media import lag_stack

if TYPE_CHECKING:
    from geommm.analysis.forward import ForwardModel
    from geommm.model.design import ModelData


def scaled_plan(data: ModelData, plan: np.ndarray | None) -> np.ndarray:
    """``plan`` (G, T, C in model input units; the observed media when None) in scaled
    units, with ``max_lag - 1`` empty weeks after it so its carryover tail counts."""
    plan = data.media_input if plan is None else np.asarray(plan, dtype="float64")
    G, _, C = plan.shape
    return np.concatenate([plan, np.zeros((G, data.max_lag - 1, C))], axis=1) / data.media_scale[:, None, :]


class PlanResponse:
    """Incremental KPI of every geo x channel when a weekly media plan is scaled.

    ``plan`` is model input (exposure or spend, original units) per geo, week and
    channel, ``(G, T, C)``; the observed media by default. Scaling a plan by ``m``
    scales its adstocked media by ``m`` (adstock is linear), so the plan is adstocked
    once per draw and every "what if we spent m times as much" is one pass through
    the saturation sums (:meth:`MediaTransform.response_sums`), with closed-form
    derivatives in ``m``. The carryover tail after the plan's last week counts, as
    in ROI: ``kpi(m)`` equals :meth:`ForwardModel.media_contributions` of ``m x plan``
    summed over weeks.

    Draws are processed in memory-bounded chunks (:meth:`ForwardModel.chunks`). When
    one chunk holds them all the prepared sums are kept; otherwise each evaluation
    prepares one chunk at a time again (slower, but memory stays at one chunk).
    """

    def __init__(self, forward: ForwardModel, plan: np.ndarray | None = None, effectiveness: str = "latest",
                 start: int = 0) -> None:
        self.start = start
        data = forward.data
        self.scaled = scaled_plan(data, plan)
        G, _, C = self.scaled.shape
        self.transform = forward.transform
        self.effect = data.kpi_scale[None, :, None] * forward.draws["media_effect"]  # (D, G, C)
        multiplier = forward.planning_multiplier(effectiveness)
        if multiplier is not None:  # one effectiveness for the whole plan, stated in the tables
            self.effect = self.effect * multiplier
        self.n_geos, self.n_channels = G, C
        self._parts = list(forward.chunks(G * self.scaled.shape[1] * C))
        self._prepared = self._prepare(self._parts[0]) if len(self._parts) == 1 else None
        self.synergy = SynergySums.of(forward)  # synergy(a, b): analysis/synergy_plan.py

    def _prepare(self, forward: ForwardModel) -> list[tuple]:
        """The plan adstocked once for ``forward``'s draws, ready for the saturation sums."""
        lagged = lag_stack(self.scaled, forward.data.max_lag, time_axis=-2)
        adstocked = self.transform.adstock(lagged, forward.draws, self.start)
        adstocked = np.broadcast_to(adstocked, (forward.n_draws, *adstocked.shape[-3:]))
        return self.transform.prepare(adstocked, forward.draws)

    @property
    def prepared(self) -> list[tuple]:
        """Prepared sums of all draws (one chunk) — kept for callers that read them."""
        if self._prepared is None:
            raise MemoryError("the plan is prepared chunk by chunk on this panel; use derivatives()")
        return self._prepared

    @property
    def n_draws(self) -> int:
        return self.effect.shape[0]

    def kpi(self, multiplier: float | np.ndarray = 1.0) -> np.ndarray:
        """(D, G, C) incremental KPI at ``multiplier`` x the plan."""
        return self.derivatives(multiplier, order=0)[0]

    def curve(self, multiplier: float | np.ndarray = 1.0) -> np.ndarray:
        """The response curve's points: :meth:`kpi` (channels add up, so each on its own)."""
        return self.kpi(multiplier)

    def kpi_and_gradient(self, multiplier: float | np.ndarray = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """(D, G, C) incremental KPI and its derivative with respect to each cell's multiplier."""
        kpi, grad = self.derivatives(multiplier, order=1)
        return kpi, grad

    def derivatives(self, multiplier: float | np.ndarray = 1.0, order: int = 2) -> list[np.ndarray]:
        """[KPI, dKPI/dm, d2KPI/dm2][: order + 1], each (D, G, C).

        A cell's KPI depends on its own multiplier only, so these are the whole
        gradient and the (diagonal) Hessian. With ``synergy()`` a cell's KPI is its
        Shapley share and the derivatives are the *total* KPI's in the cell's multiplier;
        :meth:`cross` gives the Hessian's synergy entries (``analysis/synergy_plan.py``).
        """
        m = np.broadcast_to(np.asarray(multiplier, dtype="float64"), (self.n_geos, self.n_channels))
        if self._prepared is not None:
            out = [self.effect * s for s in self.transform.response_sums(self._prepared, m, order)]
            return out if self.synergy is None else self.synergy.add(out, [self._prepared], m, order)
        parts = [self.transform.response_sums(self._prepare(fw), m, order) for fw in self._parts]
        out = [self.effect * np.concatenate([p[k] for p in parts]) for k in range(order + 1)]
        return out if self.synergy is None else self.synergy.add(out, self._chunks(), m, order)

    def _chunks(self) -> list[list[tuple]]:
        return [self._prepared] if self._prepared is not None else [self._prepare(fw) for fw in self._parts]

    def cross(self, multiplier: float | np.ndarray = 1.0) -> np.ndarray | None:
        """(D, G, P) d2 KPI / dm_ga dm_gb of every ``synergy(a, b)`` pair; None without."""
        if self.synergy is None:
            return None
        m = np.broadcast_to(np.asarray(multiplier, dtype="float64"), (self.n_geos, self.n_channels))
        return self.synergy.cross(self._chunks(), m)
