"""Reach & frequency channels: a week's reach times a Hill curve of its average frequency,
carried over by the channel's adstock (Google Meridian's formulation).

For channel ``c`` in geo ``g`` and week ``t``::

    effect_gt = beta_gc * sum_l w_l * r_g,t-l * Hill(f_g,t-l; K_c, n_c)

``r`` is the reach (people reached that week, scaled per geo like any media input),
``f`` the average frequency (impressions / reach, at least 1 where ``r > 0``, unscaled),
``w`` the channel's adstock weights, and ``K_c`` (``frequency_half``: the frequency at
half the curve's maximum) and ``n_c`` (``frequency_slope``) are per channel, the same
in every geo, as in Meridian. References: Google Meridian, "Reach and frequency"
(developers.google.com/meridian/docs/advanced-modeling/reach-frequency), and Zhang et
al. (2023), "Bayesian Hierarchical Media Mix Model Incorporating Reach and Frequency
Data" (Google research).

The frequency curve acts before adstock and the response is linear in reach, so the
channel's curve after adstock is the identity (:class:`ReachTimesFrequency`): scaling a
plan's reach by ``m`` at fixed frequency scales its KPI by ``m``, and the scaled-plan
sums of the optimiser are exact for these channels too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from geommm.media.backend import LOG_FLOOR, apply_adstock, is_tensor, lag_stack, sigmoid, xp_of
from geommm.media.base import PriorSpec, Saturation

#: The saturation name of a reach & frequency channel (set by the formula, not chosen).
RF_SATURATION = "reach_frequency"
#: Per-R&F-channel parameters (trace names, dims ``rf_channel``) and their default priors:
#: Meridian's defaults for ``ec_rf`` and ``slope_rf`` (LogNormal(0.7, 0.4): median 2.0).
RF_PRIORS: dict[str, PriorSpec] = {
    "frequency_half": PriorSpec(
        "LogNormal", {"mu": 0.7, "sigma": 0.4}, "average frequency at half the frequency curve's maximum"
    ),
    "frequency_slope": PriorSpec("LogNormal", {"mu": 0.7, "sigma": 0.4}, "slope of the frequency curve"),
}
RF_PARAMETERS: tuple[str, ...] = tuple(RF_PRIORS)


def frequency_curve(f: Any, xp, half: Any, slope: Any) -> Any:
    """Hill curve of average frequency ``f``: ``f^n / (f^n + K^n)``, finite at ``f = 0``."""
    return sigmoid(slope * (xp.log(f + LOG_FLOOR) - xp.log(half)), xp)


def prior_median(name: str) -> float:
    """The default prior's median (used where no value is given: prior-centred heuristics)."""
    return float(np.exp(RF_PRIORS[name].params["mu"]))


class ReachTimesFrequency(Saturation):
    """The identity after adstock: an R&F channel's frequency curve already acted before it."""

    name = RF_SATURATION
    cell_parameters = ()
    channel_parameters = {}

    def curve(self, x: Any, xp) -> Any:
        return x

    def prepare(self, adstocked: Any) -> Any:
        return np.asarray(adstocked, dtype="float64")

    def response_sums(self, prepared: Any, m: Any, order: int) -> list[Any]:
        # y = m a (linear in reach): y' = a, y'' = 0
        total = prepared.sum(axis=-1)
        out = [np.asarray(m, dtype="float64") * total]
        if order >= 1:
            out.append(total)
        if order >= 2:
            out.append(np.zeros_like(total))
        return out


class FrequencyInput:
    """The panel's average frequency of the R&F channels, for every week a plan may hold.

    ``channels`` are the R&F channels' positions on the model's ``n_channels`` axis;
    ``frequency`` and ``reach`` are ``(G, T, R)`` over the fitted weeks. A week without
    reach has no frequency of its own: it takes the geo's average frequency
    (impressions / reach over the panel; the channel's national one where the geo never
    ran it), as do weeks outside the panel. So a plan that adds reach to a dark week or
    to a week after the panel buys it at the geo's usual frequency (the fixed-frequency
    assumption of plans: docs/reach_frequency.md).
    """

    def __init__(self, channels: Sequence[int], frequency: np.ndarray, reach: np.ndarray, n_channels: int) -> None:
        self.channels = [int(c) for c in channels]
        self.others = [c for c in range(n_channels) if c not in self.channels]
        frequency = np.asarray(frequency, dtype="float64")
        reach = np.asarray(reach, dtype="float64")
        active = reach > 0
        impressions = np.where(active, reach * frequency, 0.0).sum(axis=1)  # (G, R)
        people = reach.sum(axis=1)
        national = np.divide(impressions.sum(0), people.sum(0), out=np.ones(len(self.channels)),
                             where=people.sum(0) > 0)
        self.fill = np.where(people > 0, impressions / np.where(people > 0, people, 1.0), national[None, :])
        self.frequency = np.where(active, frequency, self.fill[:, None, :])

    def weeks(self, start: int, n_weeks: int) -> np.ndarray:
        """``(G, n_weeks, R)`` frequency of panel weeks ``start .. start + n_weeks - 1``."""
        G, T, R = self.frequency.shape
        out = np.broadcast_to(self.fill[:, None, :], (G, n_weeks, R)).copy()
        lo, hi = max(start, 0), min(start + n_weeks, T)
        if hi > lo:
            out[:, lo - start : hi - start, :] = self.frequency[:, lo:hi, :]
        return out

    def adstock(self, lagged: Any, weights: Any, params: Mapping[str, Any], start: int = 0) -> Any:
        """Adstocked media ``(..., G, T', C)`` from a lag stack ``(L, G, T', C)`` whose first
        week is panel week ``start``: R&F channels carry reach x frequency curve, the others
        their input as usual. ``weights`` ``(..., G, C, L)``; ``frequency_half`` and
        ``frequency_slope`` in ``params`` are ``(..., R)`` (prior medians when absent)."""
        rf = self.channels
        n_lags = lagged.type.shape[0] if is_tensor(lagged) else lagged.shape[0]
        n_weeks = lagged.type.shape[-2] if is_tensor(lagged) else lagged.shape[-2]
        half, slope = (params.get(n, prior_median(n)) for n in RF_PARAMETERS)
        xp = xp_of(half, slope, weights, lagged)
        half = half[..., None, None, :] if np.ndim(half) or is_tensor(half) else half
        slope = slope[..., None, None, :] if np.ndim(slope) or is_tensor(slope) else slope
        freq = lag_stack(self.weeks(start, n_weeks), n_lags, time_axis=-2)  # (L, G, T', R)
        w_rf = weights[..., rf, :]
        total = 0.0
        for lag in range(n_lags):  # reach x curve(frequency), lag by lag as apply_adstock
            x = lagged[lag][..., rf] * frequency_curve(freq[lag], xp, half, slope)
            total = total + w_rf[..., lag][..., None, :] * x
        other = self.others
        if not other:
            return total
        rest = apply_adstock(lagged[..., other], weights[..., other, :])
        if xp is np:
            lead = np.broadcast_shapes(np.shape(rest)[:-1], np.shape(total)[:-1])
            rest = np.broadcast_to(rest, (*lead, len(other)))
            total = np.broadcast_to(total, (*lead, len(rf)))
        inverse = list(np.argsort(other + rf))
        return xp.concatenate([rest, total], axis=-1)[..., inverse]
