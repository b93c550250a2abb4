"""Preposterior analysis: what a test's result would do to the posterior, before running it.

The posterior draws already say what each test would measure (its lift per draw).
A result ``y ~ Normal(lift_d, se)`` reweights draw ``d`` by its likelihood, so the
posterior after the test is the same draws with new weights — no refit. (``se`` here is
what the refit learns from: the lift row and the test weeks in the panel combined.) Averaged
over results the model expects (a random draw's lift plus measurement noise), the
reweighted 90% interval width is the test's *value of information*.

Two methods (validated against real refits in benchmarks/bench_test_design.py):

- ``reweight``: importance reweighting as above, with common random results across
  candidates so rankings do not flicker.
- ``gaussian``: (quantity, lift) treated as jointly Normal over the draws; the
  interval shrinks by ``sqrt(1 - cov^2 / (var_q (var_lift + se^2)))`` whatever the result.

Power is exact over the draws: the average of P(|lift_d + noise| > 1.96 se).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

Z_TWO_SIDED_5 = 1.959963984540054
#: Results simulated per candidate for the reweighting average.
N_RESULTS = 200
#: Lower-tail masses tried when searching the shortest weighted interval.
_TAIL_GRID = 41


def power(lift: np.ndarray, se: np.ndarray) -> np.ndarray:
    """(N,) probability that the measured lift is significant at 5% two-sided, averaged over
    the draws; ``lift`` (N, D), ``se`` (N,)."""
    z = np.asarray(lift, float) / np.asarray(se, float)[:, None]
    return (ndtr(z - Z_TWO_SIDED_5) + ndtr(-z - Z_TWO_SIDED_5)).mean(axis=1)


def interval_width(values: np.ndarray, weights: np.ndarray | None = None, prob: float = 0.9) -> np.ndarray:
    """Width of the shortest interval holding ``prob`` of the (weighted) draws.

    ``values`` (D,); ``weights`` (M, D) rows summing to 1 (equal weights when None).
    Searches the lower tail mass over a grid of 41 points in [0, 1 - prob] with
    weighted quantiles; returns (M,) (or a scalar with no weights)."""
    order = np.argsort(values)
    v = np.asarray(values, float)[order]
    D = v.size
    w = np.full((1, D), 1.0 / D) if weights is None else np.asarray(weights, float)[:, order]
    width = sorted_interval_width(v, w, prob)
    return width[0] if weights is None else width


def sorted_interval_width(v: np.ndarray, w: np.ndarray, prob: float = 0.9) -> np.ndarray:
    """:func:`interval_width` of values already sorted (``v``, (D,)) with their weights in
    the same order (``w``, (M, D)); ``w`` is overwritten (its cumulative sums)."""
    cum = np.cumsum(w, axis=1, out=w)
    cum[:, -1] = 1.0
    tails = np.linspace(0.0, 1.0 - prob, _TAIL_GRID)
    both = _quantiles(cum, np.concatenate([tails, tails + prob]))  # one search for both ends
    lo, hi = both[:, :_TAIL_GRID], both[:, _TAIL_GRID:]
    return (v[hi] - v[lo]).min(axis=1)


def _quantiles(cum: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """(M, K) indices of the weighted ``masses`` quantiles, every row at once: rows are
    shifted apart (row m by 2m) so one searchsorted over the flattened cumsum serves all
    (``cum`` is shifted in place)."""
    M, D = cum.shape
    shift = 2.0 * np.arange(M)[:, None]
    flat = np.add(cum, shift, out=cum).ravel()  # the caller's buffer: its own cumsum
    targets = (np.clip(masses, 1e-12, 1.0 - 1e-12)[None, :] + shift).ravel()
    idx = np.searchsorted(flat, targets, side="left").reshape(M, -1) - np.arange(M)[:, None] * D
    return np.clip(idx, 0, D - 1)


def gaussian_ratio(quantity: np.ndarray, lift: np.ndarray, se: np.ndarray) -> np.ndarray:
    """(N,) expected posterior sd after / before for ``quantity`` (D,) or (N, D) given tests
    with ``lift`` (N, D) measured with ``se`` (N,), (quantity, lift) jointly Normal."""
    q = np.asarray(quantity, float)
    q = q - q.mean(axis=-1, keepdims=True)
    lc = lift - lift.mean(axis=1, keepdims=True)
    var_q = (q**2).mean(axis=-1)
    cov = (lc * q).mean(axis=1)
    var_l = (lc**2).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        explained = cov**2 / (var_q * (var_l + np.asarray(se, float) ** 2))
    return np.sqrt(np.clip(1.0 - np.nan_to_num(explained), 0.0, 1.0))


class Reweighting:
    """Expected interval widths after a test, by importance reweighting of the posterior draws.

    The simulated results use the same random draw indices and noise for every
    candidate (common random numbers), so two candidates differ only by their lifts.
    """

    def __init__(self, n_draws: int, seed: int = 0, n_results: int = N_RESULTS, prob: float = 0.9):
        rng = np.random.default_rng(seed)
        self.index = rng.integers(0, n_draws, size=n_results)
        self.noise = rng.standard_normal(n_results)
        self.prob = prob

    def weights(self, lift: np.ndarray, se: float, order: np.ndarray | None = None) -> np.ndarray:
        """(M, D) posterior weights of the draws after each simulated result; with ``order``
        the draws' columns come in that order (a quantity's sorted order, see
        :meth:`expected_sorted_width`): ``weights(...)[:, order]`` up to the rounding of
        the row sums."""
        y = lift[self.index] + se * self.noise
        # -0.5 ((y - lift) / se)^2, exp(. - row max) / row sum, all in one (M, D) buffer:
        # the same operations on the same numbers as written out with temporaries
        w = np.subtract.outer(y, lift if order is None else lift[order])
        w /= se
        np.square(w, out=w)
        w *= -0.5
        w -= w.max(axis=1, keepdims=True)
        np.exp(w, out=w)
        w /= w.sum(axis=1, keepdims=True)
        return w

    def expected_width(self, quantity: np.ndarray, weights: np.ndarray) -> float:
        """Average over simulated results of the reweighted interval width of ``quantity``."""
        return float(interval_width(quantity, weights, self.prob).mean())

    def expected_sorted_width(self, quantity: np.ndarray, order: np.ndarray, lift: np.ndarray,
                              se: float) -> float:
        """:meth:`expected_width` of ``quantity`` after a test of ``lift`` measured with ``se``,
        given ``order = argsort(quantity)``: the weights are made in that order, so the many
        candidates for one quantity share its sort and skip reordering their weights."""
        w = self.weights(lift, se, order)
        return float(sorted_interval_width(quantity[order], w, self.prob).mean())

    def effective_draws(self, weights: np.ndarray) -> float:
        """Median effective number of draws after a result (1 / sum w^2): low means noisy."""
        return float(np.median(1.0 / (weights**2).sum(axis=1)))
