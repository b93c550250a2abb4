"""THE forward model: what the fitted model says the KPI would be, over posterior draws.

Everything downstream (contributions, ROI, marginal ROI, response curves,
predictions, scenarios, the optimiser, lift checks) asks this one object for KPI
under some media plan, and it asks :class:`geommm.media.MediaTransform` (the same
transform the PyMC graph uses) how media turn into KPI. Results are in original
KPI units, with a leading draw axis.
"""

from __future__ import annotations

import numpy as np

from geommm.formula.terms import ModelSpec
from geommm.media import lag_stack
from geommm.model import expected
from geommm.model.design import ModelData


#: Numbers a ForwardModel keeps for reuse, all arrays together: 8M numbers, 64 MB (the
#: demo's media contributions are 4.2M); the oldest arrays make room for a new one.
MEMO_CELLS = 8_000_000


class ForwardModel:
    """The fitted model as a function of media, for ``D`` posterior draws."""

    def __init__(self, spec: ModelSpec, data: ModelData, draws: dict[str, np.ndarray]):
        self.spec = spec
        self.data = data
        self.draws = draws
        self.transform = expected.media_transform(spec, data)
        self._memo: dict[tuple, np.ndarray] = {}

    @property
    def n_draws(self) -> int:
        return self.draws["media_effect"].shape[0]

    def remember(self, key: tuple, compute) -> np.ndarray:
        """``compute()`` once per ``key`` for these draws, kept read-only (several tables of
        one report ask for the same arrays: ROI and marginal ROI share the observed plan's
        incremental KPI, fitted values and fit metrics the expected KPI). At most
        MEMO_CELLS numbers are kept in all: the oldest arrays are dropped to make room,
        and an array bigger than that is recomputed instead of kept."""
        if key in self._memo:
            return self._memo[key]
        value = compute()
        if value.size <= MEMO_CELLS:
            while self._memo and sum(v.size for v in self._memo.values()) + value.size > MEMO_CELLS:
                del self._memo[next(iter(self._memo))]
            value.setflags(write=False)
            self._memo[key] = value
        return value

    def with_draws(self, draws: dict[str, np.ndarray]) -> ForwardModel:
        """The same model over other draws (a thinned set or a chunk)."""
        return ForwardModel(self.spec, self.data, draws)

    def media_contributions(
        self, media_input: np.ndarray | None = None, carryover_weeks: int = 0, data: ModelData | None = None
    ) -> np.ndarray:
        """(D, G, T + carryover_weeks, C) KPI from media; ``media_input`` in original units.

        ``carryover_weeks`` appends zero-media weeks so effects landing after the last
        week (adstock tail) are counted, as ROI requires. Those of the observed media
        (no arguments) are computed once: contributions, fitted values and lift checks
        all start from them.
        """
        if media_input is None and not carryover_weeks and data is None:
            return self.remember(("media_contributions",), lambda: self._media_contributions(None, 0, None))
        return self._media_contributions(media_input, carryover_weeks, data)

    def _media_contributions(self, media_input, carryover_weeks: int, data: ModelData | None) -> np.ndarray:
        data = data or self.data
        x = data.media_input if media_input is None else np.asarray(media_input, dtype="float64")
        if carryover_weeks:
            pad = np.zeros((x.shape[0], carryover_weeks, x.shape[2]))
            x = np.concatenate([x, pad], axis=1)
        scaled = x / self.data.media_scale[:, None, :]
        sat = self.transform(lag_stack(scaled, self.data.max_lag, time_axis=-2), self.draws)
        beta = self.draws["media_effect"][:, :, None, :]
        return self.data.kpi_scale[None, :, None, None] * beta * sat

    def media_contributions_history(self, media_input: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Contributions of ``media_input`` weeks preceded by ``history`` weeks (carryover in).

        Returns only the ``media_input`` weeks: (D, G, T_new, C).
        """
        full = np.concatenate([history, media_input], axis=1)
        out = self.media_contributions(full)
        return out[:, :, history.shape[1] :, :]

    def plan_response(self, plan: np.ndarray | None = None) -> PlanResponse:
        """KPI of every geo x channel, and its derivatives, as ``plan`` is scaled."""
        return PlanResponse(self, plan)

    def baseline_contributions(self, data: ModelData | None = None) -> dict[str, np.ndarray]:
        """Named non-media components, each (D, G, T), in KPI units."""
        data = data or self.data
        scale = self.data.kpi_scale[None, :, None]
        parts = expected.baseline_components(self.draws, data)
        out = {}
        G, T = data.n_geos, data.n_times
        for name, value in parts.items():
            if name == "controls":
                continue
            out[name] = np.broadcast_to(value, (self.n_draws, G, T)) * scale
        if data.controls.shape[-1]:
            for name, value in expected.control_contributions(self.draws, data).items():
                out[name] = value * scale
        return out

    def expected_kpi(self, data: ModelData | None = None, media: np.ndarray | None = None) -> np.ndarray:
        """(D, G, T) expected KPI (no observation noise); of the fitted data, computed once."""
        if data is None and media is None:
            return self.remember(("expected_kpi",), lambda: self._expected_kpi(self.data, None))
        return self._expected_kpi(data or self.data, media)

    def _expected_kpi(self, data: ModelData, media: np.ndarray | None) -> np.ndarray:
        total = self.media_contributions(media, data=data).sum(axis=-1)
        for value in self.baseline_contributions(data).values():
            total = total + value
        return total

    def predictive(self, expected: np.ndarray, seed: int = 0) -> np.ndarray:
        """Add observation noise to ``expected`` (D, G, T) for predictive intervals."""
        rng = np.random.default_rng(seed)
        sd = self.draws["noise_sd"][:, :, None] * self.data.kpi_scale[None, :, None]
        if "student_t_nu" in self.draws:
            nu = self.draws["student_t_nu"][:, None, None]
            noise = rng.standard_t(np.broadcast_to(nu, expected.shape)) * sd
        else:
            noise = rng.standard_normal(expected.shape) * sd
        return expected + noise


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
    """

    def __init__(self, forward: ForwardModel, plan: np.ndarray | None = None) -> None:
        data, draws = forward.data, forward.draws
        plan = data.media_input if plan is None else np.asarray(plan, dtype="float64")
        G, _, C = plan.shape
        lag = data.max_lag
        scaled = np.concatenate([plan, np.zeros((G, lag - 1, C))], axis=1) / data.media_scale[:, None, :]
        adstocked = forward.transform.adstock(lag_stack(scaled, lag, time_axis=-2), draws)
        adstocked = np.broadcast_to(adstocked, (forward.n_draws, *adstocked.shape[-3:]))
        self.transform = forward.transform
        self.effect = data.kpi_scale[None, :, None] * draws["media_effect"]  # (D, G, C)
        self.prepared = forward.transform.prepare(adstocked, draws)
        self.n_geos, self.n_channels = G, C

    @property
    def n_draws(self) -> int:
        return self.effect.shape[0]

    def kpi(self, multiplier: float | np.ndarray = 1.0) -> np.ndarray:
        """(D, G, C) incremental KPI at ``multiplier`` x the plan."""
        return self.derivatives(multiplier, order=0)[0]

    def kpi_and_gradient(self, multiplier: float | np.ndarray = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """(D, G, C) incremental KPI and its derivative with respect to each cell's multiplier."""
        kpi, grad = self.derivatives(multiplier, order=1)
        return kpi, grad

    def derivatives(self, multiplier: float | np.ndarray = 1.0, order: int = 2) -> list[np.ndarray]:
        """[KPI, dKPI/dm, d2KPI/dm2][: order + 1], each (D, G, C).

        A cell's KPI depends on its own multiplier only, so these are the whole
        gradient and the (diagonal) Hessian.
        """
        m = np.broadcast_to(np.asarray(multiplier, dtype="float64"), (self.n_geos, self.n_channels))
        return [self.effect * s for s in self.transform.response_sums(self.prepared, m, order)]


def as_forward(fit_or_forward) -> ForwardModel:
    """Accept a ``Fit`` or a ``ForwardModel`` wherever the analysis needs draws."""
    if isinstance(fit_or_forward, ForwardModel):
        return fit_or_forward
    forward = getattr(fit_or_forward, "forward", None)
    if not isinstance(forward, ForwardModel):
        raise TypeError(
            f"expected a geommm Fit or ForwardModel, got {type(fit_or_forward).__name__}"
        )
    return forward
