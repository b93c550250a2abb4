"""Adstock (carryover) and saturation (diminishing returns), as numpy/PyTensor twins.

Every function takes plain arrays and works for both numpy arrays and PyTensor
tensors: the backend is picked from the arguments, so the model graph, the
simulator and the posterior analysis share one definition of the maths.

Shapes follow one convention: media is ``(..., time, channel)`` where ``...`` is
usually ``geo``; per-cell parameters are ``(..., channel)``; adstock weights are
``(..., channel, lag)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.special

ADSTOCKS = ("geometric", "delayed", "weibull")
SATURATIONS = ("hill", "logistic", "michaelis_menten")

#: Added to adstocked media before taking logs: keeps the Hill curve and its
#: gradient finite in dark weeks (exactly zero media), also for slopes below 1.
LOG_FLOOR = 1e-9


def _is_tensor(*args: Any) -> bool:
    try:
        from pytensor.graph.basic import Variable
    except ImportError:  # pragma: no cover - pytensor is a hard dependency
        return False
    return any(isinstance(a, Variable) for a in args)


def _xp(*args: Any):
    if _is_tensor(*args):
        import pytensor.tensor as pt

        return pt
    return np


def _last(a: Any) -> Any:
    """Add a trailing axis (for lags) to a numpy or PyTensor parameter."""
    return a[..., None] if _is_tensor(a) else np.asarray(a, dtype="float64")[..., None]


def _sigmoid(x, xp):
    return xp.sigmoid(x) if xp is not np else scipy.special.expit(x)


# --------------------------------------------------------------------------- adstock
def adstock_weights(kind: str, max_lag: int, **params) -> Any:
    """Normalised carryover weights over lags ``0..max_lag-1`` (last axis), summing to 1.

    geometric: ``w_l ∝ alpha^l`` (``alpha`` = weekly retention).
    delayed:   ``w_l ∝ alpha^((l - theta)^2)`` (peak effect ``theta`` weeks after spend).
    weibull:   ``w_l ∝`` Weibull density at ``l + 0.5`` with ``shape`` and ``scale`` (weeks).
    """
    if kind not in ADSTOCKS:
        raise ValueError(f"unknown adstock {kind!r}; choose one of {ADSTOCKS}")
    if max_lag < 1:
        raise ValueError("max_lag must be at least 1")
    lags = np.arange(max_lag, dtype="float64")
    if kind == "geometric":
        raw = _last(params["alpha"]) ** lags
    elif kind == "delayed":
        raw = _last(params["alpha"]) ** ((lags - _last(params["theta"])) ** 2)
    else:
        k, lam = _last(params["shape"]), _last(params["scale"])
        xp = _xp(k, lam)
        u = (lags + 0.5) / lam
        raw = (k / lam) * u ** (k - 1.0) * xp.exp(-(u**k))
    return raw / raw.sum(axis=-1, keepdims=True)


def lag_stack(x: np.ndarray, max_lag: int, time_axis: int = -2) -> np.ndarray:
    """Stack lagged copies of ``x`` on a new leading axis: ``out[l, ..., t, ...] = x[..., t-l, ...]``.

    Weeks before the first observation count as zero spend. Computed once in numpy
    (it is data), so adstock in the model graph is a single weighted sum.
    """
    x = np.asarray(x, dtype="float64")
    x = np.moveaxis(x, time_axis, -1)
    n_t = x.shape[-1]
    out = np.zeros((max_lag, *x.shape), dtype="float64")
    for lag in range(max_lag):
        if lag < n_t:
            out[lag, ..., lag:] = x[..., : n_t - lag]
    return np.moveaxis(out, -1, time_axis if time_axis < 0 else time_axis + 1)


def apply_adstock(lagged: Any, weights: Any) -> Any:
    """Adstocked media from a lag stack ``(lag, ..., time, channel)`` and weights ``(..., channel, lag)``.

    ``out[..., t, c] = sum_l weights[..., c, l] * x[..., t - l, c]`` — causal, and
    with normalised weights it preserves the total (up to carryover past the end).
    """
    if not _is_tensor(weights):
        weights = np.asarray(weights, dtype="float64")
    # a sum over the few lags keeps leading batch axes (posterior draws) of weights
    n_lags = lagged.type.shape[0] if _is_tensor(lagged) else lagged.shape[0]
    total = 0.0
    for lag in range(n_lags):
        total = total + weights[..., lag][..., None, :] * lagged[lag]
    return total


def adstock(x: Any, weights: Any, time_axis: int = -2) -> Any:
    """Convenience: adstock numpy media ``(..., time, channel)`` with weights ``(..., channel, lag)``."""
    max_lag = int(np.shape(weights)[-1])
    return apply_adstock(lag_stack(x, max_lag, time_axis), weights)


# ------------------------------------------------------------------------ saturation
def saturation(kind: str, x: Any, **params) -> Any:
    """Diminishing-returns curve mapping adstocked (scaled) media to a 0..1 response.

    hill:             ``x^n / (x^n + K^n)`` computed as ``sigmoid(n (log x - log K))``,
                      which stays finite with a finite gradient at ``x = 0`` for any slope.
    logistic:         ``(1 - exp(-lam x)) / (1 + exp(-lam x))`` (``lam`` = 1 / half-point scale).
    michaelis_menten: ``x / (x + K)``.
    """
    if kind == "hill":
        return hill(x, params["half_saturation"], params["slope"])
    if kind == "logistic":
        return logistic(x, params["lam"])
    if kind == "michaelis_menten":
        return michaelis_menten(x, params["half_saturation"])
    raise ValueError(f"unknown saturation {kind!r}; choose one of {SATURATIONS}")


def hill(x: Any, half_saturation: Any, slope: Any) -> Any:
    xp = _xp(x, half_saturation, slope)
    return _sigmoid(slope * (xp.log(x + LOG_FLOOR) - xp.log(half_saturation)), xp)


def logistic(x: Any, lam: Any) -> Any:
    xp = _xp(x, lam)
    return xp.tanh(lam * x / 2.0)


def michaelis_menten(x: Any, half_saturation: Any) -> Any:
    return x / (x + half_saturation)
