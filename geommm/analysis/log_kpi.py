"""A log KPI (``log(revenue) ~ ...``) reported in KPI units, by counterfactual.

The model adds every term on the log scale: ``log(y_gt / s_g) = base_gt + sum_c e_gtc +
eps_gt`` with ``e_gtc`` a channel's media effect on log KPI. What is reported:

- the *mean* KPI, ``E_gt = s_g exp(base_gt + sum_c e_gtc + sd_g^2 / 2)`` (Normal noise on
  the log scale lifts the mean by ``exp(sd^2 / 2)``);
- a channel's contribution: ``E_gt - E_gt(channel off) = E_gt (1 - exp(-e_gtc))`` per
  geo-week; non-media terms alike, the baseline being the KPI with every other term off;
  these no longer add up, and the contributions table shows the rest as one
  ``interaction`` row (expected KPI minus every counterfactual);
- ROI: the channel's counterfactual summed over the weeks and the carryover tail, per
  unit spend; marginal ROI: the channel at 1 + step times its media, the others as
  observed. Weeks after the panel (the tail, plans after it) hold the last fitted week's
  non-media level, as they hold its media effectiveness.

The plan sums behind the optimiser and the response curves cannot be sums over weeks
here (the channels of a geo multiply), so :class:`LogPlanResponse` keeps the weeks: the
saturation kinds' closed forms evaluated per week, exact to rounding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from geommm.analysis.plan_response import scaled_plan
from geommm.media import lag_stack, saturation_kind
from geommm.model import expected

if TYPE_CHECKING:  # pragma: no cover
    from geommm.analysis.forward import ForwardModel
    from geommm.model.design import ModelData


def half_variance(forward: ForwardModel) -> np.ndarray:
    """(D, G, 1): ``sd^2 / 2`` of the log-scale noise, the step from median to mean KPI."""
    return 0.5 * forward.draws["noise_sd"][:, :, None] ** 2


def log_base(forward: ForwardModel, data: ModelData | None = None) -> np.ndarray:
    """(D, G, T) non-media part of the log scaled KPI for ``data``'s weeks (the panel's)."""
    own = data is None or data is forward.data
    data = forward.data if own else data

    def compute() -> np.ndarray:
        shape = (forward.n_draws, data.n_geos, data.n_times)
        return sum(np.broadcast_to(v, shape) for v in expected.baseline_components(forward.draws, data).values())

    return forward.remember(("log_base",), compute) if own else compute()


def kpi_without_media(forward: ForwardModel, n_weeks: int, start: int = 0, data: ModelData | None = None) -> np.ndarray:
    """(D, G, n_weeks) mean KPI with no media from panel week ``start`` (or ``data``'s first
    week); weeks past the end hold the last week's level."""
    base = log_base(forward, data)
    idx = np.clip(np.arange(start, start + n_weeks), 0, base.shape[-1] - 1)
    return forward.data.kpi_scale[None, :, None] * np.exp(base[..., idx] + half_variance(forward))


def log_effects(forward: ForwardModel, x: np.ndarray, start: int) -> np.ndarray:
    """(D, G, W, C) media effect on log KPI of model input ``x`` ``(G, W, C)`` whose first
    week is panel week ``start`` (the graph's ``media_effect * saturated``)."""
    scaled = np.asarray(x, dtype="float64") / forward.data.media_scale[:, None, :]
    sat = forward.transform(lag_stack(scaled, forward.data.max_lag, time_axis=-2), forward.draws)
    multiplier = forward.multiplier_weeks(sat.shape[-2], start)
    if multiplier is not None:
        sat = sat * multiplier
    return forward.draws["media_effect"][:, :, None, :] * sat


def _padded(forward: ForwardModel, media_input, carryover_weeks: int, data: ModelData) -> np.ndarray:
    x = data.media_input if media_input is None else np.asarray(media_input, dtype="float64")
    if carryover_weeks:
        x = np.concatenate([x, np.zeros((x.shape[0], carryover_weeks, x.shape[2]))], axis=1)
    return x


def media_contributions(forward: ForwardModel, media_input, carryover_weeks: int, data, start: int) -> np.ndarray:
    """(D, G, W, C) each channel's counterfactual contribution, KPI units: ``E (1 - e^-e_c)``."""
    data = data or forward.data
    x = _padded(forward, media_input, carryover_weeks, data)
    effects = log_effects(forward, x, start)
    own = data is forward.data
    level = kpi_without_media(forward, x.shape[1], start if own else 0, None if own else data)
    total = level * np.exp(effects.sum(axis=-1))
    return total[..., None] * -np.expm1(-effects)


def expected_kpi(forward: ForwardModel, data: ModelData, media) -> np.ndarray:
    """(D, G, T) mean KPI of ``data``'s weeks (media as given, no carryover in)."""
    own = data is forward.data
    start = 0 if own else forward._start_of(data.times[0])

    def compute(fw: ForwardModel) -> np.ndarray:
        x = data.media_input if media is None else np.asarray(media, dtype="float64")
        eta = log_effects(fw, x, start).sum(axis=-1)
        return kpi_without_media(fw, data.n_times, 0, None if own else data) * np.exp(eta)

    return forward.map_chunks(compute, forward.cells_per_draw(data=data))


