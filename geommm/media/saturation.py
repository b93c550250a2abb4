"""Saturation kinds: diminishing returns of adstocked (scaled) media.

Each kind has its curve (numpy and PyTensor alike) and, for "what if the plan
were scaled by m", a prepared per-week array and the closed-form sums of the
response and its first two derivatives in ``m``: the optimiser, the response
curves and the target-ROI search use those, and they agree with the curve
itself (tests check both against finite differences and the forward model).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geommm.media.backend import LOG_FLOOR, allocated_like, logistic, same_layout, sigmoid
from geommm.media.base import PriorSpec, Saturation

#: Multipliers are kept at least this large inside log(m) and negative powers of m.
MIN_MULTIPLIER = 1e-12


def _dot(*arrays: np.ndarray) -> np.ndarray:
    """Sum over the last axis of the elementwise product, without big temporaries."""
    return np.einsum("...t" + ",...t" * (len(arrays) - 1) + "->...", *arrays)


class Hill(Saturation):
    """``x^n / (x^n + K^n)``, computed as ``sigmoid(n (log x - log K))``: finite, with a
    finite gradient, at ``x = 0`` for any slope (dark weeks of flighted channels)."""

    name = "hill"
    channel_parameters = {
        "slope": PriorSpec("LogNormal", {"mu": float(np.log(1.3)), "sigma": 0.4}, "Hill slope per channel"),
    }

    def curve(self, x: Any, xp, half_saturation: Any, slope: Any) -> Any:
        if xp is np:
            return _hill_numpy(x, half_saturation, slope)
        return sigmoid(slope * (xp.log(x + LOG_FLOOR) - xp.log(half_saturation)), xp)

    def prepare(self, adstocked: Any, half_saturation: Any, slope: Any) -> Any:
        return np.asarray(adstocked, dtype="float64")

    def response_sums(self, prepared: Any, m: Any, order: int, half_saturation: Any = None,
                      slope: Any = None) -> list[Any]:
        # exactly the curve at x = m a (the log floor included, so it matches the forward
        # model to rounding): with u = m a + floor, r = a / u, z = n (log u - log K):
        # y = sigmoid(z), y' = n y (1 - y) r, y'' = n y (1 - y) r^2 (n (1 - 2y) - 1)
        n = slope[..., 0]
        u = prepared * np.asarray(m, dtype="float64")[..., None]
        u += LOG_FLOOR
        r = np.divide(prepared, u) if order >= 1 else None
        np.log(u, out=u)
        u -= np.log(half_saturation)
        u *= slope
        y = logistic(u)
        s1 = y.sum(axis=-1)
        if order == 0:
            return [s1]
        yr = _dot(y, r)
        y2r = _dot(y, y, r)
        out = [s1, n * (yr - y2r)]
        if order >= 2:
            r *= r
            s_1, s_2, s_3 = _dot(y, r), _dot(y, y, r), _dot(y, y, y, r)
            out.append(n * (n * (s_1 - 3 * s_2 + 2 * s_3) - (s_1 - s_2)))
        return out


def _hill_numpy(x: Any, half_saturation: Any, slope: Any) -> np.ndarray:
    """The Hill curve on numpy arrays, bit for bit as written above, but in one buffer:
    the posterior analysis applies it to whole draws x geo x week x channel arrays."""
    z = np.add(x, LOG_FLOOR)
    log_k = np.log(half_saturation)
    slope = np.asarray(slope)
    if not (z.dtype == np.float64 and same_layout(allocated_like(z, log_k), z)
            and same_layout(allocated_like(slope, z), z)):  # the parameters widen or re-lay it
        return logistic(slope * (np.log(z) - log_k))
    np.log(z, out=z)
    z -= log_k
    z *= slope  # slope * (...) and (...) * slope are the same number
    return logistic(z)


class Logistic(Saturation):
    """``tanh(x / (2 K))`` = ``(1 - e^(-x/K)) / (1 + e^(-x/K))``: half of the maximum at
    ``x = K log 3``, no slope parameter."""

    name = "logistic"

    def curve(self, x: Any, xp, half_saturation: Any) -> Any:
        return xp.tanh((1.0 / half_saturation) * x / 2.0)

    def prepare(self, adstocked: Any, half_saturation: Any) -> Any:
        return adstocked / (2.0 * half_saturation)

    def response_sums(self, prepared: Any, m: Any, order: int, half_saturation: Any = None) -> list[Any]:
        # y = tanh(m b): y' = b (1 - y^2), y'' = -2 b^2 y (1 - y^2)
        y = prepared * np.asarray(m, dtype="float64")[..., None]
        np.tanh(y, out=y)
        out = [y.sum(axis=-1)]
        if order >= 1:
            out.append(prepared.sum(axis=-1) - _dot(prepared, y, y))
        if order >= 2:
            by = prepared * y
            out.append(-2.0 * (_dot(prepared, by) - _dot(by, by, y)))
        return out


class MichaelisMenten(Saturation):
    """``x / (x + K)``: half of the maximum at ``x = K``."""

    name = "michaelis_menten"

    def curve(self, x: Any, xp, half_saturation: Any) -> Any:
        return x / (x + half_saturation)

    def prepare(self, adstocked: Any, half_saturation: Any) -> Any:
        return adstocked / half_saturation

    def response_sums(self, prepared: Any, m: Any, order: int, half_saturation: Any = None) -> list[Any]:
        # y = m b / (1 + m b): y' = b / (1 + m b)^2, y'' = -2 b^2 / (1 + m b)^3
        x = prepared * np.asarray(m, dtype="float64")[..., None]
        inv = 1.0 / (1.0 + x)
        out = [(x * inv).sum(axis=-1)]
        if order >= 1:
            out.append(_dot(prepared, inv, inv))
        if order >= 2:
            out.append(-2.0 * _dot(prepared * inv, prepared * inv, inv))
        return out


class Power(Saturation):
    """``x^k`` with ``0 < k < 1``: diminishing returns that never flatten out (no
    half-saturation point). Exactly 0 without media, with finite gradients there."""

    name = "power"
    cell_parameters = ()
    channel_parameters = {
        "exponent": PriorSpec(
            "Beta", {"alpha": 2.0, "beta": 2.0}, "power curve exponent (smaller = faster diminishing returns)"
        ),
    }

    def curve(self, x: Any, xp, exponent: Any) -> Any:
        positive = x > 0
        where = np.where if xp is np else xp.switch
        safe = where(positive, x, 1.0)  # no log(0) in either branch's gradient
        return where(positive, xp.exp(exponent * xp.log(safe)), 0.0)

    def prepare(self, adstocked: Any, exponent: Any) -> Any:
        return self.curve(adstocked, np, exponent)

    def response_sums(self, prepared: Any, m: Any, order: int, exponent: Any = None) -> list[Any]:
        # y = m^k a^k: y' = k m^(k-1) a^k, y'' = k (k - 1) m^(k-2) a^k
        k = exponent[..., 0]
        total = prepared.sum(axis=-1)
        m = np.asarray(m, dtype="float64")
        out = [m**k * total]
        mm = np.maximum(m, MIN_MULTIPLIER)
        if order >= 1:
            out.append(k * mm ** (k - 1.0) * total)
        if order >= 2:
            out.append(k * (k - 1.0) * mm ** (k - 2.0) * total)
        return out
