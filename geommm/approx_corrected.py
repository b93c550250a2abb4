"""Laplace, corrected where a normal at the joint mode is measurably wrong (issue 18).

Two errors of the plain Laplace fit, both measured against NUTS (docs/performance.md,
"A first look"; ``benchmarks/bench_first_look_alternatives.py``):

1. **The joint mode puts the geo spreads too high.** In the non-centred coordinates the
   mode ignores the volume of the geo deviations. The correction adds
   ``0.5 * sum log(1 + a_i sd_i^2)`` to ``-log p``: the Laplace volume of each deviation
   given its spread (INLA's marginal of the hyper-parameters, Rue, Martino & Chopin
   2009), with the deviation block of the Hessian taken as diagonal and the data's
   precision ``a_i`` held at the mode's. The normal is then centred at the mode of
   that objective, with its Hessian.
2. **A weakly identified channel's log ROI is skewed.** Each channel's marginal is read
   along the corrected normal's conditional-mean line through its ``roi_log__``
   coordinate, scored by the model's own density on a 33-point grid (INLA's
   simplified marginal without the determinant). The draws are moved along those lines
   so each channel's log ROI follows its grid marginal, quantile for quantile (the
   normal keeps the dependence between channels and the rest: a Gaussian copula).

Measured, national ROI against NUTS: demo panel max error 16.1% -> 6.1%, a second
simulated panel (seed 2027) 16.6% -> 4.7%; ~1 CPU s more (a second mode search and
Hessian). Pre-flight's batched fits keep the plain Laplace their calibration was
measured with (``mmm.fit_alike``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

from geommm import approx
from geommm.mode_search import MODE_GTOL, minimize_whitened

#: value variable of a geo deviation -> (the log spread that scales it, whether the
#: spread indexes the deviation's leading axis). The set measured in the benchmark.
GEO_DEVIATIONS = {
    "half_saturation_z": ("half_saturation_geo_sd_log__", False),
    "retention_z": ("retention_geo_sd_log__", False),
    "media_effect_geo_u_zerosum__": ("effect_geo_sd_log__", True),
    "control_geo_z": ("control_geo_sd_log__", False),
    "trend_geo_z": ("trend_geo_sd_log__", False),
    "season_geo_z": ("season_geo_sd_log__", False),
}
#: The channels' log ROI coordinate, and the line each marginal is read on: +- this many
#: normal sds, this many density calls.
ROI_VALUE, LINE_WIDTH, LINE_POINTS = "roi_log__", 4.0, 33


def slices(density) -> dict[str, np.ndarray]:
    """Value variable name -> its flat indexes (shaped like the variable)."""
    names = [v.name for v in density.model.value_vars]
    bounds = np.cumsum([0, *[int(np.prod(s)) for s in density.shapes]])
    return {n: np.arange(a, b).reshape(s) for n, a, b, s in zip(names, bounds[:-1], bounds[1:], density.shapes)}


def deviation_pairs(density) -> tuple[np.ndarray, np.ndarray]:
    """Flat indexes of every geo deviation and of the log spread that scales it."""
    at = slices(density)
    zs, ss = [], []
    for z, (s, leading) in GEO_DEVIATIONS.items():
        if z not in at or s not in at:
            continue
        zi, si = at[z], at[s]
        if leading:
            si = si.reshape(si.shape + (1,) * (zi.ndim - si.ndim))
        zs.append(zi.ravel())
        ss.append(np.broadcast_to(si, zi.shape).ravel())
    if not zs:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    return np.concatenate(zs), np.concatenate(ss)


class DiagonalSpreadCorrected:
    """``-log p(x) + 0.5 sum_i log(1 + a_i exp(2 s_i))``: the geo deviations' Laplace
    volume given their log spreads ``s_i``, the data's precision ``a_i`` of ``sd * z``
    held at its value at the joint mode (the deviation block taken as diagonal)."""

    def __init__(self, density, hessian: np.ndarray, mode: np.ndarray):
        self.d = density
        self.zi, self.si = deviation_pairs(density)
        e = np.exp(mode[self.si])
        self.a = (np.diag(hessian)[self.zi] - 1.0) / e**2

    def correction(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        m = self.a * np.exp(2 * x[self.si])
        g = np.zeros(x.size)
        np.add.at(g, self.si, m / (1 + m))
        return 0.5 * float(np.log1p(m).sum()), g

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        v, g = self.d.value_and_grad(x)
        c, gc = self.correction(x)
        return v + c, g + gc

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """The density's Hessian plus the correction's (it touches the spread rows only)."""
        out = self.d.hessian(x)
        for j in np.unique(self.si):
            e = np.zeros(x.size)
            e[j] = approx.HESSIAN_STEP * max(1.0, abs(x[j]))
            out[j] += (self.correction(x + e)[1] - self.correction(x - e)[1]) / (2 * e[j])
        return 0.5 * (out + out.T)


def corrected_centre(
    density, mode: np.ndarray, hessian: np.ndarray, min_curvature: float = approx.MIN_CURVATURE
) -> tuple[np.ndarray, np.ndarray] | None:
    """Centre and Hessian of the spread-corrected normal (None: nothing to correct, the
    search left the finite region, or the Hessian there has a direction flatter than
    ``min_curvature``)."""
    corrected = DiagonalSpreadCorrected(density, hessian, mode)
    if corrected.zi.size == 0:
        return None
    # whitened by the mode's Hessian: ~300 gradient calls instead of ~1,900 (mode_search.py)
    res = minimize_whitened(corrected.value_and_grad, mode, hessian, gtol=MODE_GTOL)
    if not (np.isfinite(res.fun) and np.all(np.isfinite(res.x))):
        return None
    hessian = corrected.hessian(res.x)
    if not np.all(np.isfinite(hessian)) or np.linalg.eigvalsh(hessian)[0] < min_curvature:
        return None  # a spread ran off to a flat direction: the plain normal is safer
    return res.x, hessian


def line_cdf(density, centre: np.ndarray, cov: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Grid of ``x[index]`` values and its marginal CDF (at the grid points, mid-mass)
    along the normal's conditional-mean line through that coordinate, scored by the
    model's density."""
    sd = np.sqrt(cov[index, index])
    beta = cov[:, index] / cov[index, index]
    ts = np.linspace(-LINE_WIDTH, LINE_WIDTH, LINE_POINTS)
    lp = -np.array([density.value_and_grad(centre + beta * (t * sd))[0] for t in ts])
    w = np.exp(lp - lp.max())
    w /= w.sum()
    # each grid point's mass centred on it (a plain cumulative sum would move every
    # quantile half a grid step, 0.125 sds, towards the low end)
    return centre[index] + ts * sd, np.cumsum(w) - 0.5 * w


