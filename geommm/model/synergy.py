"""The synergy of two channels, written once for PyMC tensors and numpy posterior draws.

``synergy(a, b)`` adds to the expected scaled KPI of geo ``g`` in week ``t``::

    gamma_gp * s_gta * s_gtb

where ``s`` is the channel's saturated adstocked media (the media transform's
output, in [0, 1)) and ``gamma_gp`` the pair's geo coefficient, partially pooled to
a national one: ``gamma_gp = gamma_p + sd_p * z_gp``. The prior of ``gamma_p``
(``synergy``) is a Normal centred at 0, so the data say whether the channels help
(> 0) or cannibalise (< 0) each other; its default and that of ``synergy_geo_sd``
are in ``priors.py`` and are overridden by these names in ``priors=``. ``gamma`` is in units of the geo's mean KPI
per week with both channels fully saturated.

Attribution (``shapley_shares``): the interaction's KPI is split in halves between
the two channels, the Shapley value of a two-player game: half of it is what the
channel adds when it comes on first, plus half of what it adds when it comes on
second. Each channel's contribution, ROI and the media total stay additive.
"""

from __future__ import annotations

from typing import Any

import numpy as np

def pair_indices(spec, channels) -> tuple[list[int], list[int]]:
    """Channel indices ``(firsts, seconds)`` of the formula's synergy pairs."""
    channels = list(channels)
    return [channels.index(s.first) for s in spec.synergy], [channels.index(s.second) for s in spec.synergy]


def pair_labels(spec) -> list[str]:
    return [s.label for s in spec.synergy]


def interaction(effect: Any, saturated: Any, firsts: list[int], seconds: list[int]) -> Any:
    """``(..., G, T, P)`` interaction per pair in scaled KPI units, from the pairs' geo
    coefficients ``effect`` ``(..., G, P)`` and saturated media ``(..., G, T, C)``."""
    return effect[..., :, None, :] * saturated[..., firsts] * saturated[..., seconds]


def shapley_shares(effect: np.ndarray, saturated: np.ndarray, firsts: list[int], seconds: list[int],
                   kpi_scale: np.ndarray) -> np.ndarray:
    """``(..., G, T, C)`` each channel's half of every interaction it is in, KPI units."""
    half = 0.5 * kpi_scale[:, None, None] * interaction(effect, saturated, firsts, seconds)
    out = np.zeros(saturated.shape[:-1] + (saturated.shape[-1],))
    for p, (a, b) in enumerate(zip(firsts, seconds)):
        out[..., a] += half[..., p]
        out[..., b] += half[..., p]
    return out


def synergy_shares(spec, data, draws: dict, saturated: np.ndarray) -> np.ndarray | None:
    """``(D, G, T, C)`` every channel's Shapley half of its synergies (KPI units) from
    posterior ``draws`` and saturated media ``(D or 1, G, T, C)``; None without synergy."""
    if not spec.synergy:
        return None
    firsts, seconds = pair_indices(spec, data.channels)
    return shapley_shares(draws["synergy_effect"], saturated, firsts, seconds, data.kpi_scale)


def synergy_pairs(spec, channels) -> tuple[list[int], list[int]] | None:
    """``pair_indices`` for the lift cells' parameters; None without synergy."""
    return pair_indices(spec, channels) if spec.synergy else None


def synergy_lift(cells, transform, params, adstocked, delta_sat, kpi_scale) -> Any:
    """(..., K) each lift cell's change of its synergies: the tested channel's response
    change ``delta_sat`` times the partner's observed response and the geo coefficient
    (the partner runs as observed during the test). Tensors or numpy draws alike."""
    g, t, c = cells.geo_idx, cells.time_idx, cells.channel_idx
    saturated = transform.saturate(adstocked, params)
    out = 0.0
    for p, (a, b) in enumerate(zip(*params["synergy_pairs"])):
        partner = (c == a) * saturated[..., g, t, b] + (c == b) * saturated[..., g, t, a]
        out = out + params["synergy_effect"][..., g, p] * partner
    return kpi_scale[g] * delta_sat * out
