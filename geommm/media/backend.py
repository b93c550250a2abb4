"""Array plumbing shared by every adstock and saturation: numpy or PyTensor, lag stacks.

Every curve is written once and runs on numpy arrays (posterior analysis, with a
leading draw axis) and on PyTensor tensors (the model graph): the backend is
picked from the arguments. Shapes follow one convention: media is
``(..., time, channel)`` (``...`` usually ``geo``), per-cell parameters
``(..., channel)``, adstock weights ``(..., channel, lag)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.special

#: Added to adstocked media before taking logs: keeps log-based curves and their
#: gradients finite in dark weeks (exactly zero media), also for exponents below 1.
LOG_FLOOR = 1e-9


def is_tensor(*args: Any) -> bool:
    """True when any argument is a PyTensor variable (we are building the model graph)."""
    from pytensor.graph.basic import Variable

    return any(isinstance(a, Variable) for a in args)


def xp_of(*args: Any):
    """The array module for the arguments: ``pytensor.tensor`` for tensors, else numpy."""
    if is_tensor(*args):
        import pytensor.tensor as pt

        return pt
    return np


def with_lag_axis(a: Any) -> Any:
    """Add a trailing axis (for lags) to a numpy or PyTensor parameter."""
    return a[..., None] if is_tensor(a) else np.asarray(a, dtype="float64")[..., None]


def sigmoid(x: Any, xp) -> Any:
    return xp.sigmoid(x) if xp is not np else scipy.special.expit(x)


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

    ``out[..., t, c] = sum_l weights[..., c, l] * x[..., t - l, c]``: causal, and with
    normalised weights it preserves the total (up to carryover past the end).
    """
    if not is_tensor(weights):
        weights = np.asarray(weights, dtype="float64")
    # a sum over the few lags keeps leading batch axes (posterior draws) of the weights
    n_lags = lagged.type.shape[0] if is_tensor(lagged) else lagged.shape[0]
    total = 0.0
    for lag in range(n_lags):
        total = total + weights[..., lag][..., None, :] * lagged[lag]
    return total


def carry_over(x: Any, weights: Any, time_axis: int = -2) -> Any:
    """Adstock numpy media ``(..., time, channel)`` with weights ``(..., channel, lag)``."""
    max_lag = int(np.shape(weights)[-1])
    return apply_adstock(lag_stack(x, max_lag, time_axis), weights)
