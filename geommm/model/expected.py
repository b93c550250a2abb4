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
from geommm.media.backend import xp_of
from geommm.model import nonmedia


def media_transform(spec, data) -> MediaTransform:
    """The model's media transform: every channel's adstock and saturation kind."""
    transform = MediaTransform.for_terms(spec.media, data.max_lag, data.lag_mask)
    transform.frequency = getattr(data, "reach_frequency", None)  # R&F channels (media/frequency.py)
    return transform


def baseline_components(params: Mapping[str, Any], data) -> dict[str, Any]:
    """Non-media parts of the expected scaled KPI, each ``(..., G, T)`` (or broadcastable)."""
    out: dict[str, Any] = {"baseline": params["baseline_geo"][..., :, None]}
    if data.fourier.shape[1]:
        coef = params["season_geo"][..., :, None, :]
        out["seasonality"] = (coef * data.fourier).sum(axis=-1)
    if "smooth_coef" in params:  # smooth(time): national path plus the geo's deviation
        out["smooth"] = smooth_baseline(params, data)
    if "trend_geo" in params:
        out["trend"] = params["trend_geo"][..., :, None] * data.trend
    if data.controls.shape[-1]:
        coef = params["control_geo"][..., :, None, :]
        out["controls"] = (coef * data.controls).sum(axis=-1)
    out.update(nonmedia.components(params, data))  # organic(...) and treatment(...), by name
    return out


def smooth_baseline(params: Mapping[str, Any], data) -> Any:
    """The smooth(time) baseline ``(..., G or 1, T)``: basis times coefficients."""
    xp = xp_of(params["smooth_coef"])
    basis_t = data.smooth_basis.T  # (m, T)
    path = xp.matmul(params["smooth_coef"][..., None, :], basis_t)  # (..., 1, T)
    if "smooth_geo_coef" in params:
        path = path + xp.matmul(params["smooth_geo_coef"], basis_t)  # (..., G, T)
    return path


def control_contributions(params: Mapping[str, Any], data) -> dict[str, Any]:
    """Per control term (formula term, all its columns together) ``(..., G, T)``."""
    out: dict[str, Any] = {}
    coef = params["control_geo"]
    for group in dict.fromkeys(data.control_groups):
        idx = [i for i, g in enumerate(data.control_groups) if g == group]
        out[group] = (coef[..., :, None, idx] * data.controls[..., idx]).sum(axis=-1)
    return out
