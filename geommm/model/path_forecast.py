"""Effectiveness paths beyond the fitted weeks: the Gaussian process given the fitted path.

Inside the panel a varying channel's log multiplier is the Hilbert-space path of
``time_path.py``. That basis cannot speak for weeks after the panel (its functions
are pinned to zero at the boundary, and clipping holds the last week for ever), so a
week after the panel (a carryover tail, a prediction, a scenario, a designed test) or
before it takes, per posterior draw, a draw of the exponentiated-quadratic process of
that draw's lengthscale and amplitude, conditional on the path's values in the
``CONDITION_WEEKS`` fitted weeks nearest that end.

The kernel is the *centred* one: the path is ``f - mean(f over the fitted weeks)``,
so its covariance is ``k(a, b) - c(a) - c(b) + v`` with ``c`` the covariance of a
week with the panel's mean and ``v`` the mean's variance. Near the panel the draw
continues the path's level and slope; far from it the path returns to the panel's
typical effectiveness (multiplier 1) with the spread of the prior's process, so
intervals widen with the horizon. Geo deviations (``varying='geo'``) are extended
the same way with their own amplitude and stay zero-sum over geos.

Each draw's random numbers come from a generator seeded by that draw's own path
coefficients, in week order from the panel's edge: the same draw gets the same future
whichever chunk of draws it is in, and a longer horizon only appends weeks.
"""

from __future__ import annotations

import zlib

import numpy as np

from geommm.model.time_path import PathLayout

#: Fitted weeks (nearest the panel's end) the extension conditions on.
CONDITION_WEEKS = 52
#: Relative variance added to the kernels' diagonals (the fitted path is an approximation
#: of the process, and the kernel matrices of nearby weeks are nearly singular).
JITTER = 1e-6
#: Paths (draw x channel) whose kernel matrices are built at once.
CHUNK = 64


def _lag_table(ls: np.ndarray, max_lag: int) -> np.ndarray:
    """(N, max_lag + 1) exponentiated-quadratic kernel of unit amplitude at lags 0, 1, ...
    weeks, one row per lengthscale (every week index here is an integer)."""
    lags = np.arange(max_lag + 1, dtype="float64")
    return np.exp(-0.5 * (lags[None, :] / ls[:, None]) ** 2)


def _mean_cov(a: np.ndarray, cum: np.ndarray, n_train: int) -> np.ndarray:
    """(N, P) covariance of ``f(a)`` with the mean of ``f`` over the fitted weeks, from the
    cumulative lag table ``cum[:, n]`` = sum of the kernel at lags ``0 .. n - 1``."""
    a = a.astype("int64")
    inside = np.clip(a, 0, n_train - 1)
    after = cum[:, np.maximum(a, 0) + 1] - cum[:, np.clip(a - n_train + 1, 0, None)]
    before = cum[:, np.maximum(-a, 0) + n_train] - cum[:, np.maximum(-a, 0)]
    within = cum[:, inside + 1] + cum[:, n_train - inside] - 1.0
    total = np.where(a >= n_train, after, np.where(a < 0, before, within))
    return total / n_train


def centred_kernel(a: np.ndarray, b: np.ndarray, ls: np.ndarray, n_train: int) -> np.ndarray:
    """(N, P, Q) covariance of ``f(a) - fbar`` and ``f(b) - fbar`` (fbar the mean of ``f``
    over weeks ``0 .. n_train - 1``), unit amplitude, at integer weeks ``a`` and ``b``."""
    a, b = np.asarray(a).astype("int64"), np.asarray(b).astype("int64")
    reach = int(max(np.abs(a).max(), np.abs(b).max(), np.abs(a - n_train).max(), np.abs(b - n_train).max()))
    table = _lag_table(ls, reach + n_train + 1)
    cum = np.concatenate([np.zeros((len(ls), 1)), np.cumsum(table, axis=1)], axis=1)
    lags = np.arange(n_train, dtype="float64")
    counts = 2.0 * (n_train - lags)
    counts[0] = n_train
    v = (table[:, :n_train] * counts).sum(axis=-1) / n_train**2
    ca, cb = _mean_cov(a, cum, n_train), _mean_cov(b, cum, n_train)
    return table[:, np.abs(a[:, None] - b[None, :])] - ca[:, :, None] - cb[:, None, :] + v[:, None, None]


def _cholesky(m: np.ndarray) -> np.ndarray:
    """Batched Cholesky factor, with more jitter when rounding leaves a matrix indefinite."""
    eye = np.eye(m.shape[-1])
    for jitter in (JITTER, 1e-4, 1e-2):
        try:
            return np.linalg.cholesky(m + jitter * eye)
        except np.linalg.LinAlgError:
            continue
    raise np.linalg.LinAlgError("the extension's covariance is not positive definite")


