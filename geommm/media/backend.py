"""Array plumbing shared by every adstock and saturation: numpy or PyTensor, lag stacks.

Every curve is written once and runs on numpy arrays (posterior analysis, with a
leading draw axis) and on PyTensor tensors (the model graph): the backend is
picked from the arguments. Shapes follow one convention: media is
``(..., time, channel)`` (``...`` usually ``geo``), per-cell parameters
``(..., channel)``, adstock weights ``(..., channel, lag)``.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np

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
    return xp.sigmoid(x) if xp is not np else logistic(np.array(x, dtype="float64"))


def logistic(z: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-z))`` computed in ``z``'s own buffer (float64), which it returns.

    Within an ulp of ``scipy.special.expit`` but about twice as fast: the posterior
    analysis applies it to whole draws x geo x week x channel arrays, many times per
    report. ``exp`` overflows to inf for ``z < -709``, which gives the right 0."""
    np.negative(z, out=z)
    with np.errstate(over="ignore"):
        np.exp(z, out=z)
    z += 1.0
    return np.divide(1.0, z, out=z)


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


#: How the model graph sums over lags: "product" (one batched matmul; NUTS) or "sum" (the
#: lag-by-lag sum; MAP and Laplace, see :func:`lag_by_lag_adstock`).
_GRAPH_ADSTOCK: ContextVar[str] = ContextVar("graph_adstock", default="product")


@contextmanager
def lag_by_lag_adstock():
    """Build model graphs with the lag-by-lag sum instead of the batched product.

    Same numbers up to the last bits, but MAP's mode search and Laplace's curvature
    floor on weakly identified panels follow those bits: with the product, two tiny-panel
    Laplace fits of the suite moved (one drew half-saturations of 0 and 1e161). The
    first look's time is its compile, not adstock, so it keeps the sum it was tested
    with until that fragility is mended (docs/performance.md)."""
    token = _GRAPH_ADSTOCK.set("sum")
    try:
        yield
    finally:
        _GRAPH_ADSTOCK.reset(token)


def apply_adstock(lagged: Any, weights: Any) -> Any:
    """Adstocked media from a lag stack ``(lag, ..., time, channel)`` and weights ``(..., channel, lag)``.

    ``out[..., t, c] = sum_l weights[..., c, l] * x[..., t - l, c]``: causal, and with
    normalised weights it preserves the total (up to carryover past the end).
    """
    if not is_tensor(weights) and not is_tensor(lagged):
        return _adstock_numpy(np.asarray(lagged, dtype="float64"), np.asarray(weights, dtype="float64"))
    if np.ndim(weights) == 3 and np.ndim(lagged) == 4 and _GRAPH_ADSTOCK.get() == "product":
        # The model graph's case (weights per geo and channel): one batched matrix
        # product over (geo, channel), (weeks x lags) @ (lags x 1). XLA runs it and its
        # gradient as dots; the sum over lags below made the whole log density's
        # gradient 1.5-2x slower at 40-60 geos (benchmarks/bench_gradient.py). A plain
        # matmul, not einsum: einsum's graph differs per call, so models that differ
        # only in their data would no longer share one compile (_jax_graph.py).
        import pytensor.tensor as pt

        by_geo_channel = pt.as_tensor(lagged).dimshuffle(1, 3, 2, 0)  # (G, C, T, L)
        total = pt.matmul(by_geo_channel, pt.shape_padright(weights))[..., 0]  # (G, C, T)
        return total.dimshuffle(0, 2, 1)
    # a sum over the few lags keeps leading batch axes (posterior draws) of the weights
    n_lags = lagged.type.shape[0] if is_tensor(lagged) else lagged.shape[0]
    total = 0.0
    for lag in range(n_lags):
        total = total + weights[..., lag][..., None, :] * lagged[lag]
    return total


#: Numbers per block of leading rows (draws) in numpy adstock: the running sum and one
#: term (2 x 0.5 MB) stay in the CPU cache while every lag is added.
ADSTOCK_BLOCK_CELLS = 1 << 16


def allocated_like(*operands: np.ndarray) -> np.ndarray:
    """An empty array laid out in memory as numpy lays out a ufunc's result of ``operands``
    (its "K" order). Later sums over an axis add in memory order, so a faster way to the
    same numbers must also keep their layout for those sums to stay bit for bit."""
    flags = [["readonly"]] * len(operands) + [["writeonly", "allocate"]]
    return np.nditer([*operands, None], op_flags=flags, order="K").operands[-1]


def same_layout(a: np.ndarray, b: np.ndarray) -> bool:
    """Same shape and strides on every axis longer than 1 (so the same memory order)."""
    return a.shape == b.shape and all(
        n == 1 or sa == sb for n, sa, sb in zip(a.shape, a.strides, b.strides)
    )


def _adstock_numpy(lagged: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """:func:`apply_adstock` for numpy, the same numbers bit for bit and in the same memory
    layout: each cell is still ``0 + w_0 x_0 + w_1 x_1 + ...`` in lag order. It works on
    blocks of leading rows (draws) with time as the innermost axis; the lag-by-lag sum
    over the whole draws x geo x week x channel array went to memory twice per lag with
    a 4-long inner loop (~3x slower on the demo)."""
    n_lags = lagged.shape[0]
    out = allocated_like(weights[..., 0][..., None, :], lagged[0])  # (..., T, C)
    x = np.ascontiguousarray(np.swapaxes(lagged, -1, -2))  # (L, ..., C, T)
    w = np.moveaxis(weights, -1, 0)[..., None]  # (L, ..., C, 1)
    shape = np.broadcast_shapes(x.shape[1:], w.shape[1:])  # (..., C, T)
    if len(shape) < 3 or out.size == 0:
        out[...] = np.swapaxes(_lag_sum(x, w, shape), -1, -2)
        return out
    x = np.broadcast_to(_lead(x, len(shape)), (n_lags, *shape))
    w = np.broadcast_to(_lead(w, len(shape)), (n_lags, *shape[:-1], 1))
    step = max(1, ADSTOCK_BLOCK_CELLS // int(np.prod(shape[1:])))
    for start in range(0, shape[0], step):
        rows = slice(start, start + step)
        out[rows] = np.swapaxes(_lag_sum(x[:, rows], w[:, rows], x[0, rows].shape), -1, -2)
    return out


def _lead(a: np.ndarray, ndim: int) -> np.ndarray:
    """``a`` (lag, ...) with length-1 axes after the lag axis up to ``ndim`` axes after it."""
    return a.reshape(a.shape[0], *(1,) * (ndim - a.ndim + 1), *a.shape[1:])


def _lag_sum(x: np.ndarray, w: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``0 + w[0] x[0] + w[1] x[1] + ...`` over the leading (lag) axis, in place."""
    total = np.zeros(shape)
    term = np.empty(shape)
    for lag in range(x.shape[0]):
        np.multiply(w[lag], x[lag], out=term)
        total += term
    return total


def carry_over(x: Any, weights: Any, time_axis: int = -2) -> Any:
    """Adstock numpy media ``(..., time, channel)`` with weights ``(..., channel, lag)``."""
    max_lag = int(np.shape(weights)[-1])
    return apply_adstock(lag_stack(x, max_lag, time_axis), weights)
