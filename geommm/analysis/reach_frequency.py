"""Optimal frequency of reach & frequency channels, per geo, over posterior draws.

Question: at the reach a geo bought, which average frequency would have earned the
most per unit of spend? Cost follows impressions (the geo's cost per impression over
the panel, reach x frequency), so spend at frequency ``f`` is ``cpi_g f R_g`` (``R_g``
the geo's total reach), and the KPI, carryover tail included (normalised adstock weights
keep totals), is ``kpi_scale_g beta_g Hill(f) R_g / m_g``. Hence

    ROI_g(f) = kpi_scale_g beta_g Hill(f) / (m_g cpi_g f)

and the best frequency maximises ``Hill(f) / f``: ``K (n - 1)^(1/n)`` when the slope
``n > 1``, else the lowest frequency, 1 (an R&F channel's curve is its own, not the
geo's, as in Meridian, so every geo of a draw shares it; the geos differ in the frequency
they bought and in what moving to the best one is worth). Meridian's ``optimal_freq``
answers the same question on a frequency grid.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from geommm.analysis import roi as roi_mod
from geommm.analysis.draws import summarise
from geommm.analysis.forward import ForwardModel
from geommm.analysis.tables import OPTIMAL_FREQUENCY
from geommm.errors import ArgumentError
from geommm.media.frequency import frequency_curve


def optimal_frequency_draws(half: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Per draw and R&F channel: argmax over f >= 1 of Hill(f) / f."""
    with np.errstate(invalid="ignore", divide="ignore"):
        best = half * np.maximum(slope - 1.0, 0.0) ** (1.0 / slope)
    return np.where(slope > 1.0, np.maximum(best, 1.0), 1.0)


def roi_at_frequency(forward: ForwardModel, frequency: np.ndarray) -> np.ndarray:
    """(D, G, R) ROI of each geo's reach bought at ``frequency`` (D, R) in every week with reach."""
    data, rf = forward.data, _channels(forward)
    half, slope = forward.draws["frequency_half"], forward.draws["frequency_slope"]
    reach = data.media_input[..., rf].sum(axis=1)  # (G, R) people-weeks
    spend = data.spend[..., rf].sum(axis=1)
    impressions = (data.media_input[..., rf] * data.reach_frequency.frequency).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cpi = np.where(impressions > 0, spend / impressions, np.nan)  # (G, R)
    effect = forward.draws["media_effect"][..., rf] * data.kpi_scale[None, :, None]  # (D, G, R)
    multiplier = forward.planning_multiplier("latest")
    if multiplier is not None:
        effect = effect * multiplier[..., rf]
    curve = frequency_curve(frequency[:, None, :], np, half[:, None, :], slope[:, None, :])
    scaled_reach = reach / data.media_scale[:, rf]
    with np.errstate(divide="ignore", invalid="ignore"):
        return effect * curve * scaled_reach / (cpi * frequency[:, None, :] * reach)


def optimal_frequency_table(forward: ForwardModel, hdi_prob: float = 0.9) -> pl.DataFrame:
    """One row per geo x R&F channel with reach: the frequency bought, the optimal one and
    the ROI at each (columns ``tables.OPTIMAL_FREQUENCY``)."""
    data, rf = forward.data, _channels(forward)
    best = optimal_frequency_draws(forward.draws["frequency_half"], forward.draws["frequency_slope"])
    at_best = roi_at_frequency(forward, best)  # (D, G, R)
    roi, _ = roi_mod.roi_samples(forward, by="geo")  # observed frequencies, forward model
    reach = data.media_input[..., rf]
    bought = np.divide((reach * data.reach_frequency.frequency).sum(axis=1), reach.sum(axis=1),
                       out=np.full(reach.shape[::2], np.nan), where=reach.sum(axis=1) > 0)
    s_best, s_roi, s_at = (summarise(x, hdi_prob) for x in (best, roi[..., rf], at_best))
    rows = []
    for g, geo in enumerate(data.geos):
        for k, c in enumerate(rf):
            if not reach[g, :, k].sum() > 0:
                continue
            rows.append({
                "geo": geo, "channel": data.channels[c], "frequency_bought": float(bought[g, k]),
                "optimal_frequency_mean": float(s_best["mean"][k]),
                "optimal_frequency_hdi_low": float(s_best["hdi_low"][k]),
                "optimal_frequency_hdi_high": float(s_best["hdi_high"][k]),
                "roi_mean": float(s_roi["mean"][g, k]), "roi_hdi_low": float(s_roi["hdi_low"][g, k]),
                "roi_hdi_high": float(s_roi["hdi_high"][g, k]),
                "roi_at_optimal_mean": float(s_at["mean"][g, k]),
                "roi_at_optimal_hdi_low": float(s_at["hdi_low"][g, k]),
                "roi_at_optimal_hdi_high": float(s_at["hdi_high"][g, k]),
            })
    return pl.DataFrame(rows, schema={k: (pl.Utf8 if k in ("geo", "channel") else pl.Float64)
                                      for k in OPTIMAL_FREQUENCY})


def _channels(forward: ForwardModel) -> list[int]:
    rf = forward.data.reach_frequency
    if rf is None or "frequency_half" not in forward.draws:
        raise ArgumentError("optimal_frequency(): the formula has no reach & frequency channel "
                            "(media(reach=..., frequency=..., spend=...))")
    return rf.channels
