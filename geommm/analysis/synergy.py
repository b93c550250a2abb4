"""Synergies in the results: marginal ROI under ``synergy()`` and the synergy table.

What the numbers mean (``docs/synergy.md``):

- contributions and ROI: each channel carries its own effect plus half of every
  interaction it is in (Shapley halves, ``model/synergy.py``), so contributions and
  ROI x spend add up to the media total. Switching tv off alone would lose its own
  effect and the *whole* interaction; with search already off it would lose its own
  effect only; the Shapley share is the average of the two.
- marginal ROI: the change of the *total* KPI when only that channel's spend rises by
  ``step``, per unit of the extra spend: its own marginal effect plus the whole
  interaction's change. That is the number the optimiser equalises across channels.
- :func:`synergy_table`: each pair's national coefficient and its KPI over the panel.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from geommm.analysis.draws import summarise
from geommm.analysis.forward import ForwardModel
from geommm.model.synergy import pair_indices


def marginal_kpi(forward: ForwardModel, step: float, base: np.ndarray) -> np.ndarray:
    """(D, G, C): total KPI change when channel ``c`` alone gets ``1 + step`` x its media
    (carryover tail in); ``base`` is the (D, G, C) incremental KPI at the observed media."""
    data = forward.data
    out = np.empty_like(base)
    for c in range(data.n_channels):
        factor = np.ones(data.n_channels)
        factor[c] = 1.0 + step
        up = forward.media_kpi(data.media_input * factor, carryover_weeks=data.max_lag - 1)
        out[..., c] = up.sum(axis=-1) - base.sum(axis=-1)
    return out


def synergy_table(forward: ForwardModel, hdi_prob: float = 0.9) -> pl.DataFrame:
    """One row per ``synergy(a, b)`` pair: the national coefficient (``synergy``; > 0
    the channels help each other), the probability it is positive, and the
    interaction's KPI over the panel weeks with the share each channel carries."""
    spec, data, draws = forward.spec, forward.data, forward.draws
    if not spec.synergy:
        return pl.DataFrame(schema={"pair": pl.String})
    firsts, seconds = pair_indices(spec, data.channels)
    kpi = forward.map_chunks(lambda fw: _interaction_kpi(fw, firsts, seconds), forward.cells_per_draw())
    coef = draws["synergy"] if "synergy" in draws else draws["synergy_effect"].mean(axis=1)
    rows = []
    for p, term in enumerate(spec.synergy):
        c, k = summarise(coef[:, p], hdi_prob), summarise(kpi[:, p], hdi_prob)
        rows.append({
            "pair": term.label, "first": term.first, "second": term.second,
            "coefficient_mean": float(c["mean"]), "coefficient_hdi_low": float(c["hdi_low"]),
            "coefficient_hdi_high": float(c["hdi_high"]),
            "prob_positive": float((coef[:, p] > 0).mean()),
            "kpi_mean": float(k["mean"]), "kpi_hdi_low": float(k["hdi_low"]), "kpi_hdi_high": float(k["hdi_high"]),
            "split": "half to each channel (Shapley)",
        })
    return pl.DataFrame(rows)


def _interaction_kpi(forward: ForwardModel, firsts, seconds) -> np.ndarray:
    """(D, P) each pair's KPI summed over geos and panel weeks."""
    from geommm.media import lag_stack
    from geommm.model.synergy import interaction

    data = forward.data
    scaled = data.media_input / data.media_scale[:, None, :]
    sat = forward.transform(lag_stack(scaled, data.max_lag, time_axis=-2), forward.draws)
    inter = interaction(forward.draws["synergy_effect"], sat, firsts, seconds)  # (D, G, T, P)
    return (data.kpi_scale[None, :, None, None] * inter).sum(axis=(1, 2))
