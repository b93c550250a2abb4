"""Posterior draws as plain numpy arrays, and the one way geommm summarises them.

Analysis works on flattened draws ``(D, ...)``; thinning to a fixed number of
draws keeps every table fast and memory-bounded on big panels.
"""

from __future__ import annotations

from collections.abc import Iterable

import arviz as az
import numpy as np

MODEL_PARAMETERS = (
    "intercept_geo",
    "season_geo",
    "trend_geo",
    "control_geo",
    "retention",
    "half_saturation",
    "slope",
    "peak_lag",
    "weibull_shape",
    "media_effect",
    "noise_sd",
    "roi",
    "student_t_nu",
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
        hdi = az.hdi(flat[None, :, :], hdi_prob=hdi_prob)  # (n, 2)
        hdi = np.asarray(hdi)
    else:
        hdi = np.stack([flat[0], flat[0]], axis=-1)
    shape = samples.shape[1:]
    return {
        "mean": flat.mean(axis=0).reshape(shape),
        "median": np.median(flat, axis=0).reshape(shape),
        "hdi_low": hdi[:, 0].reshape(shape),
        "hdi_high": hdi[:, 1].reshape(shape),
    }
