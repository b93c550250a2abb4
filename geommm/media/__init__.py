"""The media transform, one home: adstock and saturation kinds, their registry, and the
vectorised transform shared by the model graph, the analysis and the lift tests."""

from geommm.media.backend import LOG_FLOOR, apply_adstock, carry_over, lag_stack
from geommm.media.base import Adstock, PriorSpec, Saturation
from geommm.media.registry import (
    ADSTOCK_KINDS,
    ADSTOCKS,
    SATURATION_KINDS,
    SATURATIONS,
    adstock_kind,
    channel_parameter_priors,
    saturation_kind,
)
from geommm.media.transform import MediaTransform

__all__ = [
    "ADSTOCKS", "ADSTOCK_KINDS", "Adstock", "LOG_FLOOR", "MediaTransform", "PriorSpec",
    "SATURATIONS", "SATURATION_KINDS", "Saturation", "adstock_kind", "apply_adstock", "carry_over",
    "channel_parameter_priors", "lag_stack", "saturation_kind",
]
