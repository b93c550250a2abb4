"""Time-varying media effectiveness (media(x, varying=...)): graph, forward model, lift
cells, tables and errors, on a tiny 3 geo x 60 week panel (prior draws, no sampling)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pymc as pm
import polars as pl
import pytest

import geommm as gm
from geommm import sim
from geommm.analysis.draws import MODEL_PARAMETERS, posterior_draws
from geommm.analysis.effectiveness import effectiveness_table
from geommm.analysis.forward import ForwardModel
from geommm.analysis.tables import EFFECTIVENESS, EFFECTIVENESS_BY_GEO
from geommm.errors import FormulaError, PriorError
from geommm.formula import parse_formula
from geommm.model.build import build_pymc_model
from geommm.model.lift import implied_lift
from geommm.model.path_forecast import log_multiplier_at

WIDE = {"effect_path_amplitude": {"dist": "HalfNormal", "sigma": 0.5}}


@pytest.fixture(scope="module")
def drifting():
    return sim.simulate(n_geos=3, n_weeks=60, n_channels=2, seed=3, n_lift_tests=2,
                        effect_drift={"tv": {"amplitude": 0.3, "period": 40}})


def _model(s, varying="True", priors=None, extra="", **kw):
    """tv (varying) and search on a KPI with geo levels only: a small graph, fast to build."""
    formula = (f"revenue ~ (1 | geo){extra} + media(tv_impressions, spend=tv_spend, name='tv', varying={varying})"
               " + media(search_spend, name='search')")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gm.GeoMMM(formula, data=s.panel, geo="geo", time="week", lift_tests=s.lift_tests,
                         priors=priors, **kw)


@pytest.fixture(scope="module", params=["True", "'geo'"])
def prior_draws(request, drifting):
    """A model with a varying tv path and 8 joint prior draws of every stored value; the
    'geo' one has a smooth(time) baseline too."""
    extra = " + smooth(time, basis=12)" if request.param == "'geo'" else ""
    m = _model(drifting, request.param, priors={**WIDE, "smooth_amplitude": {"dist": "HalfNormal", "sigma": 0.3}},
               extra=extra)
    model = build_pymc_model(m.spec, m.data, m.priors, lift_cells=m.lift_cells, store_mean=True)
    with model:
        idata = pm.sample_prior_predictive(draws=8, random_seed=2, compile_kwargs={"mode": "FAST_COMPILE"})
    names = (*MODEL_PARAMETERS, "kpi_mean", "lift_implied", "smooth_lengthscale")
    return m, model, posterior_draws(idata, names=names, group="prior")


def test_graph_has_the_path_and_finite_gradients(prior_draws):
    m, model, _ = prior_draws
    names = {v.name for v in model.free_RVs}
    assert {"effect_path_z", "effect_path_lengthscale", "effect_path_amplitude"} <= names
    assert ("effect_path_geo_z" in names) == (m.spec.media_term("tv").varying == "geo")
    if "effect_path_geo_z" not in names:
        return  # one gradient check (the geo graph holds the national path too) keeps this fast
    path = [model[n] for n in ("effect_path_z", "effect_path_amplitude", "effect_path_lengthscale", "effect_path_geo_z")]
    grad = model.compile_dlogp(vars=path, mode="FAST_COMPILE")(model.initial_point())  # no C compile: fast
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0


def test_forward_model_is_the_graph_mean_with_the_path(prior_draws):
    m, _, draws = prior_draws
    forward = ForwardModel(m.spec, m.data, draws)
    graph = draws["kpi_mean"] * m.data.kpi_scale[None, :, None]
    np.testing.assert_allclose(forward.expected_kpi(), graph, rtol=1e-6)
    # the path does move the KPI: without it the forward model disagrees
    if m.spec.smooth is not None:  # the smooth baseline is a contribution with mean zero per geo
        smooth = forward.baseline_contributions()["smooth"]
        np.testing.assert_allclose(smooth.mean(axis=2) / m.data.kpi_scale, 0.0, atol=1e-9)
        assert smooth.std() > 0
    static = ForwardModel(m.spec, m.data, {k: v for k, v in draws.items() if not k.startswith("effect_path")})
    static.layout = None
    assert not np.allclose(static.expected_kpi(), graph, rtol=1e-3)


def test_path_has_mean_zero_and_static_channels_stay_at_one(prior_draws):
    m, _, draws = prior_draws
    mult = ForwardModel(m.spec, m.data, draws).effect_multiplier()  # (D, G, T, C)
    log = np.log(mult)
    np.testing.assert_allclose(log.mean(axis=2), 0.0, atol=1e-12)
    tv = m.data.channels.index("tv")
    assert np.all(mult[..., 1 - tv] == 1.0)
    assert log[..., tv].std() > 0.01


def test_lift_cells_use_the_multiplier_of_the_test_weeks(prior_draws):
    m, _, draws = prior_draws
    forward = ForwardModel(m.spec, m.data, draws)
    cells = m.lift_cells
    params = {**draws, "effect_multiplier": forward.effect_multiplier()}
    adstocked = forward.transform.adstock(m.data.lagged(), draws)
    numpy_lift = implied_lift(cells, forward.transform, params, adstocked, m.data.kpi_scale)
    np.testing.assert_allclose(numpy_lift, draws["lift_implied"], rtol=1e-6)  # graph = numpy
    tv = m.data.channels.index("tv")
    test = int(np.flatnonzero([cells.channel_idx[cells.test_idx == i][0] == tv for i in range(cells.n_tests)])[0])
    weeks = np.unique(cells.time_idx[cells.test_idx == test])
    doubled = np.array(params["effect_multiplier"])
    doubled[:, :, weeks, tv] *= 2.0  # twice as effective in the test's weeks only
    lift2 = implied_lift(cells, forward.transform, {**params, "effect_multiplier": doubled}, adstocked, m.data.kpi_scale)
    np.testing.assert_allclose(lift2[:, test], 2.0 * numpy_lift[:, test], rtol=1e-9)
    elsewhere = np.array(params["effect_multiplier"])
    other = np.setdiff1d(np.arange(m.data.n_times), weeks)
    elsewhere[:, :, other, tv] *= 3.0  # a change a year away leaves the test's lift alone
    lift3 = implied_lift(cells, forward.transform, {**params, "effect_multiplier": elsewhere}, adstocked, m.data.kpi_scale)
    np.testing.assert_allclose(lift3[:, test], numpy_lift[:, test], rtol=1e-12)


def test_plans_use_the_latest_or_average_effectiveness(prior_draws):
    m, _, draws = prior_draws
    forward = ForwardModel(m.spec, m.data, draws)
    base = forward.plan_response().kpi() / forward.planning_multiplier("latest")
    avg = forward.plan_response(effectiveness="average").kpi() / forward.planning_multiplier("average")
    np.testing.assert_allclose(base, avg, rtol=1e-9)
    with pytest.raises(ValueError, match="effectiveness"):
        forward.planning_multiplier("first")


def test_effectiveness_table_columns(prior_draws):
    m, _, draws = prior_draws
    forward = ForwardModel(m.spec, m.data, draws)
    national = effectiveness_table(forward)
    assert tuple(national.columns) == EFFECTIVENESS
    assert national.height == m.data.n_times and set(national["channel"]) == {"tv"}
    assert (national["hdi_low"] <= national["mean"]).all() and (national["mean"] <= national["hdi_high"]).all()
    by_geo = effectiveness_table(forward, by="geo")
    assert tuple(by_geo.columns) == EFFECTIVENESS_BY_GEO
    assert by_geo.height == m.data.n_times * m.data.n_geos


@pytest.mark.parametrize("bad", ["2", "'nation'", "'Geo'"])
def test_bad_varying_values_name_the_term(bad):
    with pytest.raises(FormulaError, match=r"media\(tv.*varying"):
        parse_formula(f"y ~ media(tv, varying={bad})", ["y", "tv"])


def test_lengthscale_prior_in_wrong_units(drifting):
    for mu in (math.log(1.0), math.log(3 * 52.0)):  # a week-ish and three years, on a 60-week panel
        with pytest.raises(PriorError, match=r"media\(tv.*lengthscale.*weeks"):
            _model(drifting, priors={"effect_path_lengthscale": {"dist": "LogNormal", "mu": mu, "sigma": 0.3}})


def test_panel_too_short_for_the_basis(drifting):
    with pytest.raises(FormulaError, match=r"media\(tv.*too short.*basis"):
        _model(drifting, varying="True, basis=40")


def test_smooth_baseline_errors_and_spec(drifting):
    with pytest.raises(FormulaError, match=r"smooth\(time\).*too short"):
        _model(drifting, extra=" + smooth(time, basis=40)")
    with pytest.raises(FormulaError, match="smooth"):
        parse_formula("y ~ smooth(time, order=2) + media(tv)", ["y", "tv"])
    spec = parse_formula("y ~ smooth(time, basis=8) + media(tv)", ["y", "tv"])
    assert type(spec).from_dict(spec.to_dict()) == spec


def test_static_formula_is_unchanged(drifting):
    m = _model(drifting, varying="False")
    assert "varying" not in m.spec.to_dict()["media"][0]
    assert not any(v.name.startswith("effect_path") for v in m.model.free_RVs)
    assert not m.default_priors()["parameter"].str.contains("effect_path|smooth").any()
    assert ForwardModel(m.spec, m.data, {"media_effect": np.ones((1, 3, 2))}).effect_multiplier() is None


def test_simulated_drift_is_in_the_truth(drifting):
    effect = np.asarray(drifting.truth.effect)
    tv = drifting.truth.channels.index("tv")
    np.testing.assert_allclose(np.log(effect[:, tv]).mean(), 0.0, atol=1e-12)
    assert np.ptp(np.log(effect[:, tv])) > 0.5 and np.all(effect[:, 1 - tv] == 1.0)


def test_effectiveness_chart_draws_the_table(prior_draws):
    from geommm.report.charts import effectiveness_chart

    m, _, draws = prior_draws
    spec = effectiveness_chart(effectiveness_table(ForwardModel(m.spec, m.data, draws))).to_dict()
    rows = next(iter(spec["datasets"].values()))  # Altair moves inline rows to datasets
    assert len(rows) == m.data.n_times and {"time", "mean", "hdi_low", "hdi_high"} <= set(rows[0])


def test_curves_and_plans_state_the_effectiveness(prior_draws):
    from geommm.analysis.curves import response_curves
    from geommm.analysis.optimize import optimize_budget

    m, _, draws = prior_draws
    forward = ForwardModel(m.spec, m.data, draws)
    curves = response_curves(forward, geo="national", spend_grid=[1.0])
    assert dict(curves.select("channel", "effectiveness").iter_rows()) == {"tv": "latest", "search": "static"}
    avg = response_curves(forward, geo="national", spend_grid=[1.0], effectiveness="average")
    assert avg.filter(pl.col("channel") == "tv")["effectiveness"].item() == "average"
    plan = optimize_budget(forward, by="channel", bounds=(0.9, 1.1), effectiveness="average")
    assert any("tv" in n and "average" in n for n in plan.notes)


def _one_draw_many_futures(draws, n: int = 300) -> dict[str, np.ndarray]:
    """Draw 0 repeated ``n`` times, its path coefficients nudged by 1e-13 so each copy
    seeds its own future (the fitted path is the same to 1e-12): any spread after the
    panel comes from the extension alone."""
    out = {k: np.repeat(v[:1], n, axis=0) for k, v in draws.items()}
    for name in ("effect_path_coef", "smooth_coef"):
        if name in out:
            out[name] = out[name] + 1e-13 * np.random.default_rng(1).standard_normal(out[name].shape)
    return out


def test_path_beyond_the_panel_widens_with_the_horizon(prior_draws):
    m, _, draws = prior_draws
    T, tv = m.data.n_times, m.data.channels.index("tv")
    forward = ForwardModel(m.spec, m.data, _one_draw_many_futures(draws))
    mult = forward.multiplier_weeks(T + 60, 0)  # the panel and 60 weeks after it
    np.testing.assert_array_equal(mult[:, :, :T], forward.effect_multiplier())  # inside: the fitted path
    assert np.all(mult[..., 1 - tv] == 1.0)  # a static channel stays static
    log = np.log(mult[..., tv]).mean(axis=1)  # the national path (the geos' average on the log scale)
    sd = log.std(axis=0)
    amp = draws["effect_path_amplitude"][0, 0]
    assert sd[T - 1] < 1e-9 and sd[T] < sd[T + 5] < sd[T + 20] < sd[T + 59]
    assert 0.5 * amp < sd[T + 59] < 2.0 * amp  # far away: the process's own spread
    assert abs(log[:, T].mean() - log[0, T - 1]) < 0.1 * amp  # the draws continue the path
    # the same draw gets the same future whatever the horizon and the chunk of draws
    np.testing.assert_allclose(forward.multiplier_weeks(10, T + 3), mult[:, :, T + 3:T + 13], rtol=1e-9)
    part = ForwardModel(m.spec, m.data, {k: v[50:80] for k, v in forward.draws.items()})
    np.testing.assert_allclose(part.multiplier_weeks(30, T - 10), mult[50:80, :, T - 10:T + 20], rtol=1e-9)
    if m.spec.media_term("tv").varying == "geo":  # geo deviations: their own spread, zero-sum over geos
        national = {k: v for k, v in forward.draws.items() if k != "effect_path_geo_coef"}
        alone = log_multiplier_at(national, forward.layout, np.arange(T + 60))[:, 0, :, tv]
        np.testing.assert_allclose(log, alone, atol=1e-12)
        deviation = np.log(mult[:, 0, T + 59, tv]) - log[:, T + 59]
        assert deviation.std() > 0.3 * draws["effect_path_geo_amplitude"][0, 0]


def test_predicted_media_after_the_panel_spread_more_with_distance(prior_draws):
    m, _, draws = prior_draws
    T, tv = m.data.n_times, m.data.channels.index("tv")
    forward = ForwardModel(m.spec, m.data, _one_draw_many_futures(draws))
    plan = np.repeat(m.data.media_input[:, -1:, :], 40, axis=1)  # the last week's media, 40 weeks on
    history = m.data.media_input[:, T - m.data.max_lag + 1:, :]
    tv_kpi = forward.media_contributions_history(plan, history)[..., tv].sum(axis=1)  # (D, 40)
    spread = tv_kpi.std(axis=0) / tv_kpi.mean(axis=0)
    assert spread[0] < 0.02 and spread[0] < spread[10] < spread[39]
    # new weeks that start later sit further out on the continued path
    last, first = np.datetime64(m.data.times[-1], "D"), np.datetime64(m.data.times[0], "D")
    assert forward._start_of(last + np.timedelta64(7, "D")) == T
    assert forward._start_of(last + np.timedelta64(21, "D")) == T + 2
    assert forward._start_of(first - np.timedelta64(14, "D")) == -2
    later = forward.media_contributions_history(plan, history, first_week=last + np.timedelta64(21, "D"))
    np.testing.assert_allclose(later[:, :, :10, tv] / forward.multiplier_weeks(10, T + 2)[..., tv],
                               forward.media_contributions_history(plan, history)[:, :, :10, tv]
                               / forward.multiplier_weeks(10, T)[..., tv], rtol=1e-9)


def test_centred_kernel_is_the_covariance_of_the_centred_process():
    from geommm.model.path_forecast import centred_kernel

    T, ls = 30, np.array([4.0, 21.0])
    a, b, s = np.array([-7, -1, 0, 3, 29, 30, 41]), np.array([-3, 2, 29, 35]), np.arange(T)
    for i, ell in enumerate(ls):
        k = lambda x, y: np.exp(-0.5 * ((x[:, None] - y[None, :]) / ell) ** 2)  # noqa: E731
        direct = k(a, b) - k(a, s).mean(1)[:, None] - k(b, s).mean(1)[None, :] + k(s, s).mean()
        np.testing.assert_allclose(centred_kernel(a, b, ls, T)[i], direct, atol=1e-12)


def test_smooth_baseline_continues_after_the_fitted_weeks(prior_draws):
    import dataclasses

    from geommm.model.expected import smooth_baseline
    from geommm.model.path_forecast import smooth_at

    m, _, draws = prior_draws
    if m.spec.smooth is None:
        pytest.skip("this model has no smooth(time) baseline")
    T = m.data.n_train_weeks or m.data.n_times
    many = _one_draw_many_futures(draws)
    path = smooth_at(many, T, m.spec.smooth.basis, np.arange(T + 40))  # (D, G, W), scaled KPI
    np.testing.assert_allclose(path[..., :T], np.broadcast_to(smooth_baseline(many, m.data), path[..., :T].shape),
                               atol=1e-9)
    sd = path.mean(axis=1).std(axis=0)  # national level's spread over the draws
    assert sd[T - 1] < 1e-9 and sd[T] < sd[T + 10] < sd[T + 39]
    assert np.abs(path.mean(axis=1)).max() > 0  # not a flat zero
    # the forward model's baseline of weeks after the panel (a prediction's) is this continuation
    later = dataclasses.replace(m.data, trend=m.data.trend + 20 / max(T - 1, 1))  # the panel's weeks + 20
    smooth = ForwardModel(m.spec, m.data, many).baseline_contributions(later)["smooth"]
    np.testing.assert_allclose(smooth / m.data.kpi_scale[None, :, None], path[..., 20:T + 20], rtol=1e-6, atol=1e-12)