def predicted_kpi(forward: ForwardModel, data: ModelData, history: np.ndarray) -> np.ndarray:
    """(D, G, T) mean KPI of new weeks, media of the ``history`` weeks carrying over in."""
    start = forward._start_of(data.times[0]) - history.shape[1]

    def compute(fw: ForwardModel) -> np.ndarray:
        x = np.concatenate([history, data.media_input], axis=1)
        eta = log_effects(fw, x, start)[:, :, history.shape[1]:].sum(axis=-1)
        return kpi_without_media(fw, data.n_times, 0, data) * np.exp(eta)

    return forward.map_chunks(compute, forward.cells_per_draw(history.shape[1] + data.n_times))


def with_noise(forward: ForwardModel, mean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """KPI draws around the mean KPI: ``mean * exp(sd eps - sd^2 / 2)`` (log-normal noise)."""
    sd = forward.draws["noise_sd"][:, :, None]
    return mean * np.exp(sd * rng.standard_normal(mean.shape) - 0.5 * sd**2)


def modelled_mean(forward: ForwardModel) -> np.ndarray:
    """(D, G, T) mean of the log scaled KPI, the likelihood's ``mu``."""
    return np.log(forward.expected_kpi() / forward.data.kpi_scale[None, :, None]) - half_variance(forward)


def baseline_contributions(forward: ForwardModel, data: ModelData | None = None) -> dict[str, np.ndarray]:
    """Non-media components in KPI units: ``baseline`` is the KPI with every other term
    off (controls at their mean, no season, trend at the panel's middle, no media); each
    other term is its counterfactual ``E (1 - e^-part)``."""
    data = data or forward.data
    D, G, T = forward.n_draws, data.n_geos, data.n_times
    draws = forward.draws
    scale = forward.data.kpi_scale[None, :, None]
    total = forward.expected_kpi(None if data is forward.data else data)
    parts = expected.baseline_components(draws, data)
    out = {"baseline": np.broadcast_to(scale * np.exp(parts.pop("baseline") + half_variance(forward)), (D, G, T))}
    parts.pop("controls", None)
    if data.controls.shape[-1]:
        parts.update(expected.control_contributions(draws, data))
    for name, value in parts.items():
        out[name] = total * -np.expm1(-np.broadcast_to(value, (D, G, T)))
    return out


def interaction(forward: ForwardModel) -> np.ndarray:
    """(D, G, T) what the counterfactual components leave of the mean KPI (the rest)."""
    rest = forward.expected_kpi() - forward.media_contributions().sum(axis=-1)
    for value in forward.baseline_contributions().values():
        rest = rest - value
    return rest


def incremental_kpi(forward: ForwardModel, factor: np.ndarray) -> np.ndarray:
    """(D, G, C) KPI with each channel at ``factor`` x its media, the others as observed,
    minus the KPI with it off; summed over the weeks and the carryover tail."""
    data = forward.data

    def compute(fw: ForwardModel) -> np.ndarray:
        observed = _padded(fw, None, data.max_lag - 1, data)
        e1 = log_effects(fw, observed, 0)
        ef = e1 if np.all(factor == 1.0) else log_effects(fw, observed * factor, 0)
        total = kpi_without_media(fw, observed.shape[1]) * np.exp(e1.sum(axis=-1))
        return (total[..., None] * (np.exp(ef - e1) - np.exp(-e1))).sum(axis=2)

    return forward.map_chunks(compute, forward.cells_per_draw(data.n_times + data.max_lag - 1))


def week_responses(transform, adstocked: np.ndarray, params, m: np.ndarray, order: int) -> list[np.ndarray]:
    """Per week, the saturation response at ``m`` x the adstocked plan and its first
    ``order`` derivatives in ``m``: each (D, G, C, W). The kinds' closed-form sums over a
    trailing axis of length one, so the same formulas as the additive plan sums."""
    D, G, W, C = adstocked.shape
    out = [np.empty((D, G, C, W)) for _ in range(order + 1)]
    for name in dict.fromkeys(transform.saturations):
        idx = [i for i, s in enumerate(transform.saturations) if s == name]
        kind = saturation_kind(name)
        a = np.moveaxis(adstocked[..., idx], -1, -2)[..., None]  # (D, G, Ck, W, 1)
        p = {k: params[k][..., idx][..., None, None] for k in kind.cell_parameters}
        p.update({k: params[k][..., idx][..., None, :, None, None] for k in kind.channel_parameters})
        sums = kind.response_sums(kind.prepare(a, **p), m[:, idx][..., None], order, **p)
        for k, value in enumerate(sums):
            out[k][..., idx, :] = np.broadcast_to(value, (D, G, len(idx), W))
    return out


class LogPlanResponse:
    """The log model's :class:`~geommm.analysis.forward.PlanResponse`: KPI of a scaled plan.

    ``derivatives(m)`` gives, per geo x channel, a share of the plan's total incremental
    KPI (``sum_w E_w(m) - E_w(no media)``, split over a geo's channels in proportion to
    their log effects), the exact derivative of that total in the cell's multiplier, and
    its second derivative in that multiplier (the Hessian's diagonal; the cross terms
    between a geo's channels are left to the solver's steps, the optimum is set by the
    exact gradient). ``curve(m)`` is the response curve: one channel at ``m``, the others
    as planned, minus that channel off. The plan's weeks are the panel's last weeks,
    their non-media level the panel's (the tail: its last week's).
    """

    def __init__(self, forward: ForwardModel, plan: np.ndarray | None = None, effectiveness: str = "latest") -> None:
        data = forward.data
        self.scaled = scaled_plan(data, plan)
        lag = data.max_lag
        G, C, T = self.scaled.shape[0], self.scaled.shape[2], self.scaled.shape[1] - (lag - 1)
        self.transform = forward.transform
        self.effect = forward.draws["media_effect"]  # (D, G, C) on log KPI
        multiplier = forward.planning_multiplier(effectiveness)
        if multiplier is not None:
            self.effect = self.effect * multiplier
        self.level = kpi_without_media(forward, T + lag - 1, data.n_times - T)  # (D, G, W)
        self.n_geos, self.n_channels = G, C
        self.adstocked = self.transform.adstock(lag_stack(self.scaled, lag, time_axis=-2), forward.draws)
        self.adstocked = np.broadcast_to(self.adstocked, (forward.n_draws, *self.adstocked.shape[-3:]))
        self.params = forward.draws

    @property
    def n_draws(self) -> int:
        return self.effect.shape[0]

    def _effects(self, m, order: int) -> list[np.ndarray]:
        m = np.broadcast_to(np.asarray(m, dtype="float64"), (self.n_geos, self.n_channels))
        ys = week_responses(self.transform, self.adstocked, self.params, m, order)
        return [self.effect[..., None] * y for y in ys]  # (D, G, C, W) each

    def kpi(self, multiplier: float | np.ndarray = 1.0) -> np.ndarray:
        return self.derivatives(multiplier, order=0)[0]

    def kpi_and_gradient(self, multiplier: float | np.ndarray = 1.0) -> tuple[np.ndarray, np.ndarray]:
        kpi, grad = self.derivatives(multiplier, order=1)
        return kpi, grad

    def derivatives(self, multiplier: float | np.ndarray = 1.0, order: int = 2) -> list[np.ndarray]:
        """[share of total KPI, d total / dm, d2 total / dm2][: order + 1], each (D, G, C)."""
        e = self._effects(multiplier, order)
        eta = e[0].sum(axis=2)  # (D, G, W)
        mean = self.level * np.exp(eta)
        gain = mean - self.level
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(eta[:, :, None] > 0, e[0] / eta[:, :, None], 0.0)
        out = [(gain[:, :, None] * share).sum(axis=-1)]
        if order >= 1:
            out.append((mean[:, :, None] * e[1]).sum(axis=-1))
        if order >= 2:
            out.append((mean[:, :, None] * (e[1] ** 2 + e[2])).sum(axis=-1))
        return out

    def cross(self, multiplier: float | np.ndarray = 1.0) -> None:
        """No off-diagonal Hessian entries: a log KPI has no ``synergy()`` pairs (refused at
        the formula), and the cross terms between its channels are left out (see above)."""
        return None

    def curve(self, multiplier: float | np.ndarray = 1.0) -> np.ndarray:
        """(D, G, C) each channel at ``multiplier`` x the plan, the others at 1, minus it off."""
        if not hasattr(self, "_at_one"):
            self._at_one = self._effects(1.0, 0)[0]
        e1 = self._at_one
        em = self._effects(multiplier, 0)[0]
        mean = self.level * np.exp(e1.sum(axis=2))
        return (mean[:, :, None] * np.exp(-e1) * np.expm1(em)).sum(axis=-1)


def lift_level(forward: ForwardModel) -> np.ndarray | None:
    """(D, G, T) log of the mean scaled KPI as observed, for the lift cells; None when the
    KPI is additive (``model.lift.implied_lift``)."""
    if not forward.log_kpi:
        return None
    return np.log(forward.expected_kpi() / forward.data.kpi_scale[None, :, None])


def joint_media_kpi(forward: ForwardModel, media: np.ndarray, carryover_weeks: int) -> np.ndarray:
    """(D, G) KPI of all channels together: ``sum_t E_t(media) - E_t(no media)``, tail in
    (a scenario's all-media total; the channels' counterfactuals overlap)."""
    x = _padded(forward, media, carryover_weeks, forward.data)

    def compute(fw: ForwardModel) -> np.ndarray:
        eta = log_effects(fw, x, 0).sum(axis=-1)
        return (kpi_without_media(fw, x.shape[1]) * np.expm1(eta)).sum(axis=-1)[..., None]

    return forward.map_chunks(compute, forward.cells_per_draw(x.shape[1]))[..., 0]
