"""The synergy part of the scaled-plan sums (``PlanResponse``): exact, with derivatives.

A plan scaled by ``m`` (one multiplier per geo x channel cell) has adstocked media
``m a``, so the interaction of pair ``(a, b)`` in geo ``g`` is

    I_g(m) = kpi_scale_g gamma_g sum_t s_a(m_ga a_gta) s_b(m_gb a_gtb)

Its derivatives need the channels' responses *per week*, not summed: those come
from each saturation kind's own closed-form ``response_sums`` applied to a
one-week-long last axis (the kinds' contract: ``prepare`` is elementwise and the
sums run over the last axis), so every kind, present or future, is covered and the
numbers equal the forward model's to rounding.

What ``PlanResponse.derivatives`` then reports per cell (documented in
``docs/synergy.md``): the KPI is the cell's Shapley share (own effect + half of each
interaction), the first and second derivatives are those of the *total* KPI in the
cell's own multiplier (own effect + the whole interaction), so the gradient and the
Hessian's diagonal are exact; :meth:`SynergySums.cross` gives the off-diagonal
entries ``d2 I / dm_ga dm_gb`` the optimiser adds.
"""

from __future__ import annotations

import numpy as np

from geommm.model.synergy import pair_indices


class SynergySums:
    """The formula's synergy pairs over one set of posterior draws."""

    def __init__(self, spec, data, draws: dict[str, np.ndarray]) -> None:
        self.firsts, self.seconds = pair_indices(spec, data.channels)
        self.effect = data.kpi_scale[None, :, None] * draws["synergy_effect"]  # (D, G, P)

    @classmethod
    def of(cls, forward) -> SynergySums | None:
        """For a ForwardModel whose formula has ``synergy()``; None otherwise."""
        return cls(forward.spec, forward.data, forward.draws) if forward.spec.synergy else None

    def add(self, out: list[np.ndarray], chunks: list[list[tuple]], m: np.ndarray, order: int) -> list[np.ndarray]:
        """``out`` (the channels' own [KPI, d, d2], each (D, G, C)) plus the synergies;
        ``chunks``: prepared sums of consecutive draw chunks (``MediaTransform.prepare``)."""
        out = [np.array(x, dtype="float64", copy=True) for x in out]
        start = 0
        for prepared in chunks:
            n = prepared[0][2].shape[0]
            rows = slice(start, start + n)
            start += n
            for p, (a, b) in enumerate(zip(self.firsts, self.seconds)):
                sa, sb = weekly(prepared, a, m, order), weekly(prepared, b, m, order)
                gamma = self.effect[rows, :, p]
                value = gamma * _dot(sa[0], sb[0])
                out[0][rows, :, a] += 0.5 * value
                out[0][rows, :, b] += 0.5 * value
                if order >= 1:
                    out[1][rows, :, a] += gamma * _dot(sa[1], sb[0])
                    out[1][rows, :, b] += gamma * _dot(sa[0], sb[1])
                if order >= 2:
                    out[2][rows, :, a] += gamma * _dot(sa[2], sb[0])
                    out[2][rows, :, b] += gamma * _dot(sa[0], sb[2])
        return out

    def cross(self, chunks: list[list[tuple]], m: np.ndarray) -> np.ndarray:
        """``(D, G, P)``: ``d2 I_p / dm_ga dm_gb`` for every pair ``p = (a, b)``."""
        parts = []
        start = 0
        for prepared in chunks:
            n = prepared[0][2].shape[0]
            rows = slice(start, start + n)
            start += n
            parts.append(np.stack([
                self.effect[rows, :, p] * _dot(weekly(prepared, a, m, 1)[1], weekly(prepared, b, m, 1)[1])
                for p, (a, b) in enumerate(zip(self.firsts, self.seconds))
            ], axis=-1))
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def weekly(prepared: list[tuple], channel: int, m: np.ndarray, order: int) -> list[np.ndarray]:
    """``[s, ds/dm, d2s/dm2][: order + 1]`` of one channel per week, each ``(D, G, T)``,
    at multipliers ``m`` ``(G, C)``: the kind's sums over a last axis of length one."""
    for kind, idx, z, params in prepared:
        if channel in idx:
            j = idx.index(channel)
            cell = np.ascontiguousarray(z[..., j : j + 1, :])[..., None]  # (D, G, 1, T, 1)
            p = {k: np.asarray(v)[..., j : j + 1, :][..., None] for k, v in params.items()}
            mm = np.asarray(m, dtype="float64")[:, channel][:, None, None]  # (G, 1, 1)
            return [s[..., 0, :] for s in kind.response_sums(cell, mm, order, **p)]
    raise KeyError(channel)


def _dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sum over weeks of the product: ``(D, G, T) x (D, G, T) -> (D, G)``."""
    return np.einsum("...t,...t->...", x, y)
