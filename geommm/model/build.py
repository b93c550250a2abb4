"""ModelData + priors -> the partially pooled PyMC model.

Every geo-level parameter is a channel-level (or national) value plus a geo
deviation, non-centred (``mean + sd * z``), which keeps NUTS out of funnels; the
media effect's deviations are partially centred per channel by how strongly the
data pin each geo down (``centring.py``).
The graph is vectorised over geo x time x channel: adstock is one weighted sum
over a precomputed lag stack, no Python loop over geos or weeks. Only small
(geo, channel) deterministics are stored in the trace; contributions are
recomputed from them in numpy after sampling.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.model.transform.optimization import freeze_dims_and_data

from geommm.formula.terms import ModelSpec
from geommm.model import expected
from geommm.model.centring import centring_weights
from geommm.model.design import ModelData
from geommm.model.lift import LiftCells, implied_lift
from geommm.model.priors import PriorSet

LIKELIHOODS = ("normal", "studentt")


def model_coords(data: ModelData, lift_cells: LiftCells | None = None) -> dict:
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
    return coords


def _pooled(name: str, center, sd, dims: tuple[str, ...], link=None):
    """Non-centred partial pooling: ``link(center + sd * z)`` with ``z ~ Normal(0, 1)``.

    With one geo (``sd is None``) there is nothing to pool: the value is the centre.
    """
    if sd is None:
        model = pm.modelcontext(None)
        shape = tuple(len(model.coords[d]) for d in dims)
        value = pt.broadcast_to(center, shape)
    else:
        z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=dims)
        value = center + sd * z
    return pm.Deterministic(name, link(value) if link is not None else value, dims=dims)


def _partially_centred(name: str, center, sd, dims: tuple[str, ...], w: float):
    """``center + geo deviation`` with the deviation partially centred (weight ``w``,
    1 = non-centred, 0 = centred): ``u ~ Normal((1 - w) center, sd^(1 - w))`` and
    value = ``center + sd^w (u - (1 - w) center)`` (Gorinova, Moore & Hoffman 2020).
    The model is the same for every ``w``; only the sampler's coordinates change."""
    u = pm.Normal(f"{name}_u", (1.0 - w) * center, sd ** (1.0 - w), dims=dims)
    return pm.Deterministic(name, center + sd**w * (u - (1.0 - w) * center), dims=dims)


