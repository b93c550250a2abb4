"""Forward model over posterior draws: what the fitted model says the KPI would be.

Everything downstream (contributions, ROI, marginal ROI, response curves,
predictions, scenarios, the optimiser) asks this one object for KPI under some
media plan, so the definitions cannot drift apart. Results are in original KPI
units, with a leading draw axis.
"""

from __future__ import annotations

import numpy as np

from geommm.formula.terms import ModelSpec
from geommm.model import mean as mean_fn
from geommm.model.design import ModelData
from geommm.model.transforms import lag_stack


class ForwardModel:
    """The fitted model as a function of media, for ``D`` posterior draws."""

    def __init__(self, spec: ModelSpec, data: ModelData, draws: dict[str, np.ndarray]):
        self.spec = spec
        self.data = data
        self.draws = draws

    @property
    def n_draws(self) -> int:
        return self.draws["media_effect"].shape[0]

    def media_contributions(
        self, media_input: np.ndarray | None = None, carryover_weeks: int = 0, data: ModelData | None = None
    ) -> np.ndarray:
        """(D, G, T + carryover_weeks, C) KPI from media; ``media_input`` in original units.

        ``carryover_weeks`` appends zero-media weeks so effects landing after the last
        week (adstock tail) are counted, as ROI requires.
        """
        data = data or self.data
        x = data.media_input if media_input is None else np.asarray(media_input, dtype="float64")
        if carryover_weeks:
            pad = np.zeros((x.shape[0], carryover_weeks, x.shape[2]))
            x = np.concatenate([x, pad], axis=1)
        scaled = x / self.data.media_scale[:, None, :]
        lagged = lag_stack(scaled, self.data.max_lag, time_axis=-2)
        sat = mean_fn.media_saturation(self.spec.media, self.draws, lagged, self.data.lag_mask)
        beta = self.draws["media_effect"][:, :, None, :]
        return self.data.kpi_scale[None, :, None, None] * beta * sat

    def media_contributions_history(self, media_input: np.ndarray, history: np.ndarray) -> np.ndarray:
        """Contributions of ``media_input`` weeks preceded by ``history`` weeks (carryover in).

        Returns only the ``media_input`` weeks: (D, G, T_new, C).
        """
        full = np.concatenate([history, media_input], axis=1)
        out = self.media_contributions(full)
        return out[:, :, history.shape[1] :, :]

    def baseline_contributions(self, data: ModelData | None = None) -> dict[str, np.ndarray]:
        """Named non-media components, each (D, G, T), in KPI units."""
        data = data or self.data
        scale = self.data.kpi_scale[None, :, None]
        parts = mean_fn.baseline_components(self.draws, data)
        out = {}
        G, T = data.n_geos, data.n_times
        for name, value in parts.items():
            if name == "controls":
                continue
            out[name] = np.broadcast_to(value, (self.n_draws, G, T)) * scale
        if data.controls.shape[-1]:
            for name, value in mean_fn.control_contributions(self.draws, data).items():
                out[name] = value * scale
        return out

    def expected_kpi(self, data: ModelData | None = None, media: np.ndarray | None = None) -> np.ndarray:
        """(D, G, T) expected KPI (no observation noise)."""
        data = data or self.data
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
