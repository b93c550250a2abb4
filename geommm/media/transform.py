"""The media transform of a whole model: every channel's adstock and saturation at once.

Channels may use different kinds; each kind is applied to its group of channels
in one vectorised pass and the channel order is restored. The same object serves
the PyMC graph (tensors, no draw axis), the posterior analysis (numpy with a
leading draw axis), the lift-test cells and the "scaled plan" sums behind the
optimiser, so there is one definition of how media turn into KPI.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np

from geommm.media.backend import apply_adstock, is_tensor, xp_of
from geommm.media.registry import adstock_kind, saturation_kind


def _groups(names: Sequence[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        out.setdefault(name, []).append(i)
    return out


class MediaTransform:
    """Adstock + saturation for channels with kinds ``adstocks[c]``, ``saturations[c]``.

    Parameters come as a mapping: geo-pooled per-cell ones (``retention``,
    ``half_saturation``) shaped ``(..., G, C)``, per-channel ones (``slope``,
    ``peak_lag``, ...) shaped ``(..., C)``.
    """

    def __init__(self, adstocks: Sequence[str], saturations: Sequence[str], max_lag: int,
                 lag_mask: np.ndarray | None = None) -> None:
        self.adstocks = tuple(adstocks)
        self.saturations = tuple(saturations)
        for name in self.adstocks:
            adstock_kind(name)
        for name in self.saturations:
            saturation_kind(name)
        self.n_channels = len(self.adstocks)
        self.max_lag = int(max_lag)
        self.lag_mask = np.ones((self.n_channels, self.max_lag)) if lag_mask is None else lag_mask
        self._adstock_groups = _groups(self.adstocks)
        self._saturation_groups = _groups(self.saturations)
        #: reach & frequency channels' panel frequency (``frequency.FrequencyInput``), or None
        self.frequency = None

    @classmethod
    def for_terms(cls, media: Sequence[Any], max_lag: int, lag_mask: np.ndarray | None = None) -> MediaTransform:
        """From media terms (anything with ``.adstock`` and ``.saturation`` names)."""
        return cls([m.adstock for m in media], [m.saturation for m in media], max_lag, lag_mask)

    # ----------------------------------------------------------------- what it needs
    def channel_parameters(self) -> list[str]:
        """Per-channel parameters the kinds in use need (e.g. ``slope`` for Hill), saturation
        kinds first (the order the model creates them in)."""
        names = [p for k in self._saturation_groups for p in saturation_kind(k).channel_parameters]
        names += [p for k in self._adstock_groups for p in adstock_kind(k).channel_parameters]
        return list(dict.fromkeys(names))

    def uses_half_saturation(self) -> bool:
        return any("half_saturation" in saturation_kind(k).cell_parameters for k in self._saturation_groups)

    # ----------------------------------------------------------------------- adstock
    def _take(self, x: Any, idx: list[int]) -> Any:
        # all channels in order (the usual case): no gather, so no costly scatter in the gradient
        if idx == list(range(self.n_channels)):
            return x
        return x[..., idx]

    def _in_order(self, parts: list[tuple[list[int], Any]], axis_from_end: int, xp) -> Any:
        """Concatenate per-kind groups along a channel axis and restore the channel order."""
        if len(parts) == 1:
            return parts[0][1]
        order = [i for idx, _ in parts for i in idx]
        inverse = list(np.argsort(order))
        joined = xp.concatenate([p for _, p in parts], axis=-axis_from_end)
        return joined[..., inverse] if axis_from_end == 1 else joined[..., inverse, :]

    def weights(self, params: Mapping[str, Any], max_lag: int | None = None) -> Any:
        """Normalised carryover weights ``(..., G, C, L)``."""
        max_lag = self.max_lag if max_lag is None else max_lag
        retention = params["retention"]
        xp = xp_of(retention)
        parts = []
        for name, idx in self._adstock_groups.items():
            kind = adstock_kind(name)
            channel = {p: self._take(params[p], idx)[..., None, :] for p in kind.channel_parameters}
            xp_k = xp_of(retention, *channel.values())
            parts.append((idx, kind.weights(self._take(retention, idx), max_lag, xp_k, **channel)))
        weights = self._in_order(parts, 2, xp)
        if np.all(self.lag_mask == 1):
            return weights
        masked = weights * self.lag_mask
        return masked / masked.sum(axis=-1, keepdims=True)

    def adstock(self, lagged: Any, params: Mapping[str, Any], start: int = 0) -> Any:
        """Adstocked scaled media ``(..., G, T, C)`` from a lag stack ``(L, G, T, C)`` whose
        first week is panel week ``start`` (it places reach & frequency channels' frequency)."""
        n_lags = lagged.type.shape[0] if is_tensor(lagged) else lagged.shape[0]
        if self.frequency is not None:
            return self.frequency.adstock(lagged, self.weights(params, n_lags), params, start)
        return apply_adstock(lagged, self.weights(params, n_lags))

    # -------------------------------------------------------------------- saturation
    def _curve_params(self, kind, idx: list[int], params: Mapping[str, Any]) -> dict[str, Any]:
        """Parameters of one kind's channels, broadcastable against ``(..., G, T, Ck)``."""
        out = {p: self._take(params[p], idx)[..., None, :] for p in kind.cell_parameters}
        out.update({p: self._take(params[p], idx)[..., None, None, :] for p in kind.channel_parameters})
        return out

    def saturate(self, adstocked: Any, params: Mapping[str, Any]) -> Any:
        """Response of adstocked scaled media ``(..., G, T, C)``."""
        xp = xp_of(adstocked, *params.values())
        parts = []
        for name, idx in self._saturation_groups.items():
            kind = saturation_kind(name)
            x = self._take(adstocked, idx)
            parts.append((idx, kind.curve(x, xp, **self._curve_params(kind, idx, params))))
        return self._in_order(parts, 1, xp)

    def __call__(self, lagged: Any, params: Mapping[str, Any], start: int = 0) -> Any:
        """Saturated adstocked media ``(..., G, T, C)`` from a lag stack ``(L, G, T, C)``."""
        return self.saturate(self.adstock(lagged, params, start), params)

    def saturate_cells(self, x: Any, params: Mapping[str, Any], geo: np.ndarray,
                       channel: np.ndarray) -> Any:
        """Response of cells ``x`` ``(..., K, S)``, cell ``k`` in geo ``geo[k]`` and
        channel ``channel[k]``, each with its own channel's curve (lift tests)."""
        xp = xp_of(x, *params.values())
        kinds = np.array([self.saturations[c] for c in channel])
        out = 0.0
        for name in np.unique(kinds):
            kind = saturation_kind(str(name))
            cell = {p: params[p][..., geo, channel][..., None] for p in kind.cell_parameters}
            cell.update({p: params[p][..., channel][..., None] for p in kind.channel_parameters})
            mask = (kinds == name).astype("float64")[:, None]
            out = out + mask * kind.curve(x, xp, **cell)
        return out

    # ------------------------------------------------------------ scaled-plan sums
    def prepare(self, adstocked: np.ndarray, params: Mapping[str, np.ndarray]) -> list[tuple]:
        """Per saturation kind: (kind, channel indices, prepared (D, G, Ck, T), parameters)
        for :meth:`response_sums`; ``adstocked`` is ``(D, G, T, C)`` numpy."""
        out = []
        for name, idx in self._saturation_groups.items():
            kind = saturation_kind(name)
            a = np.moveaxis(adstocked[..., idx], -1, -2)  # (D, G, Ck, T)
            p = {k: params[k][..., idx][..., None] for k in kind.cell_parameters}  # (D, G, Ck, 1)
            p.update({k: params[k][..., idx][..., None, :, None] for k in kind.channel_parameters})
            out.append((kind, idx, np.ascontiguousarray(kind.prepare(a, **p)), p))
        return out

    def response_sums(self, prepared: list[tuple], m: np.ndarray, order: int) -> list[np.ndarray]:
        """Sums over weeks of the response at multipliers ``m`` ``(G, C)`` and of its first
        ``order`` derivatives in each cell's multiplier: each ``(D, G, C)``."""
        out: list[np.ndarray | None] = [None] * (order + 1)
        for kind, idx, z, p in prepared:
            for rows, sums in _on_threads(_in_blocks(kind, z, m[:, idx], order, p)):
                for k, value in enumerate(sums):
                    if out[k] is None:
                        out[k] = np.empty((*_full_shape(value, z, rows), self.n_channels))
                    out[k][rows][..., idx] = value
        return out


#: Numbers per block of draws in the scaled-plan sums (2 MB of float64: the few passes
#: over each block stay in the CPU cache; one pass over all draws at once went to memory
#: for each of them and took ~1.6x as long for the demo's 1000 draws).
BLOCK_CELLS = 1 << 18


def _in_blocks(kind, z: np.ndarray, m: np.ndarray, order: int, params: dict):
    """``kind.response_sums`` over blocks of the leading (draw) axis of ``z``, as (rows,
    zero-argument job) pairs: every number is computed exactly as in one pass
    (elementwise, and sums over the last axis per row)."""
    n = z.shape[0] if z.ndim == 4 else 1
    per_row = max(1, z[0].size if z.ndim == 4 else z.size)
    step = max(1, BLOCK_CELLS // per_row)
    if z.ndim != 4 or n <= step:
        yield slice(None), partial(kind.response_sums, z, m, order, **params)
        return
    for start in range(0, n, step):
        rows = slice(start, start + step)
        sub = {k: v[rows] if np.ndim(v) == 4 and np.shape(v)[0] == n else v for k, v in params.items()}
        yield rows, partial(kind.response_sums, z[rows], m, order, **sub)


#: Threads for the blocks of the scaled-plan sums. Their work is numpy's array loops,
#: which release the GIL, so on two cores the response curves and the optimiser take
#: about half the wall time; each block is computed exactly as in one thread.
#: ``GEOMMM_THREADS=1`` keeps everything on the calling thread.
def _threads() -> int:
    text = os.environ.get("GEOMMM_THREADS", "").strip()
    wanted = int(text) if text.isdigit() else (os.cpu_count() or 1)
    return max(1, min(2, wanted))


SUM_THREADS = _threads()
_pool: dict[int, ThreadPoolExecutor] = {}  # by process id: a forked child starts its own
_pool_lock = threading.Lock()


def _on_threads(jobs) -> list[tuple[slice, list[np.ndarray]]]:
    """Run the (rows, job) pairs, on :data:`SUM_THREADS` threads when there are several."""
    jobs = list(jobs)
    if SUM_THREADS < 2 or len(jobs) < 2:
        return [(rows, job()) for rows, job in jobs]
    with _pool_lock:  # the report may ask from two threads at once
        pool = _pool.get(os.getpid())
        if pool is None:
            pool = _pool[os.getpid()] = ThreadPoolExecutor(SUM_THREADS, thread_name_prefix="geommm-sums")
    return list(zip([rows for rows, _ in jobs], pool.map(lambda pair: pair[1](), jobs)))


def map_on_threads(fn, items) -> list:
    """``[fn(x) for x in items]``, spread over :data:`SUM_THREADS` threads when there are
    several items: for independent numpy work per item (each call is computed as on one
    thread, so the results are the same numbers). ``fn`` must not itself use the pool."""
    return [value for _, value in _on_threads((None, partial(fn, x)) for x in items)]


def _full_shape(value: np.ndarray, z: np.ndarray, rows: slice) -> tuple[int, ...]:
    """The shape of one sum over all draws, from a block's (``value``'s) shape."""
    if rows == slice(None):
        return value.shape[:-1]
    return (z.shape[0], *value.shape[1:-1])
