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

from geommm.model.time_path import PathLayout, basis_at

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


def continue_paths(fitted: np.ndarray, ls: np.ndarray, amp: np.ndarray, weeks: np.ndarray,
                   seed_from: np.ndarray, key: int, zero_sum: bool = False) -> np.ndarray:
    """Paths (D, T, C) or (D, G, T, C) known at the fitted weeks ``0 .. T - 1``, at integer
    ``weeks``: the fitted values inside, conditional draws outside (lengthscale and
    amplitude (D, C) per draw; geo paths share their channel's lengthscale). ``seed_from``
    (D, ...) seeds each draw's generator, ``key`` tells the paths of one draw apart;
    ``zero_sum`` keeps geo deviations summing to zero over geos."""
    weeks = np.asarray(weeks, dtype="int64")
    T = fitted.shape[-2]
    out = np.take(fitted, np.clip(weeks, 0, T - 1), axis=-2)
    K = min(CONDITION_WEEKS, T)
    for side, outside in ((0, weeks >= T), (1, weeks < 0)):
        if not outside.any():
            continue
        far = int(weeks[outside].max() - (T - 1)) if side == 0 else int(-weeks[outside].min())
        step = np.arange(1, far + 1)
        target = (T - 1 + step if side == 0 else -step).astype("float64")  # outward from the edge
        cond_idx = np.arange(T - K, T) if side == 0 else np.arange(K)
        pick = weeks[outside] - T if side == 0 else -weeks[outside] - 1
        z = _normals(seed_from, 2 * key + side, (far, *fitted.shape[1:-2], fitted.shape[-1]))
        if fitted.ndim == 4:
            z = np.moveaxis(z, 1, 2)  # (D, G, H, C)
        ext = _extend(np.take(fitted, cond_idx, axis=-2), ls, amp, z, cond_idx.astype("float64"), target, T)
        if zero_sum:
            ext = ext - ext.mean(axis=1, keepdims=True)
        out[..., outside, :] = np.take(ext, pick, axis=-2)
    return out


def log_multiplier_at(params, layout: PathLayout, weeks: np.ndarray) -> np.ndarray:
    """Log effectiveness multiplier (D, G or 1, len(weeks), C) at integer week indices
    (0 = the first fitted week): the fitted path inside the panel, the conditional
    process outside it. 0 for static channels."""
    coef = params["effect_path_coef"]  # (D, m, Cv)
    ls = params["effect_path_lengthscale"]
    nat = continue_paths(layout.basis @ coef, ls, params["effect_path_amplitude"], weeks, coef, 0)
    out = (nat @ layout.selection(layout.varying))[:, None, :, :]
    if layout.geo and "effect_path_geo_coef" in params:
        pos = [layout.varying.index(i) for i in layout.geo]
        geo = continue_paths(layout.basis @ params["effect_path_geo_coef"], ls[:, pos],
                             params["effect_path_geo_amplitude"], weeks, coef, 1, zero_sum=True)
        out = out + geo @ layout.selection(layout.geo)
    return out


def smooth_at(params, n_train: int, n_basis: int, weeks: np.ndarray) -> np.ndarray:
    """The ``smooth(time)`` baseline (D, G or 1, len(weeks)) in scaled KPI units at integer
    weeks (0 = the first fitted week), continued outside the fitted weeks like the
    effectiveness path (its own lengthscale and amplitudes)."""
    basis = basis_at(np.arange(n_train, dtype="float64"), n_train, n_basis)[0]  # (T, m)
    coef = params["smooth_coef"]  # (D, m)
    ls, amp = params["smooth_lengthscale"].reshape(-1, 1), params["smooth_amplitude"].reshape(-1, 1)
    out = continue_paths((coef @ basis.T)[:, :, None], ls, amp, weeks, coef, 2)[:, None, :, 0]
    if "smooth_geo_coef" in params:
        geo = (params["smooth_geo_coef"] @ basis.T)[..., None]  # (D, G, T, 1)
        geo_amp = params["smooth_geo_amplitude"].reshape(-1, 1)
        out = out + continue_paths(geo, ls, geo_amp, weeks, coef, 3, zero_sum=True)[..., 0]
    return out