def equal_effect_geo_roi(data: ModelData) -> np.ndarray:
    """Per geo and channel, the ROI (up to a channel factor) that an equal media effect
    in scaled units would give: ``kpi_scale_g * sum_t (x_gt / m_gc) / spend_gc``, i.e.
    KPI scale times active weeks over spend. 0 where the channel never runs."""
    spend = data.spend.sum(axis=1)
    reach = data.media_scaled.sum(axis=1)
    active = (spend > 0) & (reach > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(active, data.kpi_scale[:, None] * reach / np.where(active, spend, 1.0), 0.0)


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
) -> pm.Model:
    """Build the model. ``store_mean`` keeps the (geo, time) expected scaled KPI in the
    trace as ``kpi_mean`` (large; off by default, the analysis recomputes it).
    ``geo_centring`` (per channel) and ``level_centring`` (the geo mean KPI level) are
    partial-centring weights, 1 = non-centred; read from the data when None."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}")
    shared, per_channel = priors.shared, priors.channel
    G, C = data.n_geos, data.n_channels
    transform = expected.media_transform(spec, data)
    if G > 1 and (geo_centring is None or level_centring is None):
        effect_w, level_w = centring_weights(spec, data, priors)  # one set of fits for both
        geo_centring = effect_w if geo_centring is None else geo_centring
        level_centring = level_w if level_centring is None else level_centring

    with pm.Model(coords=model_coords(data, lift_cells)) as model:
        params: dict = {}
        # ---------------------------------------------------------------- baseline
        # The free intercept is each geo's mean KPI level; the baseline (intercept_geo) is
        # derived below as level minus the geo's average media contribution. Media enter
        # the mean centred, so level and media effects are nearly uncorrelated a posteriori
        # (an uncentred media term makes NUTS take ~2x more leapfrog steps).
        level = shared["intercept"].create("kpi_level")
        if spec.geo_intercept and G > 1:
            sd = shared["intercept_geo_sd"].create("kpi_level_geo_sd")
            level_geo = _partially_centred("kpi_level_geo", level, sd, ("geo",), float(level_centring))
        else:
            level_geo = level * pt.ones(G)
        if data.fourier.shape[1]:
            coef = shared["seasonality"].create("seasonality", dims="fourier")
            if G > 1:
                sd = shared["season_geo_sd"].create("season_geo_sd")
                params["season_geo"] = _pooled("season_geo", coef, sd, ("geo", "fourier"))
            else:
                params["season_geo"] = pm.Deterministic("season_geo", coef[None, :], dims=("geo", "fourier"))
        if spec.trend is not None:
            slope = shared["trend"].create("trend")
            if G > 1:
                sd = shared["trend_geo_sd"].create("trend_geo_sd")
                params["trend_geo"] = _pooled("trend_geo", slope, sd, ("geo",))
            else:
                params["trend_geo"] = pm.Deterministic("trend_geo", slope * pt.ones(G), dims="geo")
        if data.controls.shape[-1]:
            coef = shared["control_effect"].create("control_effect", dims="control")
            control_geo = pt.broadcast_to(coef[None, :], (G, len(data.control_names)))
            idx = np.flatnonzero(data.geo_varying)
            if idx.size and G > 1:
                sd = shared["control_geo_sd"].create("control_geo_sd", dims="geo_varying_control")
                z = pm.Normal("control_geo_z", 0.0, 1.0, dims=("geo", "geo_varying_control"))
                control_geo = pt.inc_subtensor(control_geo[:, idx], sd * z)
            params["control_geo"] = pm.Deterministic("control_geo", control_geo, dims=("geo", "control"))

        # ------------------------------------------------------------------- media
        def channel_rv(name: str):
            return per_channel[name].create(name, dims="channel")

        geo_sd = (lambda name: channel_rv(name)) if G > 1 else (lambda name: None)
        params["retention"] = _pooled(
            "retention", channel_rv("retention_logit"), geo_sd("retention_geo_sd"),
            ("geo", "channel"), link=pm.math.sigmoid,
        )
        if transform.uses_half_saturation():
            params["half_saturation"] = _pooled(
                "half_saturation", channel_rv("half_saturation_log"),
                geo_sd("half_saturation_geo_sd"), ("geo", "channel"), link=pt.exp,
            )
        for name in transform.channel_parameters():  # e.g. slope (Hill), peak_lag (delayed)
            params[name] = channel_rv(name)

        adstocked = transform.adstock(data.lagged(), params)
        sat = transform.saturate(adstocked, params)  # (G, T, C)

        # Media effect from ROI. Each geo's contribution over the panel is fixed by its
        # ROI: contribution_gc = roi_c * rel_gc * spend_gc, where rel_gc is the geo's ROI
        # relative to the channel (spend-weighted mean 1, so roi_c is the national ROI).
        # Then beta_gc = contribution_gc / (kpi_scale_g * sum_t sat_gct): carryover and
        # half-saturation change the shape of the response, not its level, so they are
        # nearly uncorrelated with rel and roi a posteriori.
        # Geos are pooled towards equal media *effects* (DESIGN: log beta_gc = b_c +
        # tau_c z_gc), not equal ROIs: a geo that spends twice as much per unit of KPI
        # for the same effect has half the ROI. So rel_gc is the geo's effect deviation
        # times the ROI it would have at the channel's effect, kpi_scale_g * (active
        # weeks) / spend_gc (scaled media sum to the active weeks; shape-free, data only).
        # Pooling towards equal ROIs instead biased weakly identified channels low (on
        # simulated panels: display -14.6% -> -10.3% over 30 small panels, per-geo
        # coverage 84.8% -> 88.3% over 10 of 20 geos; docs/performance.md).
        roi = channel_rv("roi")
        roi_geo_sd = geo_sd("roi_geo_sd")
        spend_gc = data.spend.sum(axis=1)  # (G, C)
        spend_share = spend_gc / spend_gc.sum(axis=0, keepdims=True)
        equal_effect_roi = equal_effect_geo_roi(data)
        active = equal_effect_roi > 0  # the channel ran (spend and input) in the geo
        if roi_geo_sd is None:
            effect_dev = pt.ones((G, C))
        else:
            # Only relative geo effects matter (rel is normalised below), so the geo
            # deviations sum to zero: no flat direction for the sampler. Partially
            # centred per channel (see centring.py): u ~ N(0, sd^(1-w)),
            # log effect deviation = sd^w * u; w = 1 is the usual non-centred form.
            w = np.asarray(geo_centring, dtype="float64")
            u = pm.ZeroSumNormal(
                "media_effect_geo_u", sigma=(roi_geo_sd ** (1.0 - w))[:, None], dims=("channel", "geo")
            )
            effect_dev = pt.exp((roi_geo_sd**w)[None, :] * u.T)
        rel = effect_dev * equal_effect_roi
        rel = rel / (spend_share * rel).sum(axis=0)[None, :]
        sat_total = sat.sum(axis=1)  # (G, C)
        safe_total = pt.switch(active, sat_total, 1.0)
        geo_beta = rel * roi[None, :] * spend_gc / (data.kpi_scale[:, None] * safe_total)
        # a channel never used in a geo: its effect there (for plans that would start it)
        # is the geo's effect deviation times the channel's national effect per unit response
        national_beta = roi * spend_gc.sum(axis=0) / (data.kpi_scale[:, None] * sat_total).sum(axis=0)
        beta = pt.switch(active, geo_beta, effect_dev * national_beta[None, :])
        beta = pm.Deterministic("media_effect", beta, dims=("geo", "channel"))
        params["media_effect"] = beta

        media_mean = (beta * sat.mean(axis=1)).sum(axis=-1)  # (G,) average media per week
        params["intercept_geo"] = pm.Deterministic("intercept_geo", level_geo - media_mean, dims="geo")
        mu = level_geo[:, None] + (beta[:, None, :] * sat).sum(axis=-1) - media_mean[:, None]
        for name, part in expected.baseline_components(params, data).items():
            if name != "baseline":
                mu = mu + part

        if store_mean:
            pm.Deterministic("kpi_mean", mu, dims=("geo", "time"))
        noise = shared["noise_sd"].create("noise_sd", dims="geo")
        y = data.kpi_scaled
        if likelihood == "normal":
            pm.Normal("kpi", mu=mu, sigma=noise[:, None], observed=y, dims=("geo", "time"))
        else:
            nu = shared["student_t_nu"].create("student_t_nu")
            pm.StudentT("kpi", nu=nu, mu=mu, sigma=noise[:, None], observed=y, dims=("geo", "time"))

        if lift_cells is not None and lift_cells.n_tests:
            implied = implied_lift(lift_cells, transform, params, adstocked, data.kpi_scale)
            pm.Deterministic("lift_implied", implied, dims="lift_test")
            pm.Normal(
                "lift_observed", mu=implied, sigma=lift_cells.lift_se, observed=lift_cells.lift,
                dims="lift_test",
            )
    # Static shapes: lets PyTensor broadcast length-1 axes (one channel, one geo) and
    # simplify the graph; the model is rebuilt for new data anyway.
    return freeze_dims_and_data(model)
