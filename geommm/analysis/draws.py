"""Posterior draws as plain numpy arrays, and the one way geommm summarises them.

Analysis works on flattened draws ``(D, ...)``; thinning to a fixed number of
draws keeps every table fast and memory-bounded on big panels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import numpy as np

from geommm.analysis import convergence
from geommm.errors import ArgumentError
from geommm.media import channel_parameter_priors
from geommm.media.frequency import RF_PARAMETERS
from geommm.model.nonmedia import NONMEDIA_PARAMETERS

MODEL_PARAMETERS = (
    "baseline_geo",
    "season_geo",
    "trend_geo",
    "control_geo",
    "retention",
    "half_saturation",
    *channel_parameter_priors(),  # slope, peak_lag, ... of every registered media kind
    *RF_PARAMETERS,  # reach & frequency channels' frequency curve
    "media_effect",
    "noise_sd",
    "roi",
    "student_t_nu",
    "smooth_coef",  # smooth(time) baseline
    "smooth_geo_coef",
    "smooth_lengthscale",  # its process, for weeks beyond the fitted ones (model/path_forecast.py)
    "smooth_amplitude",
    "smooth_geo_amplitude",
    "effect_path_coef",  # time-varying channels (model/time_path.py)
    "effect_path_geo_coef",
    "effect_path_lengthscale",  # the path's process, for weeks beyond the panel (model/path_forecast.py)
    "effect_path_amplitude",
    "effect_path_geo_amplitude",
    "effect_shift",  # a refresh's step change (model/window.py, model/terms/effect_shift.py)
    *NONMEDIA_PARAMETERS,  # organic(...) and treatment(...) terms (model/nonmedia.py)
    "synergy",  # synergy(a, b): national and geo coefficients (model/synergy.py)
    "synergy_effect",
)


def posterior_draws(
    idata, names: Iterable[str] = MODEL_PARAMETERS, max_draws: int | None = 1000, group="posterior"
) -> dict[str, np.ndarray]:
    """Stack chains and draws into one leading axis; evenly thin to ``max_draws``.
    ``idata``: InferenceData or a Fit (its posterior is read without filling other groups)."""
    post = getattr(idata, group)
    out = {}
    for name in names:
        if name not in post:
            continue
        arr = post[name].values  # (chain, draw, ...)
        arr = arr.reshape(-1, *arr.shape[2:])
        out[name] = arr
    n = next(iter(out.values())).shape[0] if out else 0
    if max_draws is not None and n > max_draws:
        idx = np.linspace(0, n - 1, max_draws).round().astype(int)
        out = {k: v[idx] for k, v in out.items()}
    return out


def summarise(samples: np.ndarray, hdi_prob: float = 0.9) -> dict[str, np.ndarray]:
    """Mean, median and HDI (arviz) over the leading draw axis of ``samples``."""
    samples = np.asarray(samples, dtype="float64")
    flat = samples.reshape(samples.shape[0], -1)
    if samples.shape[0] > 1:
        # arviz's shortest-interval HDI, all columns at once (az.hdi loops in Python)
        ordered = np.sort(flat.T, axis=1)
        hdi = np.stack(convergence.hdi_of_sorted(ordered, hdi_prob), axis=-1)  # (n, 2)
        median = _median_of_sorted(ordered, flat)
    else:
        hdi = np.stack([flat[0], flat[0]], axis=-1)
        median = np.median(flat, axis=0)
    shape = samples.shape[1:]
    return {
        "mean": flat.mean(axis=0).reshape(shape),
        "median": median.reshape(shape),
        "hdi_low": hdi[:, 0].reshape(shape),
        "hdi_high": hdi[:, 1].reshape(shape),
    }


def _median_of_sorted(ordered: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """``np.median(flat, axis=0)`` bit for bit, from the columns already sorted for the HDI
    (``ordered``: (P, D), rows ascending): the middle value, or the mean of the two middle
    values as numpy computes it, NaN where a column holds a NaN. Columns with a zero in
    the middle go through np.median itself (which of 0.0 and -0.0 its partition keeps is
    its own). Saves a partition of every column: ~70% of a summary's time."""
    n = ordered.shape[1]
    middle = ordered[:, n // 2]
    if n % 2:
        median = middle / 1.0
        zero = middle == 0
    else:
        below = ordered[:, n // 2 - 1]
        median = (below + middle) / 2.0
        zero = (below == 0) | (middle == 0)
    median[np.isnan(ordered[:, -1])] = np.nan  # NaN sorts last
    if zero.any():
        median[zero] = np.median(flat[:, zero], axis=0)
    return median


#: Default budget of one chunk's (draws, geo, time, channel) float64 array: 256 MB. The
#: arithmetic around it holds two or three such temporaries, so a chunk peaks near 1 GB.
CHUNK_BYTES = 256 * 2**20
#: The same budget in numbers (kept for callers that count cells).
CHUNK_CELLS = CHUNK_BYTES // 8

_settings: dict[str, int | None] = {"chunk_draws": None}


def set_chunk_draws(chunk_draws: int | None) -> int | None:
    """Set how many posterior draws the analysis processes at once; return the old value.

    ``None`` (the default) picks the largest chunk whose (draws, geo, time, channel)
    array stays under :data:`CHUNK_BYTES`. A small number trades speed for memory;
    results are the same to float rounding (tests hold every table to 1e-10 relative).
    """
    if chunk_draws is not None and (isinstance(chunk_draws, bool) or int(chunk_draws) < 1):
        raise ArgumentError(f"chunk_draws must be a whole number >= 1 or None, got {chunk_draws!r}")
    old = _settings["chunk_draws"]
    _settings["chunk_draws"] = None if chunk_draws is None else int(chunk_draws)
    return old


@contextmanager
def chunking(chunk_draws: int | None) -> Iterator[None]:
    """``with chunking(50): ...`` analyses 50 draws at a time inside the block."""
    old = set_chunk_draws(chunk_draws)
    try:
        yield
    finally:
        _settings["chunk_draws"] = old


def chunk_size(cells_per_draw: int) -> int:
    """Draws per chunk: the ``chunk_draws`` setting, else what fits :data:`CHUNK_BYTES`."""
    if _settings["chunk_draws"] is not None:
        return _settings["chunk_draws"]
    return max(1, CHUNK_CELLS // max(int(cells_per_draw), 1))


def thin_draws(draws: Mapping[str, np.ndarray], max_draws: int | None) -> dict[str, np.ndarray]:
    """Evenly spaced subset of at most ``max_draws`` draws (all of them when None)."""
    n = next(iter(draws.values())).shape[0]
    if max_draws is None or n <= max_draws:
        return dict(draws)
    idx = np.linspace(0, n - 1, max_draws).round().astype(int)
    return {k: v[idx] for k, v in draws.items()}


def draw_slices(n_draws: int, cells_per_draw: int) -> list[slice]:
    """Consecutive slices of ``range(n_draws)``, each small enough for memory."""
    size = chunk_size(cells_per_draw)
    return [slice(start, min(start + size, n_draws)) for start in range(0, n_draws, size)]


def draw_chunks(draws: Mapping[str, np.ndarray], cells_per_draw: int) -> Iterator[dict[str, np.ndarray]]:
    """Slices of the draws small enough that ``draws x cells_per_draw`` fits in memory."""
    n = next(iter(draws.values())).shape[0]
    for part in draw_slices(n, cells_per_draw):
        yield {k: v[part] for k, v in draws.items()}
