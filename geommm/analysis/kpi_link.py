"""How the model's mean becomes KPI: added up (the default), or through ``log(KPI) ~ ...``.

The two differ in every place where the analysis turns draws into KPI: a channel's
contribution (its own term, or a counterfactual), the baseline's parts, the expected
and the predicted KPI, plans, ROI's "without this channel", the noise, the lift cells'
level and what is left over when counterfactuals overlap. The forward model and the
analysis ask the fit's link in each of those places, so a new term that must work
with a log KPI is made to work in one object, not in a branch per module.
Both links are stateless; each method takes the :class:`ForwardModel` it answers for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geommm.analysis import log_kpi
from geommm.analysis.plan_response import PlanResponse
from geommm.media import lag_stack
from geommm.model import expected
from geommm.model.path_forecast import smooth_at
from geommm.model.synergy import synergy_shares

if TYPE_CHECKING:
    from geommm.analysis.forward import ForwardModel
    from geommm.model.design import ModelData


class AdditiveLink:
    """KPI = baseline + media + controls: every component is its own term and they add up."""

    is_log = False

    def media_contributions(
        self, forward: ForwardModel, media_input, carryover_weeks: int, data: ModelData | None, start: int
    ) -> np.ndarray:
        """(D, G, T + carryover_weeks, C) KPI from each channel, in KPI units."""
        data = data or forward.data
        x = data.media_input if media_input is None else np.asarray(media_input, dtype="float64")
        if carryover_weeks:
            pad = np.zeros((x.shape[0], carryover_weeks, x.shape[2]))
            x = np.concatenate([x, pad], axis=1)
        scaled = x / forward.data.media_scale[:, None, :]
        sat = forward.transform(lag_stack(scaled, forward.data.max_lag, time_axis=-2), forward.draws, start)
        beta = forward.draws["media_effect"][:, :, None, :]
        shares = synergy_shares(forward.spec, forward.data, forward.draws, sat)  # synergy(a, b): halves
        multiplier = forward.multiplier_weeks(sat.shape[-2], start)
        if multiplier is not None:
            sat = sat * multiplier
        out = forward.data.kpi_scale[None, :, None, None] * beta * sat
        return out if shares is None else out + shares

    def plan_response(self, forward: ForwardModel, plan, effectiveness: str, start: int):
        return PlanResponse(forward, plan, effectiveness, start)

    def baseline_contributions(self, forward: ForwardModel, data: ModelData | None) -> dict[str, np.ndarray]:
        """Named non-media components, each (D, G, T), in KPI units."""
        data = data or forward.data
        scale = forward.data.kpi_scale[None, :, None]
        parts = expected.baseline_components(forward.draws, data)
        if "smooth" in parts:  # weeks outside the fitted ones continue the smooth baseline's process
            n_train = data.n_train_weeks or data.n_times
            weeks = np.rint((data.trend + 0.5) * max(n_train - 1, 1)).astype("int64")
            if weeks.min() < 0 or weeks.max() >= n_train:
                parts["smooth"] = smooth_at(forward.draws, n_train, forward.spec.smooth.basis, weeks)
        out = {}
        G, T = data.n_geos, data.n_times
        for name, value in parts.items():
            if name == "controls":
                continue
            out[name] = np.broadcast_to(value, (forward.n_draws, G, T)) * scale
        if data.controls.shape[-1]:
            for name, value in expected.control_contributions(forward.draws, data).items():
                out[name] = value * scale
        return out

    def expected_kpi(self, forward: ForwardModel, data: ModelData, media: np.ndarray | None) -> np.ndarray:
        """(D, G, T) expected KPI: the components' sum."""
        own = None if data is forward.data else data  # the fitted data's contributions are kept
        total = forward.map_chunks(
            lambda fw: fw.media_contributions(media, data=own).sum(axis=-1), forward.cells_per_draw(data=data)
        )
        for value in forward.baseline_contributions(data).values():
            total = total + value
        return total

    def predicted_kpi(self, forward: ForwardModel, data: ModelData, history: np.ndarray) -> np.ndarray:
        """(D, G, T) expected KPI of new weeks, with the carryover of ``history`` weeks in."""
        cells = forward.cells_per_draw(history.shape[1] + data.n_times)
        media = forward.map_chunks(
            lambda fw: fw.media_contributions_history(data.media_input, history, data.times[0]).sum(axis=-1),
            cells,
        )
        return media + sum(forward.baseline_contributions(data).values())

    def model_mean(self, forward: ForwardModel) -> np.ndarray:
        """(D, G, T) the mean the likelihood sees: scaled KPI."""
        return forward.expected_kpi() / forward.data.kpi_scale[None, :, None]

    def with_noise(self, forward: ForwardModel, mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``mean`` (D, G, T) plus Normal or Student-t observation noise, in KPI units."""
        sd = forward.draws["noise_sd"][:, :, None] * forward.data.kpi_scale[None, :, None]
        if "student_t_nu" in forward.draws:
            nu = forward.draws["student_t_nu"][:, None, None]
            noise = rng.standard_t(np.broadcast_to(nu, mean.shape)) * sd
        else:
            noise = rng.standard_normal(mean.shape) * sd
        return mean + noise

    def incremental_kpi(self, forward: ForwardModel, factor: np.ndarray) -> np.ndarray:
        """(D, G, C) KPI due to each channel at ``factor`` x observed media, tail included:
        zeroing one channel removes exactly its own term."""
        data = forward.data
        if factor.ndim == 0 and float(factor) == 1.0:  # the observed media: ROI's numerator
            return forward.observed_kpi_with_tail()
        return forward.media_kpi(data.media_input * factor, carryover_weeks=data.max_lag - 1)

    def interaction(self, forward: ForwardModel) -> np.ndarray | None:
        """What the components leave of the KPI: nothing, they add up."""
        return None

    def joint_media_kpi(self, forward: ForwardModel, media: np.ndarray, carryover_weeks: int) -> np.ndarray | None:
        """All channels' KPI together, when it is not the sum of theirs: it is."""
        return None

    def lift_level(self, forward: ForwardModel) -> np.ndarray | None:
        """The KPI level a lift cell's effect multiplies: none, effects add."""
        return None


class LogLink(AdditiveLink):
    """``log(KPI) ~ ...``: components multiply, so a channel's contribution is the KPI
    with it minus the KPI without it (``analysis/log_kpi.py``, docs/log_kpi.md)."""

    is_log = True

    def media_contributions(self, forward, media_input, carryover_weeks, data, start):
        return log_kpi.media_contributions(forward, media_input, carryover_weeks, data, start)

    def plan_response(self, forward, plan, effectiveness, start):
        return log_kpi.LogPlanResponse(forward, plan, effectiveness)  # no R&F channels: start unused

    def baseline_contributions(self, forward, data):
        return log_kpi.baseline_contributions(forward, data)

    def expected_kpi(self, forward, data, media):
        return log_kpi.expected_kpi(forward, data, media)  # exp(mu + sd^2 / 2) in KPI units

    def predicted_kpi(self, forward, data, history):
        return log_kpi.predicted_kpi(forward, data, history)

    def model_mean(self, forward):
        return log_kpi.modelled_mean(forward)

    def with_noise(self, forward, mean, rng):
        return log_kpi.with_noise(forward, mean, rng)

    def incremental_kpi(self, forward, factor):
        return log_kpi.incremental_kpi(forward, factor)  # each at factor, the others as observed

    def interaction(self, forward):
        return log_kpi.interaction(forward)

    def joint_media_kpi(self, forward, media, carryover_weeks):
        return log_kpi.joint_media_kpi(forward, media, carryover_weeks)

    def lift_level(self, forward):
        return log_kpi.lift_level(forward)


ADDITIVE = AdditiveLink()
LOG = LogLink()


def link_for(data: ModelData) -> AdditiveLink:
    """The link of a model's data: log when the formula's response is ``log(KPI)``."""
    return LOG if data.log_kpi else ADDITIVE
