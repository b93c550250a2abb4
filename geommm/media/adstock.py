"""Carryover kinds: how a week's media keeps working in the weeks after it.

Each kind turns the geo-pooled ``retention`` (0..1) and its own channel
parameters into weights over lags ``0..max_lag-1`` that sum to 1, so adstock
moves media in time without changing its total (up to carryover past the panel).
"""

from __future__ import annotations

from typing import Any

from geommm.media.base import Adstock, PriorSpec


class Geometric(Adstock):
    """``w_l ∝ retention^l``: the effect is largest in the week of spend and decays."""

    name = "geometric"

    def raw_weights(self, retention: Any, lags: Any, xp, max_lag: int, **channel: Any) -> Any:
        return retention**lags


class Delayed(Adstock):
    """``w_l ∝ retention^((l - peak_lag)^2)``: the effect peaks ``peak_lag`` weeks after spend."""

    name = "delayed"
    channel_parameters = {
        "peak_lag": PriorSpec("HalfNormal", {"sigma": 2.0}, "delayed adstock: weeks to peak"),
    }
    retention_meaning = "concentration around the peak week"
    retention_label = "peak_concentration"

    def raw_weights(self, retention: Any, lags: Any, xp, max_lag: int, **channel: Any) -> Any:
        return retention ** ((lags - channel["peak_lag"]) ** 2)


class Weibull(Adstock):
    """Weibull density at ``l + 0.5`` with shape ``weibull_shape`` and scale
    ``0.5 + retention * max_lag`` weeks: retention sets how far into the window the
    effect reaches (its scale as a share of the window), the shape how it rises and
    falls."""

    name = "weibull"
    channel_parameters = {
        "weibull_shape": PriorSpec("LogNormal", {"mu": 0.3, "sigma": 0.5}, "Weibull adstock shape"),
    }
    retention_meaning = "Weibull scale as a share of max_lag (scale = 0.5 + retention x max_lag weeks)"
    retention_label = "weibull_scale_share"

    @staticmethod
    def scale_weeks(retention: Any, max_lag: int) -> Any:
        """The Weibull scale in weeks for a retention value."""
        return 0.5 + retention * max_lag

    def raw_weights(self, retention: Any, lags: Any, xp, max_lag: int, **channel: Any) -> Any:
        k, lam = channel["weibull_shape"], self.scale_weeks(retention, max_lag)
        u = (lags + 0.5) / lam
        return (k / lam) * u ** (k - 1.0) * xp.exp(-(u**k))
