"""R-hat, effective sample size and HDI for every posterior element at once, in numpy.

arviz computes these one scalar at a time in Python (and compiles a numba kernel on
first use): 10-25 s for the demo fit's ~540 posterior scalars. The same formulas on
a ``(parameters, chains, draws)`` array take a fraction of a second. They follow
arviz 0.23 step for step (rank-normalised split R-hat and bulk / tail ESS of
Vehtari et al. 2021, Geyer's initial monotone sequence; the shortest-interval HDI),
so the numbers agree with ``az.rhat`` / ``az.ess`` / ``az.summary`` to rounding
(tests/test_convergence.py holds them to it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.fft import next_fast_len
from scipy.special import ndtri

#: Fewer draws per chain than this and arviz reports NaN (so do we).
MIN_DRAWS = 4


def split_chains(x: np.ndarray) -> np.ndarray:
    """(P, C, N) -> (P, 2C, N // 2): each chain's first and last half as two chains."""
    half = x.shape[-1] // 2
    return np.concatenate([x[:, :, :half], x[:, :, -half:]], axis=1)


def z_scale(x: np.ndarray) -> np.ndarray:
    """Rank-normalise each parameter's draws (pooled over chains): normal scores of ranks."""
    p, c, n = x.shape
    ranks = average_ranks(x.reshape(p, c * n))
    size = c * n
    return ndtri((ranks - 0.375) / (size - 0.75 + 1)).reshape(p, c, n)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks along each row of finite ``x``, ties sharing their average rank
    (scipy's ``rankdata(method="average")``, whose stable sort is several times slower).
    Ties are fixed up run by run, so their cost grows with their number only."""
    p, n = x.shape
    order = np.argsort(x, axis=1)
    ordered = np.take_along_axis(x, order, axis=1)
    in_order = np.tile(np.arange(1.0, n + 1.0), (p, 1))  # the rank at each sorted position
    row, pos = np.nonzero(ordered[:, 1:] == ordered[:, :-1])  # pos ties with pos + 1
    if row.size:
        flat = row * n + pos
        new_run = np.r_[True, np.diff(flat) != 1]
        first = flat[new_run]  # sorted positions first .. last + 1 hold equal values
        last = flat[np.r_[new_run[1:], True]]
        length = last - first + 2
        offset = np.arange(length.sum()) - np.repeat(np.cumsum(length) - length, length)
        mean_rank = ((first % n) + (last % n) + 3) / 2.0  # of ranks first + 1 .. last + 2
        in_order.flat[np.repeat(first, length) + offset] = np.repeat(mean_rank, length)
    ranks = np.empty_like(in_order)
    np.put_along_axis(ranks, order, in_order, axis=1)
    return ranks


def _rhat(x: np.ndarray) -> np.ndarray:
    """Classic (split input) R-hat per parameter of (P, C, N)."""
    n = x.shape[-1]
    between = n * np.var(x.mean(axis=2), axis=1, ddof=1)
    within = np.var(x, axis=2, ddof=1).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant parameter: NaN, as arviz
        return np.sqrt((between / within + n - 1) / n)


def rhat_rank(x: np.ndarray, z_split: np.ndarray | None = None) -> np.ndarray:
    """Rank-normalised split R-hat (bulk and folded, the larger) of (P, C, N);
    ``z_split``: ``z_scale(split_chains(x))`` if already computed."""
    split = split_chains(x)
    bulk = _rhat(z_scale(split) if z_split is None else z_split)
    median = np.median(split.reshape(split.shape[0], -1), axis=1)[:, None, None]
    tail = _rhat(z_scale(np.abs(split - median)))
    return np.maximum(bulk, tail)


def _autocov(x: np.ndarray) -> np.ndarray:
    """Autocovariance at every lag along the last axis (FFT), divided by N."""
    n = x.shape[-1]
    m = next_fast_len(2 * n)
    centred = x - x.mean(axis=-1, keepdims=True)
    f = np.fft.rfft(centred, n=m, axis=-1)
    f *= np.conjugate(f)
    return np.fft.irfft(f, n=m, axis=-1)[..., :n] / n


def ess(x: np.ndarray) -> np.ndarray:
    """Effective sample size per parameter of (P, C, N) draws (arviz's ``_ess``)."""
    x = np.asarray(x, dtype=float)
    p, c, n = x.shape
    out = np.full(p, np.nan)
    flat = x.reshape(p, -1)
    const = (flat.max(axis=1) - flat.min(axis=1)) < np.finfo(float).resolution
    out[const] = c * n
    todo = ~const
    if not todo.any():
        return out
    x = x[todo]
    acov = _autocov(x)
    mean_var = acov[:, :, 0].mean(axis=1) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if c > 1:
        var_plus = var_plus + np.var(x.mean(axis=2), axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = 1.0 - (mean_var[:, None] - acov.mean(axis=1)) / var_plus[:, None]  # (P', N)
    rho[:, 0] = 1.0
    out[todo] = _tau_to_ess(rho, c * n, n)
    return out


def _tau_to_ess(rho: np.ndarray, total: int, n: int) -> np.ndarray:
    """Geyer's initial positive then monotone sequence on autocorrelations ``rho`` (P, N).

    Pair k is (rho[2k], rho[2k + 1]); arviz's loop computes pairs 1, 2, ... while the
    previous pair's sum is positive and ``2k - 1 < n - 3``. Pairs before the last
    computed one enter as their running minimum (the monotone sequence), the last
    pair's even term once, and only if it was kept (its pair sum >= 0 or itself > 0).
    """
    rows = np.arange(rho.shape[0])
    n_pairs = max(0, (n - 3) // 2) + 1
    idx = 2 * np.arange(n_pairs)
    pairs = rho[:, idx] + rho[:, np.minimum(idx + 1, n - 1)]
    stop = ~(pairs > 0)  # NaN stops the loop as well
    stop[:, -1] = True
    last = np.argmax(stop, axis=1)
    even = rho[rows, 2 * last]
    kept = (pairs[rows, last] >= 0) | (even > 0)
    even = np.where(last == 0, 1.0, np.where(kept, even, 0.0))
    monotone = np.minimum.accumulate(pairs, axis=1)
    before_last = np.arange(n_pairs)[None, :] < last[:, None]
    tau = -1.0 + 2.0 * np.where(before_last, monotone, 0.0).sum(axis=1) + even
    return total / np.maximum(tau, 1.0 / np.log10(total))


def ess_bulk(x: np.ndarray) -> np.ndarray:
    return ess(z_scale(split_chains(x)))


def ess_tail(x: np.ndarray, probs: Sequence[float] = (0.05, 0.95)) -> np.ndarray:
    """The smaller ESS of the indicators below the 5% and 95% quantiles."""
    flat = x.reshape(x.shape[0], -1)
    values = []
    for prob in probs:
        q = np.quantile(flat, prob, axis=1)[:, None, None]
        values.append(ess(split_chains((x <= q).astype(float))))
    return np.minimum(*values)


def hdi(x: np.ndarray, hdi_prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Shortest interval holding ``hdi_prob`` of each row's draws (x: (P, D))."""
    return hdi_of_sorted(np.sort(x, axis=1), hdi_prob)


def hdi_of_sorted(s: np.ndarray, hdi_prob: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`hdi` of rows already sorted (s: (P, D), each row ascending)."""
    n = s.shape[1]
    inc = int(np.floor(hdi_prob * n))
    width = s[:, inc:] - s[:, : n - inc]
    lo = np.argmin(width, axis=1)
    rows = np.arange(s.shape[0])
    return s[rows, lo], s[rows, lo + inc]


#: Parameters per batch, so a big posterior's rank and FFT temporaries stay bounded.
BATCH = 2000


def convergence(x: np.ndarray) -> dict[str, np.ndarray]:
    """r_hat, ess_bulk, ess_tail per parameter of (P, C, N) draws; NaN where arviz gives NaN
    (non-finite draws, fewer than 4 draws, R-hat with one chain)."""
    x = np.asarray(x, dtype=float)
    p, c, n = x.shape
    out = {k: np.full(p, np.nan) for k in ("r_hat", "ess_bulk", "ess_tail")}
    ok = np.isfinite(x.reshape(p, -1)).all(axis=1) if n >= MIN_DRAWS else np.zeros(p, bool)
    rows = np.flatnonzero(ok)
    for start in range(0, rows.size, BATCH):
        idx = rows[start : start + BATCH]
        good = x[idx]
        z_split = z_scale(split_chains(good))
        out["ess_bulk"][idx] = ess(z_split)
        out["ess_tail"][idx] = ess_tail(good)
        if c >= 2:
            out["r_hat"][idx] = rhat_rank(good, z_split)
    return out
