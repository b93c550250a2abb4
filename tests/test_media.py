"""The media transform: properties of every adstock and saturation kind, numpy = PyTensor,
derivatives in the spend multiplier, and the optimiser's response = the forward model."""

from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np
import pytensor
import scipy.special
import pytensor.tensor as pt
from pytensor.graph.traversal import ancestors
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geommm import GeoMMM
from geommm.analysis.forward import ForwardModel
from geommm.analysis.roi import incremental_kpi
from geommm.media import (
    ADSTOCKS,
    SATURATIONS,
    MediaTransform,
    carry_over,
    adstock_kind,
    apply_adstock,
    lag_stack,
    saturation_kind,
)
from geommm.media.backend import LOG_FLOOR, lag_by_lag_adstock, same_layout
from geommm.sim import simulate

PAIRS = list(itertools.product(ADSTOCKS, SATURATIONS))

spend = arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(2, 30), st.integers(1, 3)),
               elements=st.floats(0, 1e6, allow_nan=False))
retention = st.floats(0.0, 0.95)


def _params(kind_names, shape_gc, rng, draws=()):
    """Random parameters for every registered kind, shaped (*draws, G, C) / (*draws, C)."""
    G, C = shape_gc
    p = {
        "retention": rng.uniform(0.1, 0.8, (*draws, G, C)),
        "half_saturation": rng.uniform(0.3, 2.0, (*draws, G, C)),
        "slope": rng.uniform(0.5, 2.5, (*draws, C)),
        "peak_lag": rng.uniform(0.0, 3.0, (*draws, C)),
        "weibull_shape": rng.uniform(0.7, 2.5, (*draws, C)),
        "exponent": rng.uniform(0.2, 0.9, (*draws, C)),
    }
    return p


