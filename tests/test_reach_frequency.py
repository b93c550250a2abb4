"""Reach & frequency channels: the term's errors, the transform against a hand-written
truth, the optimiser's response = the forward model, the optimal-frequency table, a fast
recovery fit and save/load."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import polars as pl
import pytest

import geommm as gm
from geommm import sim
from geommm.analysis.forward import ForwardModel
from geommm.analysis.reach_frequency import optimal_frequency_draws, roi_at_frequency
from geommm.analysis.roi import incremental_kpi, roi_samples
from geommm.analysis.tables import OPTIMAL_FREQUENCY
from geommm.errors import DataError, FormulaError
from geommm.formula import parse_formula
from geommm.media.frequency import FrequencyInput

RF = "media(reach=video_reach, frequency=video_frequency, spend=video_spend, name='video')"


@pytest.fixture(scope="module")
def rf_sim():
    return sim.simulate(n_geos=3, n_weeks=52, n_channels=1, seed=2, n_lift_tests=0,
                        reach_frequency={"share": 0.12})


@pytest.fixture(scope="module")
def rf_model(rf_sim):
    return gm.GeoMMM(rf_sim.formula, data=rf_sim.panel, geo="geo", time="week")


def _draws(data, rng, n=5):
    G, C = data.n_geos, data.n_channels
    R = len(data.reach_frequency.channels)
    return {
        "retention": rng.uniform(0.1, 0.8, (n, G, C)), "half_saturation": rng.uniform(0.3, 2.0, (n, G, C)),
        "slope": rng.uniform(0.5, 2.5, (n, C)), "media_effect": rng.uniform(0.05, 0.3, (n, G, C)),
        "frequency_half": rng.uniform(1.5, 4.0, (n, R)), "frequency_slope": rng.uniform(0.7, 3.0, (n, R)),
    }


# ------------------------------------------------------------------------- the term
@pytest.mark.parametrize("term,match", [
    ("media(reach=video_reach, spend=video_spend, name='video')", "missing frequency="),
    ("media(frequency=video_frequency, spend=video_spend)", "missing reach="),
    ("media(reach=video_reach, frequency=video_frequency, name='video')", "missing spend="),
    ("media(video_reach, reach=video_reach, frequency=video_frequency, spend=video_spend)", "positional"),
    ("media(reach=video_reach, frequency=video_frequency, spend=video_spend, saturation='hill')", "saturation"),
    ("media(reach=video_reach, frequency=video_frequency, spend=video_spend, varying=True)", "varying"),
    ("media(reach=video_reach, frequency=video_frequency, spend=video_spend, max_lag=99)", "max_lag"),
    ("media(reach=video_reach, frequency=video_reach, spend=video_spend)", "three different"),
    ("media(reach=video_rech, frequency=video_frequency, spend=video_spend)", "video_reach"),
    ("media(video_spend, saturation='reach_frequency')", "reach_frequency"),
])
def test_bad_terms_name_the_term(rf_sim, term, match):
    formula = rf_sim.formula.replace(RF, term)
    with pytest.raises(FormulaError, match=match) as err:
        parse_formula(formula, rf_sim.panel.columns)
    assert "media(" in str(err.value)


def test_frequency_column_plays_one_role(rf_sim):
    with pytest.raises(FormulaError, match="video_frequency"):
        parse_formula(rf_sim.formula + " + video_frequency", rf_sim.panel.columns)


@pytest.mark.parametrize("column,value,match", [
    ("video_reach", -5.0, "reach must be a finite number >= 0"),
    ("video_frequency", 0.5, "frequency .* at least 1"),
])
def test_bad_values_name_the_term_and_row(rf_sim, column, value, match):
    panel = rf_sim.panel.with_columns(
        pl.when((pl.col("geo") == "geo_01") & (pl.col("video_reach") > 0))
        .then(pl.lit(value)).otherwise(pl.col(column)).alias(column))
    with pytest.raises(DataError, match=match) as err:
        gm.GeoMMM(rf_sim.formula, data=panel, geo="geo", time="week")
    assert "name='video'" in str(err.value) and "geo_01" in str(err.value)


def test_spec_without_reach_frequency_saves_as_before(rf_sim):
    spec = parse_formula(rf_sim.formula.replace(" + " + RF, ""), rf_sim.panel.columns)
    assert all("frequency" not in m for m in spec.to_dict()["media"])
    full = parse_formula(rf_sim.formula, rf_sim.panel.columns)
    assert gm.formula.ModelSpec.from_dict(full.to_dict()) == full


# -------------------------------------------------------------------- the transform
def test_forward_model_matches_the_hand_written_truth(rf_model):
    """The model's contribution of the R&F channel = kpi_scale beta adstock(reach/m x Hill(f))."""
    data = rf_model.data
    rng = np.random.default_rng(0)
    draws = _draws(data, rng, n=3)
    out = ForwardModel(rf_model.spec, data, draws).media_contributions()
    c = data.reach_frequency.channels[0]
    reach, freq = data.media_input[..., c], data.reach_frequency.frequency[..., 0]
    for d in range(3):
        K, n = draws["frequency_half"][d, 0], draws["frequency_slope"][d, 0]
        x = reach / data.media_scale[:, c][:, None] * freq**n / (freq**n + K**n)
        a = draws["retention"][d, :, c]
        w = a[:, None] ** np.arange(data.max_lag)
        w /= w.sum(axis=1, keepdims=True)
        ad = np.zeros_like(x)
        for lag in range(data.max_lag):
            ad[:, lag:] += w[:, lag, None] * x[:, : x.shape[1] - lag]
        expect = data.kpi_scale[:, None] * draws["media_effect"][d, :, c][:, None] * ad
        np.testing.assert_allclose(out[d, :, :, c], expect, rtol=1e-6)


