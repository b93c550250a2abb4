"""The expected scaled KPI: geo level + media (centred) + seasonality, trend, controls.

Media enter centred on each geo's average media contribution, so the level term is
the geo's mean KPI and ``baseline_geo`` (what the tables call the baseline) is that
level minus the average media. The non-media parts come from ``expected.py``, the
same formula the posterior analysis uses on numpy draws.
"""

from __future__ import annotations

from typing import Any

import pymc as pm

from geommm.model import expected
from geommm.model.terms.context import TermContext


def build(ctx: TermContext) -> dict[str, Any]:
    """``baseline_geo`` ``(G,)`` and the expected scaled KPI ``mu`` ``(G, T)`` (stored as
    ``kpi_mean`` when asked)."""
    values = ctx.values
    level_geo, beta, sat = values["level_geo"], values["media_effect"], values["saturated"]
    media_mean = (beta * sat.mean(axis=1)).sum(axis=-1)  # (G,) average media per week
    for key in ("organic_mean", "treatment_mean"):  # organic(...) / treatment(...): centred too
        media_mean = media_mean + values[key] if key in values else media_mean
    synergy = values.get("synergy_kpi")  # (G, T) with synergy(a, b): part of the media, centred alike
    if synergy is not None:
        media_mean = media_mean + synergy.mean(axis=1)
    baseline = pm.Deterministic("baseline_geo", level_geo - media_mean, dims="geo")
    mu = level_geo[:, None] + (beta[:, None, :] * sat).sum(axis=-1) - media_mean[:, None]
    if synergy is not None:
        mu = mu + synergy
    for name, part in expected.baseline_components({**values, "baseline_geo": baseline}, ctx.data).items():
        if name != "baseline":
            mu = mu + part
    if ctx.store_mean:
        pm.Deterministic("kpi_mean", mu, dims=("geo", "time"))
    return {"baseline_geo": baseline, "mu": mu}
