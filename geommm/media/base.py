"""What every adstock and saturation kind provides, and how it states its default priors.

A kind is one small class: its curve written once for numpy and PyTensor, the
channel-level parameters it adds to the model with their default priors, and
(for saturations) the sums of the response and its derivatives under a spend
multiplier that the optimiser and the response curves need. Register a new kind
in ``registry.py`` and the formula, priors, model graph, analysis and lift tests
all pick it up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class PriorSpec:
    """A default prior as plain data (``model.priors`` turns it into a ``Prior``)."""

    dist: str
    params: dict[str, float] = field(default_factory=dict)
    note: str = ""


class Adstock:
    """Carryover: normalised weights over lags ``0..max_lag-1`` for every geo and channel.

    Every kind is driven by the geo-pooled ``retention`` in (0, 1) (one pooled
    parameter per cell, whatever the kind); ``channel_parameters`` are extra
    per-channel parameters with their default priors.
    """

    name: ClassVar[str]
    channel_parameters: ClassVar[dict[str, PriorSpec]] = {}
    #: what ``retention`` means for this kind, in words (tables and docs), and its short label
    retention_meaning: ClassVar[str] = "weekly carryover rate"
    retention_label: ClassVar[str] = "retention"

    def raw_weights(self, retention: Any, lags: Any, xp, max_lag: int, **channel: Any) -> Any:
        """Unnormalised weights; ``retention`` and ``channel`` values carry a trailing lag axis."""
        raise NotImplementedError

    def weights(self, retention: Any, max_lag: int, xp, **channel: Any) -> Any:
        """Normalised weights ``(..., G, C, L)`` from ``retention`` ``(..., G, C)`` and
        channel parameters broadcastable to it."""
        import numpy as np

        from geommm.media.backend import with_lag_axis

        lags = np.arange(max_lag, dtype="float64")
        extra = {k: with_lag_axis(v + 0 * retention) for k, v in channel.items()}
        raw = self.raw_weights(with_lag_axis(retention), lags, xp, max_lag, **extra)
        return raw / raw.sum(axis=-1, keepdims=True)


class Saturation:
    """Diminishing returns: adstocked scaled media -> a response in [0, 1).

    ``cell_parameters`` are geo-pooled per-cell parameters the curve reads
    (``half_saturation``); ``channel_parameters`` are per-channel ones with their
    default priors. ``prepare`` and ``response_sums`` serve "what if the plan were
    scaled by m": adstock is linear, so scaled media is ``m a`` and the response and
    its derivatives in ``m`` follow from one prepared array per cell.
    """

    name: ClassVar[str]
    cell_parameters: ClassVar[tuple[str, ...]] = ("half_saturation",)
    channel_parameters: ClassVar[dict[str, PriorSpec]] = {}

    def curve(self, x: Any, xp, **params: Any) -> Any:
        """Response of adstocked scaled media ``x``; parameters broadcast against ``x``."""
        raise NotImplementedError

    def prepare(self, adstocked: Any, **params: Any) -> Any:
        """Per-week numbers from which the response at any multiplier follows (numpy)."""
        raise NotImplementedError

    def response_sums(self, prepared: Any, m: Any, order: int, **params: Any) -> list[Any]:
        """Sums over the last (week) axis of the response at multiplier ``m`` and of its
        first ``order`` derivatives in ``m``: ``[sum y, sum dy/dm, sum d2y/dm2][:order+1]``.

        ``m`` broadcasts against ``prepared[..., 0]``; parameters against ``prepared``.
        """
        raise NotImplementedError
