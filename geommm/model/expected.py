"""The model's expected KPI, written once for PyMC tensors and numpy posterior draws.

Media go through :class:`geommm.media.MediaTransform`; this module adds the rest.

Parameters may carry leading batch axes (posterior draws) in numpy; in the PyMC
graph they have none. Shapes: per-geo ``(..., G)``, per-cell ``(..., G, C)``,
per-channel ``(..., C)``. Everything is in scaled units (KPI / kpi_scale).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geommm.media import MediaTransform


def media_transform(spec, data) -> MediaTransform:
    """The model's media transform: every channel's adstock and saturation kind."""
    return MediaTransform.for_terms(spec.media, data.max_lag, data.lag_mask)


def baseline_components(params: Mapping[str, Any], data) -> dict[str, Any]:
    """Non-media parts of the expected scaled KPI, each ``(..., G, T)`` (or broadcastable)."""
    out: dict[str, Any] = {"baseline": params["baseline_geo"][..., :, None]}
    if data.fourier.shape[1]:
        coef = params["season_geo"][..., :, None, :]
        out["seasonality"] = (coef * data.fourier).sum(axis=-1)
    if "trend_geo" in params:
        out["trend"] = params["trend_geo"][..., :, None] * data.trend
    if data.controls.shape[-1]:
        coef = params["control_geo"][..., :, None, :]
        out["controls"] = (coef * data.controls).sum(axis=-1)
    return out


def control_contributions(params: Mapping[str, Any], data) -> dict[str, Any]:
    """Per control term (formula term, all its columns together) ``(..., G, T)``."""
    out: dict[str, Any] = {}
    coef = params["control_geo"]
    for group in dict.fromkeys(data.control_groups):
        idx = [i for i, g in enumerate(data.control_groups) if g == group]
        out[group] = (coef[..., :, None, idx] * data.controls[..., idx]).sum(axis=-1)
    return out
