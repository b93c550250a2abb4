"""Name -> kind, for adstock and saturation: the one list the whole package asks.

The formula checks names against it, the priors take each kind's channel
parameters from it, and the model graph, the analysis and the lift tests look
their curves up here. A new kind is one class plus one line below.
"""

from __future__ import annotations

from geommm.media.adstock import Delayed, Geometric, Weibull
from geommm.media.base import Adstock, PriorSpec, Saturation
from geommm.media.frequency import RF_SATURATION, ReachTimesFrequency
from geommm.media.saturation import Hill, Logistic, MichaelisMenten, Power

ADSTOCK_KINDS: dict[str, Adstock] = {k.name: k() for k in (Geometric, Delayed, Weibull)}
SATURATION_KINDS: dict[str, Saturation] = {k.name: k() for k in (Hill, Logistic, MichaelisMenten, Power)}

#: Reach & frequency channels' own kind: set by media(reach=, frequency=), not a user choice.
_RF_KIND = ReachTimesFrequency()
#: Registered names, in registration order (kept as tuples for messages and argparse).
ADSTOCKS: tuple[str, ...] = tuple(ADSTOCK_KINDS)
SATURATIONS: tuple[str, ...] = tuple(SATURATION_KINDS)


def adstock_kind(name: str) -> Adstock:
    """The adstock registered as ``name`` (ValueError naming the choices otherwise)."""
    try:
        return ADSTOCK_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown adstock {name!r}; choose one of {ADSTOCKS}") from None


def saturation_kind(name: str) -> Saturation:
    """The saturation registered as ``name`` (ValueError naming the choices otherwise)."""
    try:
        return _RF_KIND if name == RF_SATURATION else SATURATION_KINDS[name]  # R&F: frequency.py
    except KeyError:
        raise ValueError(f"unknown saturation {name!r}; choose one of {SATURATIONS}") from None


def channel_parameter_priors() -> dict[str, PriorSpec]:
    """Every per-channel parameter any registered kind adds, with its default prior."""
    out: dict[str, PriorSpec] = {}
    for kind in (*ADSTOCK_KINDS.values(), *SATURATION_KINDS.values()):
        out.update(kind.channel_parameters)
    return out