def test_graph_and_numpy_agree(rf_model):
    """The R&F transform on PyTensor tensors (the graph's path) = on numpy (the analysis');
    the graph has one frequency curve per R&F channel."""
    import pytensor.tensor as pt

    from geommm.model import expected

    data = rf_model.data
    values = {k: v[0] for k, v in _draws(data, np.random.default_rng(3), n=1).items()}
    transform = expected.media_transform(rf_model.spec, data)
    numpy_out = transform(data.lagged(), values)
    tensor_out = transform(data.lagged(), {k: pt.as_tensor(v) for k, v in values.items()})
    np.testing.assert_allclose(tensor_out.eval(mode="FAST_COMPILE"), numpy_out, rtol=1e-10)
    model = rf_model.model
    assert model.coords["rf_channel"] == ("video",)
    assert {"frequency_half", "frequency_slope"} <= set(model.named_vars)


@pytest.mark.parametrize("start", [None, 40])
def test_plan_response_equals_the_forward_model(rf_model, start):
    """What the optimiser and the curves see = the forward model's KPI, R&F channel included
    (a spend change is a reach change at the weeks' frequency)."""
    data = rf_model.data
    forward = ForwardModel(rf_model.spec, data, _draws(data, np.random.default_rng(1)))
    if start is None:
        response = forward.plan_response()
        for m in (0.5, 1.0, 1.5):
            np.testing.assert_allclose(response.kpi(m), incremental_kpi(forward, m), rtol=1e-9)
        return
    plan = data.media_input[:, start:, :]
    response = forward.plan_response(plan, start=start)
    for m in (0.5, 1.5):
        full = np.zeros_like(data.media_input)
        full[:, start:] = m * plan
        expect = forward.media_kpi(full, carryover_weeks=data.max_lag - 1)
        rf = data.reach_frequency.channels  # the Hill channel's dark weeks add its log floor
        np.testing.assert_allclose(response.kpi(m)[..., rf], expect[..., rf], rtol=1e-9)
        np.testing.assert_allclose(response.kpi(m), expect, rtol=1e-6)
    kpi, grad, hess = response.derivatives(1.2)
    rf = data.reach_frequency.channels
    np.testing.assert_allclose(grad[..., rf], kpi[..., rf] / 1.2, rtol=1e-9)  # linear in reach
    assert np.all(hess[..., rf] == 0)


def test_roi_at_frequency_is_the_forward_model_at_that_frequency(rf_model):
    data = rf_model.data
    draws = _draws(data, np.random.default_rng(2), n=4)
    forward = ForwardModel(rf_model.spec, data, draws)
    f = np.array([[1.5], [2.0], [3.0], [6.0]])
    closed = roi_at_frequency(forward, f)
    rf = data.reach_frequency
    reach = data.media_input[..., rf.channels]
    cpi = data.spend[..., rf.channels].sum(1) / (reach * rf.frequency).sum(1)
    for d in range(4):
        const = dataclasses.replace(data, reach_frequency=FrequencyInput(
            rf.channels, np.where(reach > 0, f[d, 0], 0.0), reach, data.n_channels))
        fw = ForwardModel(rf_model.spec, const, {k: v[d:d + 1] for k, v in draws.items()})
        kpi = fw.media_kpi(carryover_weeks=data.max_lag - 1)[0][:, rf.channels]
        spend = cpi * f[d, 0] * reach.sum(1)
        np.testing.assert_allclose(closed[d], kpi / spend, rtol=1e-6)
    best = optimal_frequency_draws(draws["frequency_half"], draws["frequency_slope"])
    grid = np.linspace(1.0, 15.0, 2801)[None, :, None]
    ratio = 1 / (1 + (grid / draws["frequency_half"][:, None, :]) ** -draws["frequency_slope"][:, None, :]) / grid
    np.testing.assert_allclose(best[:, 0], grid[0, ratio.argmax(axis=1)[:, 0], 0], atol=0.01)