# ----------------------------------------------------------------- adstock properties
@settings(max_examples=60, deadline=None)
@given(x=spend, alpha=retention, max_lag=st.integers(1, 10))
def test_adstock_preserves_mass_with_tail(x, alpha, max_lag):
    G, T, C = x.shape
    w = adstock_kind("geometric").weights(np.full((G, C), alpha), max_lag, np)
    np.testing.assert_allclose(w.sum(-1), 1.0)
    padded = np.concatenate([x, np.zeros((G, max_lag - 1, C))], axis=1)
    np.testing.assert_allclose(carry_over(padded, w).sum(axis=1), x.sum(axis=1), rtol=1e-9, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(x=spend, alpha=st.floats(0.01, 0.95), t=st.integers(0, 29), kind=st.sampled_from(ADSTOCKS))
def test_adstock_is_causal(x, alpha, t, kind):
    """(retention 0 exactly is outside the model: it is a sigmoid of a real number)"""
    G, T, C = x.shape
    t = t % T
    transform = MediaTransform([kind] * C, ["hill"] * C, 6)
    params = {**_params(None, (G, C), np.random.default_rng(0)), "retention": np.full((G, C), alpha)}
    w = transform.weights(params)
    np.testing.assert_allclose(w.sum(-1), 1.0)
    changed = x.copy()
    changed[:, t:, :] += 1000.0  # change only the present and future
    np.testing.assert_array_equal(carry_over(x, w)[:, :t, :], carry_over(changed, w)[:, :t, :])


# -------------------------------------------------------------- saturation properties
@settings(max_examples=60, deadline=None)
@given(k=st.floats(0.05, 5), n=st.floats(0.3, 4), e=st.floats(0.05, 0.95))
def test_saturation_monotone_and_starts_near_zero(k, n, e):
    x = np.linspace(0, 20, 200)
    params = {"half_saturation": k, "slope": n, "exponent": e}
    for name in SATURATIONS:
        kind = saturation_kind(name)
        args = {p: params[p] for p in (*kind.cell_parameters, *kind.channel_parameters)}
        y = kind.curve(x, np, **args)
        assert np.all(np.diff(y) >= -1e-12), name
        assert y[0] < 1e-2 and np.all(y >= 0), name  # Hill: (log floor / K)^n at 0
        if name != "power":
            assert np.all(y <= 1), name


@pytest.mark.parametrize("name", SATURATIONS)
def test_gradients_finite_at_zero_media_for_exponents_below_one(name):
    """The trap of flighted data: dark weeks with slope (or exponent) < 1 must not give NaN."""
    kind = saturation_kind(name)
    x = pt.vector("x")
    params = {p: pt.scalar(p) for p in (*kind.cell_parameters, *kind.channel_parameters)}
    y = kind.curve(x, pt, **params).sum()
    inputs = [x, *params.values()]
    f = pytensor.function(inputs, pt.grad(y, inputs), mode="FAST_COMPILE")
    values = {"half_saturation": 1.0, "slope": 0.5, "exponent": 0.5}
    grads = f(np.array([0.0, 0.0, 0.5]), *[values[p] for p in params])
    assert all(np.all(np.isfinite(g)) for g in grads)


# ------------------------------------------------------------- every pair, one formula
@functools.cache
def _compiled(adstock_name: str, saturation_name: str):
    """PyTensor version of a 2-channel transform with the given kinds (compiled once)."""
    transform = MediaTransform([adstock_name] * 2, [saturation_name] * 2, 5)
    lagged = pt.tensor("lagged", shape=(5, None, None, 2), dtype="float64")
    sym = {"retention": pt.matrix("retention"), "half_saturation": pt.matrix("half_saturation")}
    sym.update({p: pt.vector(p) for p in ("slope", "peak_lag", "weibull_shape", "exponent")})
    out = transform(lagged, sym)
    used = [v for v in sym.values() if v in ancestors([out])]
    return transform, pytensor.function([lagged, *used], out, mode="FAST_COMPILE",
                                        on_unused_input="ignore"), [v.name for v in used]


@pytest.mark.parametrize("adstock_name,saturation_name", PAIRS)
def test_numpy_and_pytensor_agree(adstock_name, saturation_name):
    rng = np.random.default_rng(7)
    transform, f, names = _compiled(adstock_name, saturation_name)
    x = rng.uniform(0, 3, (3, 20, 2)) * (rng.uniform(size=(3, 20, 2)) > 0.3)  # dark weeks too
    lagged = lag_stack(x, 5)
    params = _params(None, (3, 2), rng)
    np.testing.assert_allclose(transform(lagged, params), f(lagged, *[params[n] for n in names]),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("saturation_name", SATURATIONS)
def test_response_sums_match_the_curve_and_finite_differences(saturation_name):
    """sum_t y(m a_t) and its first two derivatives in m, against the curve itself."""
    rng = np.random.default_rng(3)
    transform = MediaTransform(["geometric"] * 3, [saturation_name] * 3, 4)
    D, G, T, C = 5, 4, 25, 3
    a = rng.uniform(0, 3, (D, G, T, C)) * (rng.uniform(size=(D, G, T, C)) > 0.25)
    params = _params(None, (G, C), rng, draws=(D,))
    prepared = transform.prepare(a, params)
    m = rng.uniform(0.4, 1.6, (G, C))
    kpi, grad, hess = transform.response_sums(prepared, m, order=2)
    np.testing.assert_allclose(kpi, transform.saturate(a * m[None, :, None, :], params).sum(axis=2),
                               rtol=1e-12)
    h = 1e-5
    up_kpi, up_grad = transform.response_sums(prepared, m + h, order=1)
    down_kpi, down_grad = transform.response_sums(prepared, m - h, order=1)
    np.testing.assert_allclose((up_kpi - down_kpi) / (2 * h), grad, rtol=1e-6)
    np.testing.assert_allclose((up_grad - down_grad) / (2 * h), hess, rtol=1e-5,
                               atol=1e-7 * np.abs(hess).max())


@pytest.fixture(scope="module")
def tiny_model():
    sim = simulate(n_geos=3, n_weeks=40, n_channels=3, seed=5, n_lift_tests=0)
    return GeoMMM(sim.formula, data=sim.panel, geo="geo", time="week")


@pytest.mark.parametrize("adstock_name,saturation_name", PAIRS)
def test_plan_response_equals_the_forward_model(tiny_model, adstock_name, saturation_name):
    """What the optimiser and the response curves see is exactly the forward model's KPI."""
    spec = dataclasses.replace(tiny_model.spec, media=tuple(
        dataclasses.replace(m, adstock=adstock_name, saturation=saturation_name)
        for m in tiny_model.spec.media))
    data = tiny_model.data
    rng = np.random.default_rng(11)
    draws = _params(None, (data.n_geos, data.n_channels), rng, draws=(6,))
    draws["slope"][0] = 0.4  # below 1: the log floor matters most in dark weeks
    draws["media_effect"] = rng.uniform(0.05, 0.3, (6, data.n_geos, data.n_channels))
    forward = ForwardModel(spec, data, draws)
    response = forward.plan_response()
    for m in (0.5, 1.0, 1.5):
        np.testing.assert_allclose(response.kpi(m), incremental_kpi(forward, m), rtol=1e-9)


def test_unknown_kind_names_the_choices():
    with pytest.raises(ValueError, match="choose one of"):
        MediaTransform(["geometric"], ["cubic"], 4)
    with pytest.raises(ValueError, match="choose one of"):
        adstock_kind("exponential")


def test_apply_adstock_keeps_draw_axes():
    rng = np.random.default_rng(0)
    lagged = lag_stack(rng.uniform(size=(2, 10, 3)), 4)
    w = adstock_kind("geometric").weights(rng.uniform(0.1, 0.9, (7, 2, 3)), 4, np)
    assert apply_adstock(lagged, w).shape == (7, 2, 10, 3)


def test_a_model_mixing_every_kind_builds_with_finite_gradients():
    """Power (no half-saturation of its own) next to Hill, logistic, Weibull and delayed."""
    sim = simulate(n_geos=3, n_weeks=40, n_channels=3, seed=5, n_lift_tests=0)
    formula = sim.formula
    for name, (ad, sat) in zip(("tv", "search", "social"),
                               (("geometric", "power"), ("weibull", "hill"), ("delayed", "logistic"))):
        formula = formula.replace(f"name='{name}'", f"name='{name}', adstock='{ad}', saturation='{sat}'")
    model = GeoMMM(formula, data=sim.panel, geo="geo", time="week")
    assert [(m.adstock, m.saturation) for m in model.spec.media][0] == ("geometric", "power")
    pm_model = model.model
    assert {"exponent", "slope", "weibull_shape", "peak_lag"} <= set(pm_model.named_vars)
    point = pm_model.initial_point()
    logp = pm_model.compile_logp(mode="FAST_COMPILE")(point)
    grad = pm_model.compile_dlogp(mode="FAST_COMPILE")(point)
    assert np.isfinite(logp) and np.all(np.isfinite(grad))
    assert "exponent" in model.default_priors()["parameter"].to_list()


def test_an_all_power_model_has_no_half_saturation():
    sim = simulate(n_geos=2, n_weeks=30, n_channels=2, seed=2, n_lift_tests=0)
    formula = sim.formula.replace("name='tv'", "name='tv', saturation='power'").replace(
        "name='search'", "name='search', saturation='power'")
    pm_model = GeoMMM(formula, data=sim.panel, geo="geo", time="week").model
    assert "half_saturation" not in pm_model.named_vars and "exponent" in pm_model.named_vars


def test_prior_posterior_names_each_channels_own_parameters():
    """A Weibull channel's pooled carryover is labelled as the Weibull scale share, a
    logistic channel shows no Hill slope, a power channel shows its exponent."""
    from types import SimpleNamespace

    import arviz as az

    from geommm.analysis.checks import prior_posterior

    sim = simulate(n_geos=2, n_weeks=30, n_channels=3, seed=2, n_lift_tests=0)
    formula = (sim.formula.replace("name='tv'", "name='tv', adstock='weibull'")
               .replace("name='search'", "name='search', saturation='logistic'")
               .replace("name='social'", "name='social', saturation='power'"))
    model = GeoMMM(formula, data=sim.panel, geo="geo", time="week")
    rng = np.random.default_rng(0)
    post = {k: p.draw(20, rng)[None] for k, p in model.priors.channel.items()}
    idata = az.from_dict(posterior=post)
    fit = SimpleNamespace(spec=model.spec, priors=model.priors, idata=idata, posterior=idata.posterior,
                          channels=model.spec.channels)
    names = set(prior_posterior(fit, draws=20)["parameter"])
    assert {"weibull_scale_share[tv]", "retention[search]", "retention[social]",
            "slope[tv]", "exponent[social]", "weibull_shape[tv]", "roi[search]"} <= names
    assert not {"slope[search]", "slope[social]", "retention[tv]", "exponent[tv]"} & names


def _adstock_lag_by_lag(lagged, weights):
    """The plain definition apply_adstock's numpy path must reproduce bit for bit."""
    total = 0.0
    for lag in range(lagged.shape[0]):
        total = total + weights[..., lag][..., None, :] * lagged[lag]
    return total


def test_graph_adstock_is_the_lag_by_lag_sum():
    """In the model graph adstock is one batched product (matmul, a dot for XLA: half the
    gradient's time at 60 geos); it must equal the plain sum over lags, in value and in
    the gradient with respect to the weights."""
    import pytensor
    import pytensor.tensor as pt

    rng = np.random.default_rng(11)
    lagged = lag_stack(rng.gamma(1.0, 1.0, (4, 30, 3)), 5)
    w = pt.tensor3("w")
    fast = apply_adstock(lagged, w)
    plain = _adstock_lag_by_lag(lagged, w)
    value = rng.dirichlet(np.ones(5), size=(4, 3))
    f = pytensor.function([w], [fast, plain, pt.grad(fast.sum() ** 2, w), pt.grad(plain.sum() ** 2, w)],
                          mode="FAST_COMPILE")
    a, b, ga, gb = f(value)
    assert a.shape == (4, 30, 3)
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=0)
    np.testing.assert_allclose(ga, gb, rtol=1e-12, atol=0)
    np.testing.assert_allclose(a, apply_adstock(lagged, value), rtol=1e-13, atol=0)  # numpy path
    # the product is really what the graph computes (else the checks above compare the
    # sum with itself); MAP and Laplace build their graphs with the sum
    assert "Matmul" in pytensor.dprint(fast, file="str")
    with lag_by_lag_adstock():
        assert "Matmul" not in pytensor.dprint(apply_adstock(lagged, w), file="str")


@pytest.mark.parametrize("layout", ["lag_stack", "c", "f"])
@pytest.mark.parametrize("lead", [(30,), (), (3, 1)])
def test_numpy_adstock_and_hill_are_bit_identical_in_value_and_memory_layout(layout, lead):
    # later sums over weeks add in memory order: a different layout would move the last
    # digits of ROI, so the fast paths keep numpy's own layout as well as its numbers
    rng = np.random.default_rng(3)
    media = rng.random((4, 40, 3))
    media[:, 5:12] = 0.0
    lagged = lag_stack(media, 6)
    lagged = {"lag_stack": lagged, "c": np.ascontiguousarray(lagged), "f": np.asfortranarray(lagged)}[layout]
    weights = rng.random((*lead, 4, 3, 6))
    expected = _adstock_lag_by_lag(lagged, weights)
    got = apply_adstock(lagged, weights)
    assert np.array_equal(got, expected) and same_layout(got, expected)
    half = rng.random((*got.shape[:-2], 1, 3)) + 0.2
    slope = rng.random((*got.shape[:-3], 1, 1, 3)) + 0.5
    plain = 1.0 / (1.0 + np.exp(-(slope * (np.log(expected + LOG_FLOOR) - np.log(half)))))
    assert np.allclose(plain, scipy.special.expit(slope * (np.log(expected + LOG_FLOOR) - np.log(half))),
                       rtol=1e-15, atol=0)
    curve = saturation_kind("hill").curve(got, np, half, slope)
    assert np.array_equal(curve, plain) and same_layout(curve, plain)


def test_scaled_plan_sums_on_two_threads_equal_one_thread(monkeypatch):
    import geommm.media.transform as transform_mod

    rng = np.random.default_rng(5)
    transform = MediaTransform(["geometric"] * 3, ["hill", "logistic", "hill"], 4)
    adstocked = rng.gamma(2.0, 0.5, (300, 2, 500, 3))  # several blocks of draws
    params = {"half_saturation": rng.uniform(0.5, 2.0, (300, 2, 3)), "slope": rng.uniform(0.8, 2.0, (300, 3))}
    prepared = transform.prepare(adstocked, params)
    m = rng.uniform(0.5, 1.5, (2, 3))
    monkeypatch.setattr(transform_mod, "SUM_THREADS", 1)
    one = transform.response_sums(prepared, m, 2)
    monkeypatch.setattr(transform_mod, "SUM_THREADS", 2)
    two = transform.response_sums(prepared, m, 2)
    assert all(np.array_equal(a, b) for a, b in zip(one, two))
    assert transform_mod.os.getpid() in transform_mod._pool  # the threads did run


def test_hill_sums_at_multiplier_zero_are_the_general_sums_bit_for_bit():
    """The response curves' first point (multiplier 0, dark weeks included): the level sums
    (order 0) equal those the derivative pass (order 1) computes alongside, bit for bit."""
    from geommm.media.saturation import Hill

    rng = np.random.default_rng(7)
    z = rng.gamma(1.0, 1.0, size=(30, 3, 2, 17))  # (draws, geos, channels, weeks)
    z[:, :, 1, :5] = 0.0  # dark weeks
    k = rng.lognormal(0.0, 0.5, size=(30, 3, 2, 1))
    n = rng.lognormal(0.3, 0.3, size=(30, 1, 2, 1))
    m = np.zeros((3, 2))
    level = Hill().response_sums(z, m, 0, half_saturation=k, slope=n)[0]
    with_slopes = Hill().response_sums(z, m, 1, half_saturation=k, slope=n)[0]
    assert level.shape == (30, 3, 2)
    assert np.array_equal(level, with_slopes)
