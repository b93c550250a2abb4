"""log(KPI) ~ ...: parsing, typed errors, the multiplicative simulator, and the forward model
in KPI units by counterfactual, checked against the simulator's own truth.

Most tests need no fit: the model's forward function is evaluated at the simulator's true
parameters (translated to the model's scaling), so it must reproduce the truth's ROI,
marginal ROI, contributions and lift to rounding. One Laplace fit on a tiny panel covers
the fitted path and save/load."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import geommm as gm
from geommm.analysis import roi as roi_mod
from geommm.analysis.contributions import contributions_table
from geommm.analysis.curves import response_curves
from geommm.analysis.optimize import optimize_budget
from geommm.analysis.forward import ForwardModel
from geommm.errors import DataError, FormulaError
from geommm.formula import ModelSpec, parse_formula
from geommm.model.lift import build_lift_cells, implied_lift

SMALL = {"n_geos": 3, "n_weeks": 40, "n_channels": 2, "seed": 2, "n_lift_tests": 2, "kpi": "log"}


@pytest.fixture(scope="module")
def log_sim():
    return gm.sim.simulate(**SMALL)


@pytest.fixture(scope="module")
def truth_fw(log_sim):
    return true_forward(log_sim)


def _model(sim, **kw) -> gm.GeoMMM:
    return gm.GeoMMM(sim.formula, data=sim.panel, geo="geo", time="week", **kw)


def true_forward(sim, n_draws: int = 2) -> ForwardModel:
    """The model's forward function at the simulator's true parameters (every draw equal)."""
    model = _model(sim)
    data, truth = model.data, sim.truth
    T = data.n_times
    G = data.n_geos
    coef = np.stack([truth.control_coef[n] for n in data.control_names], axis=-1)  # (G, K)
    baseline = (truth.intercept + np.log(truth.kpi_scale / data.kpi_scale)
                + coef @ data.control_center)
    draws = {
        "baseline_geo": baseline,
        "control_geo": coef * data.control_sd,
        "season_geo": truth.season_coef,
        "trend_geo": truth.trend_slope * (T - 1) / truth.season_period,
        "media_effect": truth.beta,
        "retention": truth.alpha,
        "half_saturation": truth.half_saturation,
        "slope": truth.slope,
        "noise_sd": truth.noise_sd,
    }
    assert draws["baseline_geo"].shape == (G,)
    return ForwardModel(model.spec, data, {k: np.repeat(np.asarray(v)[None], n_draws, 0) for k, v in draws.items()})


# ---------------------------------------------------------------------------- formula
def test_log_response_parses_and_saves():
    cols = ["revenue", "price", "tv"]
    spec = parse_formula("log(revenue) ~ price + media(tv)", cols)
    assert (spec.response, spec.response_transform) == ("revenue", "log")
    assert parse_formula("np.log(revenue) ~ media(tv)", cols).response_transform == "log"
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    additive = parse_formula("revenue ~ price + media(tv)", cols)
    assert additive.response_transform == "identity"
    assert "response_transform" not in additive.to_dict()  # saved fits of additive models unchanged


@pytest.mark.parametrize("formula, words", [
    ("sqrt(revenue) ~ media(tv)", "log(column)"),
    ("log(revenue, 2) ~ media(tv)", "log(column)"),
    ("revenue ~ log(price) + media(tv)", "only wrap the response"),
    ("log(revenue) ~ log(price) + media(tv)", "only wrap the response"),
])
def test_log_anywhere_else_is_a_formula_error(formula, words):
    with pytest.raises(FormulaError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_formula(formula, ["revenue", "price", "tv"])


@pytest.mark.parametrize("rhs, named", [
    ("media(tv, name='tv') + media(search, name='search') + synergy(tv, search)", "synergy(tv, search)"),
    ("media(tv) + organic(news)", "organic(news)"),
    ("media(tv) + treatment(price)", "treatment(price)"),
    ("media(tv) + media(reach=r, frequency=f, spend=s, name='rf')", "name='rf'"),
])
def test_terms_not_yet_checked_on_a_log_kpi_are_refused(rhs, named):
    cols = ["revenue", "price", "tv", "search", "news", "r", "f", "s"]
    parse_formula(f"revenue ~ {rhs}", cols)  # fine on the KPI itself
    with pytest.raises(FormulaError, match=r"cannot yet be combined with .*" + named.replace("(", r"\(").replace(")", r"\)")):
        parse_formula(f"log(revenue) ~ {rhs}", cols)


def test_non_positive_kpi_is_named(log_sim):
    panel = log_sim.panel.with_columns(
        revenue=pl.when((pl.col("geo") == "geo_01") & (pl.col("week") == pl.col("week").min()))
        .then(0.0).when(pl.col("geo") == "geo_02").then(-pl.col("revenue")).otherwise(pl.col("revenue"))
    )
    with pytest.raises(DataError, match=r"41 geo-week.*geo_01 2022-01-03"):
        gm.GeoMMM(log_sim.formula, data=panel, geo="geo", time="week")


def test_studentt_is_refused_with_a_log_kpi(log_sim):
    with pytest.raises(FormulaError, match="likelihood='normal'"):
        _model(log_sim, likelihood="studentt")


def test_level_prior_moves_to_the_log_scale(log_sim):
    table = _model(log_sim).default_priors()
    assert table.filter(pl.col("parameter") == "kpi_level")["prior"][0] == "Normal(mu=0, sigma=0.5)"


# ---------------------------------------------------------------------------- simulator
def test_simulator_truth_in_kpi_units(log_sim):
    truth, add = log_sim.truth, gm.sim.simulate(**{**SMALL, "kpi": "additive"})
    assert log_sim.formula.startswith("log(revenue) ~") and log_sim.settings["kpi"] == "log"
    assert (log_sim.panel["revenue"] > 0).all()
    np.testing.assert_array_equal(log_sim.panel["tv_spend"], add.panel["tv_spend"])  # same market
    # each geo's mean KPI is near its scale (mu_g is chosen so; noise moves it a little)
    mean = log_sim.panel.group_by("geo", maintain_order=True).agg(pl.col("revenue").mean())["revenue"]
    np.testing.assert_allclose(mean, truth.kpi_scale, rtol=0.1)
    # contributions summed over the weeks are the ROI's numerator less the carryover tail
    per_geo = truth.contributions.group_by("geo", "channel").agg(pl.col("contribution").sum())
    both = truth.roi.join(per_geo, on=["geo", "channel"])
    assert (both["contribution"] <= both["roi"] * both["spend"] * (1 + 1e-12)).all()
    assert (both["contribution"] >= 0.8 * both["roi"] * both["spend"]).all()
    with pytest.raises(DataError, match="kpi='square'"):
        gm.sim.simulate(**{**SMALL, "kpi": "square"})


# ---------------------------------------------------------------------------- forward model
def test_forward_at_the_truth_gives_the_true_roi_and_marginal_roi(log_sim, truth_fw):
    fw = truth_fw
    truth = log_sim.truth
    roi = fw_table(fw, step=None)
    np.testing.assert_allclose(roi, truth.roi["roi"].to_numpy().reshape(roi.shape), rtol=1e-6)
    mroi = fw_table(fw, step=0.01)
    np.testing.assert_allclose(mroi, truth.marginal_roi["marginal_roi"].to_numpy().reshape(mroi.shape), rtol=1e-5)
    national = roi_mod.roi_table(fw, by="channel")
    np.testing.assert_allclose(national["roi_mean"], truth.roi_national["roi"], rtol=1e-6)


def fw_table(fw, step):
    samples, _ = roi_mod.roi_samples(fw, by="geo", step=step)
    return samples[0]


def test_contributions_are_counterfactuals_with_an_interaction_rest(log_sim, truth_fw):
    fw = truth_fw
    truth = log_sim.truth
    media = fw.media_contributions()[0]  # (G, T, C)
    want = truth.contributions.sort("geo", "week")["contribution"].to_numpy()
    np.testing.assert_allclose(media.reshape(-1), want, rtol=1e-6, atol=1e-6 * want.max())
    table = contributions_table(fw, by=["geo", "time"])
    assert "interaction" in table["component_type"].to_list()
    total = table.group_by("geo", "time").agg(pl.col("mean").sum()).sort("geo", "time")["mean"].to_numpy()
    np.testing.assert_allclose(total, fw.expected_kpi()[0].reshape(-1), rtol=1e-9)
    # the mean KPI includes the noise's exp(sd^2 / 2)
    mean_log = np.log(fw.expected_kpi()[0] / fw.data.kpi_scale[:, None]) - 0.5 * truth.noise_sd[:, None] ** 2
    np.testing.assert_allclose(fw.model_mean()[0], mean_log, rtol=1e-9, atol=1e-12)


def test_lift_cells_compare_kpi_with_and_without_the_test(log_sim, truth_fw):
    fw = truth_fw
    data = fw.data
    cells = build_lift_cells(log_sim.lift_tests, data)
    level = np.log(fw.expected_kpi() / data.kpi_scale[None, :, None])
    params = {**fw.draws, "effect_multiplier": None}
    implied = implied_lift(cells, fw.transform, params, fw.transform.adstock(data.lagged(), fw.draws), data.kpi_scale, level)
    # exactly the forward model's KPI with the test's spend minus without it (the model's
    # business-as-usual: actual minus spend_delta spread over the window), test by test
    for i in range(cells.n_tests):
        k = np.flatnonzero(cells.test_idx == i)
        g, t, c = cells.geo_idx[k], cells.time_idx[k], cells.channel_idx[k]
        undone = data.media_input.copy()
        undone[g, t, c] -= cells.delta_lagged[k, 0] * data.media_scale[g, c]
        change = fw.expected_kpi() - fw.expected_kpi(data, undone)
        np.testing.assert_allclose(implied[0, i], change[0, g, t].sum(), rtol=1e-9)
    # and near the simulator's true lift (its business-as-usual spend is the real one)
    np.testing.assert_allclose(implied[0], log_sim.lift_tests["true_lift"], rtol=0.1)


def test_plan_response_equals_the_forward_kpi(log_sim, truth_fw):
    fw = truth_fw
    data = fw.data
    response = fw.plan_response()
    rng = np.random.default_rng(0)
    m = rng.uniform(0.3, 1.8, size=(data.n_geos, data.n_channels))
    # the forward model's KPI of the scaled plan, carryover tail in, minus no media
    tail = data.max_lag - 1
    x = data.media_input * m[:, None, :]
    with_media = fw.media_contributions(x, carryover_weeks=tail)  # counterfactuals; the total:
    from geommm.analysis import log_kpi
    pad = np.concatenate([x, np.zeros((data.n_geos, tail, data.n_channels))], axis=1)
    eta = log_kpi.log_effects(fw, pad, 0).sum(axis=-1)
    level = log_kpi.kpi_without_media(fw, pad.shape[1])
    total = (level * np.expm1(eta)).sum(axis=(1, 2))
    kpi, grad, hess = response.derivatives(m, order=2)
    np.testing.assert_allclose(kpi.sum(axis=(1, 2)), total, rtol=1e-9)
    assert with_media.shape[2] == data.n_times + tail
    # exact derivatives: central differences of the total in one cell's multiplier
    h = 1e-5
    for g, c in [(0, 0), (2, 1)]:
        up, down = m.copy(), m.copy()
        up[g, c] += h
        down[g, c] -= h
        f_up = response.kpi(up).sum(axis=(1, 2))
        f_down = response.kpi(down).sum(axis=(1, 2))
        f_mid = kpi.sum(axis=(1, 2))
        np.testing.assert_allclose(grad[:, g, c], (f_up - f_down) / (2 * h), rtol=1e-5)
        np.testing.assert_allclose(hess[:, g, c], (f_up - 2 * f_mid + f_down) / h**2, rtol=1e-3)
    # the response curve at 1 and 1.01 is ROI's and marginal ROI's numerator
    np.testing.assert_allclose(response.curve(1.0), roi_mod.incremental_kpi(fw, 1.0), rtol=1e-9)
    np.testing.assert_allclose(response.curve(1.01), roi_mod.incremental_kpi(fw, 1.01), rtol=1e-9)


def test_optimiser_and_curves_run_on_a_log_model(log_sim, truth_fw):
    fw = truth_fw
    curves = response_curves(fw, geo="national")
    at_one = curves.filter(pl.col("spend_multiplier") == 1.0).sort("channel")
    national = roi_mod.roi_table(fw, by="channel").sort("channel")
    np.testing.assert_allclose(at_one["incremental_kpi_mean"], national["roi_mean"] * national["spend"], rtol=1e-9)
    spend = float(fw.data.spend[:, -13:].sum())
    allocation = optimize_budget(fw, spend, weeks=13, bounds=(0.5, 1.5))
    summary = allocation.summary
    assert summary["optimal_kpi_mean"] >= summary["current_kpi_mean"] - 1e-6 * abs(summary["current_kpi_mean"])
    assert np.isclose(allocation.table["optimal_spend"].sum(), spend, rtol=1e-6)
    # the current plan's KPI is the forward model's: the 13 planning weeks (tail in) with
    # media minus without, at the panel's last weeks' level
    from geommm.analysis import log_kpi
    data = fw.data
    x = np.concatenate([data.media_input[:, -13:], np.zeros((data.n_geos, data.max_lag - 1, data.n_channels))], axis=1)
    level = log_kpi.kpi_without_media(fw, x.shape[1], data.n_times - 13)
    current = (level * np.expm1(log_kpi.log_effects(fw, x, data.n_times - 13).sum(axis=-1))).sum(axis=(1, 2))
    np.testing.assert_allclose(summary["current_kpi_mean"], current.mean(), rtol=1e-6)


# ---------------------------------------------------------------------------- a fit
def test_laplace_fit_covers_the_true_roi_and_saves(tiny_fit, tiny_panel, tmp_path):
    """Tiny panel (4 geos x 60 weeks, two lift tests), Laplace: the true national ROI
    (KPI units, by counterfactual) inside the 90% intervals; a saved fit reloads equal."""
    sim = tiny_panel(kpi="log")
    fit = tiny_fit("laplace", panel={"kpi": "log"})
    roi = fit.roi(by="channel").join(sim.truth.roi_national.select("channel", "roi"), on="channel")
    assert roi["roi_mean"].is_finite().all()
    assert ((roi["roi_hdi_low"] <= roi["roi"]) & (roi["roi"] <= roi["roi_hdi_high"])).all(), roi
    checked = fit.lift_test_check()
    assert ((checked["implied_hdi_low"] < checked["implied_mean"]) & checked["implied_mean"].is_finite()).all()
    fitted = fit.fitted()
    inside = ((fitted["hdi_low"] <= fitted["actual"]) & (fitted["actual"] <= fitted["hdi_high"])).mean()
    assert inside > 0.75  # a 90% predictive band in KPI units, log-normal noise
    loaded = gm.load_fit(fit.save(tmp_path / "fit.nc"))
    assert loaded.spec.response_transform == "log" and loaded.data.log_kpi
    assert loaded.roi(by="channel").equals(fit.roi(by="channel"))
    predicted = loaded.predict(sim.panel.filter(pl.col("week") >= pl.col("week").max() - pl.duration(weeks=3)))
    assert (predicted["mean"] > 0).all() and predicted.height == 4 * 4


def test_scenario_all_media_is_the_joint_effect(log_sim, truth_fw):
    from geommm.analysis import log_kpi
    from geommm.analysis.scenario import scenario

    fw = truth_fw
    data = fw.data
    table = scenario(fw, {"tv": 1.2})
    national = table.filter(pl.col("geo") == "national")
    row = national.filter(pl.col("channel") == "all media")
    x = data.media_input * np.where(np.array(data.channels) == "tv", 1.2, 1.0)
    tail = data.max_lag - 1
    pad = np.concatenate([x, np.zeros((data.n_geos, tail, data.n_channels))], axis=1)
    joint = (log_kpi.kpi_without_media(fw, pad.shape[1]) * np.expm1(log_kpi.log_effects(fw, pad, 0).sum(-1))).sum()
    np.testing.assert_allclose(row["kpi_mean"][0], joint / fw.n_draws, rtol=1e-9)
    # search's spend did not move; its counterfactual did (tv multiplies its level)
    search = national.filter(pl.col("channel") == "search")
    assert search["spend_change"][0] == 0 and search["change_mean"][0] > 0


@pytest.mark.slow  # ~15 s quiet: the prior predictive of a second model
def test_preflight_markets_on_a_log_design(tiny_panel):
    """Pre-flight's simulated markets for a log formula: multiplicative, KPI level kept."""
    import warnings

    from geommm.workflows.preflight.design import build_design
    from geommm.workflows.preflight.truth import simulate_markets

    sim = tiny_panel(kpi="log")
    design = build_design(sim.panel, sim.formula, geo="geo", time="week")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gm.GeoMMM(design.spec.formula, design.panel)
        markets = simulate_markets(design, model, 3, roi={"tv": 2.0}, seed=0)
    assert (markets.kpi > 0).all()
    np.testing.assert_allclose(markets.kpi.mean(axis=2) / design.data.kpi_scale, 1.0, atol=0.05)
    assert np.isfinite(markets.roi).all() and (markets.roi > 0).all()