# ------------------------------------------------------------- a fit: recovery, tables
@pytest.fixture(scope="module")
def rf_fit(rf_model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rf_model.fit(method="laplace", draws=200, chains=2, seed=3, progressbar=False)


def test_laplace_recovers_roi_and_frequency_curve(rf_fit, rf_sim):
    truth = rf_sim.settings["reach_frequency_truth"]
    row = rf_fit.roi(by="channel").filter(pl.col("channel") == "video").row(0, named=True)
    assert row["roi_hdi_low"] <= truth["roi"] <= row["roi_hdi_high"], row
    table = rf_fit.optimal_frequency()
    assert table.columns == list(OPTIMAL_FREQUENCY) and table.height == 3
    first = table.row(0, named=True)
    assert first["optimal_frequency_hdi_low"] <= truth["optimal_frequency"] <= first["optimal_frequency_hdi_high"]
    assert (table["roi_at_optimal_mean"] >= table["roi_mean"] * 0.95).all()


def test_optimiser_and_curves_run_with_an_rf_channel(rf_fit):
    curves = rf_fit.response_curves(channel="video")
    assert curves.height > 0
    plan = rf_fit.optimize_budget().table
    assert set(plan["channel"]) == {"tv", "video"}
    np.testing.assert_allclose(plan["optimal_spend"].sum(), plan["current_spend"].sum(), rtol=1e-6)


def test_save_and_load_keep_the_rf_channel(rf_fit, tmp_path):
    path = rf_fit.save(tmp_path / "rf.nc")
    again = gm.load_fit(path)
    assert again.spec == rf_fit.spec
    for a, b in ((rf_fit.roi(), again.roi()), (rf_fit.optimal_frequency(), again.optimal_frequency())):
        assert a.equals(b)


def test_no_rf_channel_says_so(map_fit):
    with pytest.raises(gm.errors.ArgumentError, match="reach & frequency"):
        map_fit.optimal_frequency()


def test_roi_samples_use_the_given_spend(rf_fit):
    """The ROI prior's meaning: contribution / the spend column, per geo."""
    samples, spend = roi_samples(rf_fit.forward)
    c = rf_fit.data.channels.index("video")
    np.testing.assert_allclose(spend[:, c], rf_fit.data.spend[..., c].sum(axis=1))


def test_simulated_rf_channel_leaves_the_rest_of_the_panel_alone(rf_sim):
    """Same seed without the R&F channel: every other column equal; the KPI differs by the
    channel's true contribution exactly."""
    plain = sim.simulate(n_geos=3, n_weeks=52, n_channels=1, seed=2, n_lift_tests=0)
    truth = rf_sim.settings["reach_frequency_truth"]
    for column in plain.panel.columns:
        if column != "revenue":
            assert rf_sim.panel[column].equals(plain.panel[column]), column
    added = (rf_sim.panel["revenue"] - plain.panel["revenue"]).to_numpy().reshape(3, 52).sum(axis=1)
    np.testing.assert_allclose(added, truth["contribution"], rtol=1e-8)  # two KPIs each rounded (sim/precision.py)
    assert rf_sim.formula == plain.formula + " + " + RF


def test_a_model_without_rf_channels_has_no_rf_variables(tiny_model):
    assert not {"frequency_half", "frequency_slope"} & set(tiny_model.model.named_vars)
    assert "rf_channel" not in tiny_model.model.coords
    assert tiny_model.data.reach_frequency is None


def test_frequency_curve_priors_are_overridable_by_name_and_listed_only_with_rf(rf_sim, tiny_model):
    import pymc as pm

    model = gm.GeoMMM(rf_sim.formula, data=rf_sim.panel, geo="geo", time="week",
                      priors={"frequency_half": {"dist": "LogNormal", "mu": 1.5, "sigma": 0.2}})
    half = model.model["frequency_half"]
    draws = pm.draw(half, draws=4000, random_seed=1)
    assert abs(np.median(np.log(draws)) - 1.5) < 0.03  # the override, not the default mu 0.7
    listed = set(model.default_priors()["parameter"])
    assert {"frequency_half", "frequency_slope"} <= listed
    assert not {"frequency_half", "frequency_slope"} & set(tiny_model.default_priors()["parameter"])


def test_lift_tests_on_rf_channels_are_refused_and_never_designed(rf_fit, rf_sim):
    from geommm.errors import DesignError, LiftTestError

    with pytest.raises(DesignError, match="reach & frequency"):
        rf_fit.design_lift_tests(channels=["video"])
    lift = pl.DataFrame({"test_id": ["t1"], "channel": ["video"], "geos": ["geo_00"],
                         "start": [rf_sim.panel["week"][20]], "end": [rf_sim.panel["week"][24]],
                         "lift": [1000.0], "lift_se": [100.0], "spend_delta": [5000.0]})
    with pytest.raises(LiftTestError, match="reach & frequency"):
        gm.GeoMMM(rf_sim.formula, data=rf_sim.panel, geo="geo", time="week", lift_tests=lift)
