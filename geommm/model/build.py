"""ModelData + priors -> the partially pooled PyMC model, as a loop over its terms.

Every geo-level parameter is a channel-level (or national) value plus a geo
deviation, non-centred (``mean + sd * z``), which keeps NUTS out of funnels; the
media effect's deviations are partially centred per channel by how strongly the
data pin each geo down (``centring.py``). Each term (``terms/``) creates its own
variables; the graph is vectorised over geo x time x channel. Only small
(geo, channel) deterministics are stored in the trace; contributions are
recomputed from them in numpy after sampling.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
from pymc.model.transform.optimization import freeze_dims_and_data

from geommm.formula.terms import ModelSpec
from geommm.model import expected
from geommm.model.centring import centring_weights
from geommm.model.design import ModelData
from geommm.model.lift import LiftCells
from geommm.model.priors import PriorSet
from geommm.model.terms import TERMS, TermContext
from geommm.model.terms.likelihood import LIKELIHOODS
from geommm.model.terms.media_effect import equal_effect_geo_roi

__all__ = ["LIKELIHOODS", "build_pymc_model", "equal_effect_geo_roi", "model_coords"]


def model_coords(
    data: ModelData, lift_cells: LiftCells | None = None, observed_weeks: np.ndarray | None = None
) -> dict:
    coords = {
        "geo": list(data.geos),
        "time": data.times,
        "channel": list(data.channels),
        "control": list(data.control_names),
        "fourier": list(data.fourier_names),
    }
    varying = [n for n, v in zip(data.control_names, data.geo_varying) if v]
    if varying:
        coords["geo_varying_control"] = varying
    if lift_cells is not None and lift_cells.n_tests:
        coords["lift_test"] = list(lift_cells.test_ids)
    if observed_weeks is not None:
        coords["observed_time"] = data.times[observed_weeks]
    return coords


def build_pymc_model(
    spec: ModelSpec,
    data: ModelData,
    priors: PriorSet,
    *,
    lift_cells: LiftCells | None = None,
    likelihood: str = "normal",
    store_mean: bool = False,
    geo_centring: np.ndarray | None = None,
    level_centring: float | None = None,
    observed_weeks: np.ndarray | None = None,
    effect_shift: tuple[int, float] | None = None,
) -> pm.Model:
    """Build the model. ``store_mean`` keeps the (geo, time) expected scaled KPI in the
    trace as ``kpi_mean`` (large; off by default, the analysis recomputes it).
    ``geo_centring`` (per channel) and ``level_centring`` (the geo mean KPI level) are
    partial-centring weights, 1 = non-centred; read from the data when None.

    ``observed_weeks`` (indices into the weeks) limits the KPI likelihood to those weeks
    while every week's media still carries over and sets the media-effect normalisers.
    (A sequential refresh builds a smaller model on the new weeks: ``window.py``.)
    ``effect_shift`` ``(first week, prior sd)``: a ``full`` refresh's step change in every
    channel's effectiveness from that week on (``terms/effect_shift.py``)."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}")
    if data.n_geos > 1 and (geo_centring is None or level_centring is None):
        effect_w, level_w = centring_weights(spec, data, priors)  # one set of fits for both
        geo_centring = effect_w if geo_centring is None else geo_centring
        level_centring = level_w if level_centring is None else level_centring
    ctx = TermContext(
        spec=spec, data=data, priors=priors, transform=expected.media_transform(spec, data),
        lift_cells=lift_cells, likelihood=likelihood, store_mean=store_mean,
        geo_centring=geo_centring, level_centring=level_centring, observed_weeks=observed_weeks,
        effect_shift=effect_shift,
    )
    with pm.Model(coords=model_coords(data, lift_cells, observed_weeks)) as model:
        for term in TERMS:
            ctx.values.update(term.build(ctx))
    # Static shapes: lets PyTensor broadcast length-1 axes (one channel, one geo) and
    # simplify the graph; the model is rebuilt for new data anyway.
    model = freeze_dims_and_data(model)
    return model
