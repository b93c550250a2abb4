"""Posterior draws as plain numpy arrays, and the one way geommm summarises them.

Analysis works on flattened draws ``(D, ...)``; thinning to a fixed number of
draws keeps every table fast and memory-bounded on big panels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from geommm.analysis import convergence
from geommm.media import channel_parameter_priors

MODEL_PARAMETERS = (
    "baseline_geo",
    "season_geo",
    "trend_geo",
    "control_geo",
    "retention",
    "half_saturation",
    *channel_parameter_priors(),  # slope, peak_lag, ... of every registered media kind
    "media_effect",
    "noise_sd",
    "roi",
    "student_t_nu",
    "smooth_coef",  # smooth(time) baseline
    "smooth_geo_coef",
    "effect_path_coef",  # time-varying channels (model/time_path.py)
    "effect_path_geo_coef",
    "effect_shift",  # a sequential refresh's step change (workflows/refresh.py)
)


def posterior_draws(
    idata, names: Iterable[str] = MODEL_PARAMETERS, max_draws: int | None = 1000, group="posterior"
) -> dict[str, np.ndarray]:
    """Stack chains and draws into one leading axis; evenly thin to ``max_draws``."""
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
        hdi = np.stack(convergence.hdi(flat.T, hdi_prob), axis=-1)  # (n, 2)
    else:
        hdi = np.stack([flat[0], flat[0]], axis=-1)
    shape = samples.shape[1:]
    return {
        "mean": flat.mean(axis=0).reshape(shape),
        "median": np.median(flat, axis=0).reshape(shape),
        "hdi_low": hdi[:, 0].reshape(shape),
        "hdi_high": hdi[:, 1].reshape(shape),
    }


#: Keep per-chunk arrays of draws x geos x weeks x channels below this many numbers.
CHUNK_CELLS = 4_000_000


def thin_draws(draws: Mapping[str, np.ndarray], max_draws: int | None) -> dict[str, np.ndarray]:
    """Evenly spaced subset of at most ``max_draws`` draws (all of them when None)."""
    n = next(iter(draws.values())).shape[0]
    if max_draws is None or n <= max_draws:
        return dict(draws)
    idx = np.linspace(0, n - 1, max_draws).round().astype(int)
    return {k: v[idx] for k, v in draws.items()}


def draw_chunks(draws: Mapping[str, np.ndarray], cells_per_draw: int) -> Iterator[dict[str, np.ndarray]]:
    """Slices of the draws small enough that ``draws x cells_per_draw`` fits in memory."""
    n = next(iter(draws.values())).shape[0]
    size = max(1, CHUNK_CELLS // max(cells_per_draw, 1))
    for start in range(0, n, size):
        yield {k: v[start : start + size] for k, v in draws.items()}