def conditional(cond: np.ndarray, target: np.ndarray, ls: np.ndarray, n_train: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``W`` (N, H, K) and factor ``F`` (N, H, H): the path at ``target`` weeks given
    its values ``y`` at ``cond`` weeks is ``W y + amplitude F z``, ``z`` standard normal."""
    kcc = centred_kernel(cond, cond, ls, n_train)
    kct = centred_kernel(cond, target, ls, n_train)
    ktt = centred_kernel(target, target, ls, n_train)
    low = _cholesky(kcc)
    a = np.linalg.solve(low, kct)  # (N, K, H): L^-1 Kct
    weights = np.linalg.solve(np.swapaxes(low, -1, -2), a)  # Kcc^-1 Kct
    at = np.ascontiguousarray(np.swapaxes(a, -1, -2))  # contiguous: batched BLAS, not a slow loop
    cov = ktt - at @ np.ascontiguousarray(a)
    return np.swapaxes(weights, -1, -2), _cholesky(0.5 * (cov + np.swapaxes(cov, -1, -2)))


def _normals(coef: np.ndarray, key: int, shape: tuple[int, ...]) -> np.ndarray:
    """(D, H, *shape) standard normals, each draw's from a generator seeded by its coefficients."""
    out = np.empty((coef.shape[0], *shape))
    for d in range(coef.shape[0]):
        seed = zlib.crc32(np.ascontiguousarray(coef[d]).tobytes())
        out[d] = np.random.default_rng([seed, key]).standard_normal(shape)
    return out


def _extend(values: np.ndarray, ls: np.ndarray, amp: np.ndarray, z: np.ndarray, cond: np.ndarray,
            target: np.ndarray, n_train: int) -> np.ndarray:
    """Conditional draws (D, H, C) of paths with values (D, K, C) at ``cond`` (or
    (D, G, K, C): geo paths sharing their channel's lengthscale); ``z`` like the output."""
    D, C = ls.shape
    flat_ls = ls.reshape(-1)
    out = np.empty(z.shape)
    for lo in range(0, D * C, CHUNK):
        part = np.arange(lo, min(lo + CHUNK, D * C))
        w, f = conditional(cond, target, flat_ls[part], n_train)  # (n, H, K), (n, H, H)
        d, c = np.divmod(part, C)
        y = values[d, ..., c]  # (n, K) or (n, G, K)
        zz = z[d, ..., c]
        a = amp[d, c]
        if values.ndim == 3:
            out[d, :, c] = np.einsum("nhk,nk->nh", w, y) + a[:, None] * np.einsum("nhj,nj->nh", f, zz)
        else:
            out[d, ..., c] = np.einsum("nhk,ngk->ngh", w, y) + a[:, None, None] * np.einsum("nhj,ngj->ngh", f, zz)
    return out


def log_multiplier_at(params, layout: PathLayout, weeks: np.ndarray) -> np.ndarray:
    """Log effectiveness multiplier (D, G or 1, len(weeks), C) at integer week indices
    (0 = the first fitted week): the fitted path inside the panel, the conditional
    process outside it. 0 for static channels."""
    weeks = np.asarray(weeks, dtype="int64")
    T = layout.basis.shape[0]
    coef = params["effect_path_coef"]  # (D, m, Cv)
    D = coef.shape[0]
    nat = layout.basis @ coef  # (D, T, Cv)
    geo = None
    if layout.geo and "effect_path_geo_coef" in params:
        geo = layout.basis @ params["effect_path_geo_coef"]  # (D, G, T, Cg)
    nat_out = nat[:, np.clip(weeks, 0, T - 1), :]
    geo_out = None if geo is None else geo[:, :, np.clip(weeks, 0, T - 1), :]
    K = min(CONDITION_WEEKS, T)
    for key, outside in ((0, weeks >= T), (1, weeks < 0)):
        if not outside.any():
            continue
        far = int(weeks[outside].max() - (T - 1)) if key == 0 else int(-weeks[outside].min())
        step = np.arange(1, far + 1)
        target = (T - 1 + step if key == 0 else -step).astype("float64")  # outward from the edge
        cond_idx = np.arange(T - K, T) if key == 0 else np.arange(K)
        cond = cond_idx.astype("float64")
        pick = (weeks[outside] - T if key == 0 else -weeks[outside] - 1)
        ls = params["effect_path_lengthscale"]
        z = _normals(coef, key, (far, nat.shape[-1]))
        ext = _extend(nat[:, cond_idx, :], ls, params["effect_path_amplitude"], z, cond, target, T)
        nat_out[:, outside, :] = ext[:, pick, :]
        if geo is not None:
            pos = [layout.varying.index(i) for i in layout.geo]
            zg = np.moveaxis(_normals(coef, key + 2, (far, geo.shape[1], geo.shape[-1])), 1, 2)  # (D, G, H, Cg)
            ext_g = _extend(geo[:, :, cond_idx, :], ls[:, pos], params["effect_path_geo_amplitude"], zg,
                            cond, target, T)
            ext_g = ext_g - ext_g.mean(axis=1, keepdims=True)  # the deviations stay zero-sum over geos
            geo_out[:, :, outside, :] = ext_g[:, :, pick, :]
    out = (nat_out @ layout.selection(layout.varying))[:, None, :, :]
    if geo_out is not None:
        out = out + geo_out @ layout.selection(layout.geo)
    assert out.shape[0] == D
    return out