def transport(density, xs: np.ndarray, centre: np.ndarray, cov: np.ndarray, indexes: np.ndarray) -> np.ndarray | None:
    """Normal draws ``xs`` moved so each coordinate in ``indexes`` follows its line
    marginal (quantile map), the others by the normal's regression on those coordinates
    (None when a line leaves the region where the density is finite)."""
    targets = np.empty((xs.shape[0], indexes.size))
    for k, j in enumerate(indexes):
        grid, cdf = line_cdf(density, centre, cov, int(j))
        if not np.all(np.isfinite(cdf)):
            return None
        sd = np.sqrt(cov[j, j])
        u = ndtr((xs[:, j] - centre[j]) / sd)
        moved = np.interp(u, cdf, grid)
        # beyond the grid's first and last mass: the edge's shift, not a clamp at the edge
        edges = centre[j] + sd * ndtri(cdf[[0, -1]])
        moved = np.where(u < cdf[0], xs[:, j] + grid[0] - edges[0], moved)
        targets[:, k] = np.where(u > cdf[-1], xs[:, j] + grid[-1] - edges[1], moved)
    block = cov[np.ix_(indexes, indexes)]
    move = np.linalg.solve(block, (targets - xs[:, indexes]).T)  # (J, N)
    return xs + (cov[:, indexes] @ move).T


def first_look_draws(density, mode: np.ndarray, settings, corrected: bool) -> tuple[np.ndarray, float]:
    """``draws x chains`` draws and the Pareto k: importance-resampled when k allows
    (``approx.importance_resample``), else, when ``corrected``, the spread-corrected
    normal's draws moved onto each channel's line marginal. The plain Laplace where the
    correction does not apply: no log-ROI coordinate, a flat direction (at the mode or
    at the corrected centre), or a line leaving the finite region."""
    n, roi = settings.draws * settings.chains, roi_indexes(density) if corrected else None
    plain = density.hessian(mode)
    found = None
    if roi is not None and np.linalg.eigvalsh(plain)[0] >= approx.MIN_CURVATURE:
        found = corrected_centre(density, mode, plain)
    if found is not None:
        centre, hessian = found
        xs, sq = approx._laplace(density, centre, n, settings.seed, hessian)
        weighted, k = approx.importance_resample(density, xs, sq, settings.seed)
        if k <= approx.PARETO_K_MAX:
            return weighted, k
        moved = transport(density, xs, centre, np.linalg.inv(hessian), roi)
        if moved is not None:
            return moved, k
    xs, sq = approx._laplace(density, mode, n, settings.seed, plain)  # the plain Laplace
    return approx.importance_resample(density, xs, sq, settings.seed)


def roi_indexes(density) -> np.ndarray | None:
    """Flat indexes of the channels' log ROI (None when the model has no such coordinate)."""
    at = slices(density)
    return at[ROI_VALUE].ravel() if ROI_VALUE in at else None
