"""The model's expected KPI, written once for PyMC tensors and numpy posterior draws.

Parameters may carry leading batch axes (posterior draws) in numpy; in the PyMC
graph they have none. Shapes: per-geo ``(..., G)``, per-cell ``(..., G, C)``,
per-channel ``(..., C)``. Everything is in scaled units (KPI / kpi_scale).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from geommm.formula.terms import MediaTerm
from geommm.model import transforms as tf


def _take(x: Any, idx: Sequence[int], n_channels: int) -> Any:
    # all channels in order (one kind for every channel, the usual case): no gather,
    # so no costly scatter in the gradient
    if list(idx) == list(range(n_channels)):
        return x
    return x[..., list(idx)]


def _concat_in_order(parts: list[tuple[list[int], Any]], axis_from_end: int, xp) -> Any:
    """Concatenate per-kind groups along a channel axis and restore the channel order."""
    if len(parts) == 1:
        return parts[0][1]
    order = [i for idx, _ in parts for i in idx]
    inverse = list(np.argsort(order))
    joined = xp.concatenate([p for _, p in parts], axis=-axis_from_end)
    if axis_from_end == 1:
        return joined[..., inverse]
    return joined[..., inverse, :]


def _groups(media: Sequence[MediaTerm], attr: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, m in enumerate(media):
        out.setdefault(getattr(m, attr), []).append(i)
    return out


def adstock_weights(
    media: Sequence[MediaTerm], params: Mapping[str, Any], max_lag: int, lag_mask: np.ndarray
) -> Any:
    """Normalised carryover weights ``(..., G, C, L)`` for every geo and channel."""
    retention = params["retention"]
    xp = tf._xp(retention)
    parts = []
    for kind, idx in _groups(media, "adstock").items():
        alpha = _take(retention, idx, len(media))
        if kind == "geometric":
            w = tf.adstock_weights("geometric", max_lag, alpha=alpha)
        elif kind == "delayed":
            theta = _take(params["peak_lag"], idx, len(media))[..., None, :]
            w = tf.adstock_weights("delayed", max_lag, alpha=alpha, theta=theta + 0 * alpha)
        else:
            shape = _take(params["weibull_shape"], idx, len(media))[..., None, :]
            scale = 0.5 + alpha * max_lag
            w = tf.adstock_weights("weibull", max_lag, shape=shape + 0 * alpha, scale=scale)
        parts.append((idx, w))
    weights = _concat_in_order(parts, 2, xp)
    if np.all(lag_mask == 1):
        return weights
    masked = weights * lag_mask
    return masked / masked.sum(axis=-1, keepdims=True)


def saturate(media: Sequence[MediaTerm], adstocked: Any, params: Mapping[str, Any]) -> Any:
    """Response in (0, 1) of adstocked scaled media ``(..., G, T, C)``."""
    half = params["half_saturation"]
    xp = tf._xp(adstocked, half)
    parts = []
    for kind, idx in _groups(media, "saturation").items():
        x = _take(adstocked, idx, len(media))
        k = _take(half, idx, len(media))[..., None, :]
        if kind == "hill":
            n = _take(params["slope"], idx, len(media))[..., None, None, :]
            y = tf.hill(x, k, n)
        elif kind == "logistic":
            y = tf.logistic(x, 1.0 / k)
        else:
            y = tf.michaelis_menten(x, k)
        parts.append((idx, y))
    return _concat_in_order(parts, 1, xp)


def media_saturation(
    media: Sequence[MediaTerm],
    params: Mapping[str, Any],
    lagged: np.ndarray,
    lag_mask: np.ndarray,
) -> Any:
    """Saturated adstocked media ``(..., G, T, C)`` from a lag stack ``(L, G, T, C)``."""
    weights = adstock_weights(media, params, lagged.shape[0], lag_mask)
    return saturate(media, tf.apply_adstock(lagged, weights), params)


def baseline_components(params: Mapping[str, Any], data) -> dict[str, Any]:
    """Non-media parts of the expected scaled KPI, each ``(..., G, T)`` (or broadcastable)."""
    out: dict[str, Any] = {"baseline": params["intercept_geo"][..., :, None]}
    if data.fourier.shape[1]:
        coef = params["season_geo"][..., :, None, :]
        out["seasonality"] = (coef * data.fourier).sum(axis=-1)
    if "trend_geo" in params:
        out["trend"] = params["trend_geo"][..., :, None] * data.trend
    if data.controls.shape[-1]:
        coef = params["control_geo"][..., :, None, :]
        out["controls"] = (coef * data.controls).sum(axis=-1)
    return out


def control_contributions(params: Mapping[str, Any], data) -> dict[str, Any]:
    """Per control term (formula term, all its columns together) ``(..., G, T)``."""
    out: dict[str, Any] = {}
    coef = params["control_geo"]
    for group in dict.fromkeys(data.control_groups):
        idx = [i for i, g in enumerate(data.control_groups) if g == group]
        out[group] = (coef[..., :, None, idx] * data.controls[..., idx]).sum(axis=-1)
    return out
