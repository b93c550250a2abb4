"""arviz-native fits: observed/constant data, pointwise log-likelihood, LOO, compare, PPC;
with the summary and determinism checks, every test that needs the session's shared tiny
NUTS fit (``nuts_fit``) lives here, so that pytest-xdist (one module per worker) makes it once."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import polars as pl
import pytest

import geommm as gm
from geommm import approx
from geommm.errors import FitError


def test_nuts_fit_carries_the_arviz_groups(nuts_fit, tiny_model):
    idata = nuts_fit.idata
    for group in ("posterior", "observed_data", "constant_data", "log_likelihood"):
        assert group in idata.groups()
    assert set(idata.observed_data.data_vars) == {"kpi", "lift_observed"}
    assert set(idata.log_likelihood.data_vars) == {"kpi", "lift_observed"}
    assert idata.log_likelihood["kpi"].dims == ("chain", "draw", "geo", "time")
    assert idata.log_likelihood["kpi"].shape == (2, 100, 4, 60)
    assert list(idata.constant_data["media_scaled"].coords["channel"].values) == list(tiny_model.data.channels)
    np.testing.assert_allclose(idata.observed_data["kpi"].values, tiny_model.data.kpi_scaled)


def test_pointwise_log_likelihood_is_the_models_own(nuts_fit, tiny_model):
    """Same numbers as PyMC's elementwise log-probability of the observed variables."""
    from pymc.model.transform.conditioning import remove_value_transforms

    model = remove_value_transforms(tiny_model.model)  # value variables on the natural scale
    logp = approx.jaxify(model.value_vars, model.logp(model.observed_RVs, sum=False))
    post = nuts_fit.idata.posterior
    for chain, draw in ((0, 0), (1, 57)):
        values = [post[model.values_to_rvs[v].name].values[chain, draw] for v in model.value_vars]
        kpi, lift = (np.asarray(x) for x in logp(*values))
        ll = nuts_fit.idata.log_likelihood
        np.testing.assert_allclose(ll["kpi"].values[chain, draw], kpi, rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(ll["lift_observed"].values[chain, draw], lift, rtol=1e-8)


def test_az_loo_and_fit_loo_give_a_finite_elpd(nuts_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = az.loo(nuts_fit.idata, var_name="kpi")
    assert np.isfinite(res.elpd_loo)
    table = nuts_fit.loo()
    assert table.height == 1 and table["n_points"][0] == 4 * 60
    assert np.isclose(table["elpd_loo"][0], res.elpd_loo)


def test_plot_ppc_runs_after_sample_posterior_predictive(nuts_fit):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    idata = nuts_fit.sample_posterior_predictive(seed=1)
    assert idata.posterior_predictive["kpi"].shape == (2, 100, 4, 60)
    assert idata.posterior_predictive["lift_observed"].shape[:2] == (2, 100)
    az.plot_ppc(idata, var_names=["kpi"], num_pp_samples=20)
    az.plot_ppc(idata)
    plt.close("all")


def test_save_and_load_keep_every_group(nuts_fit, tmp_path):
    nuts_fit.sample_posterior_predictive(seed=1)
    loaded = gm.load_fit(nuts_fit.save(tmp_path / "fit.nc"))
    assert set(loaded.idata.groups()) == set(nuts_fit.idata.groups())
    for group in ("observed_data", "constant_data", "log_likelihood", "posterior_predictive"):
        a, b = nuts_fit.idata[group], loaded.idata[group]
        for name in a.data_vars:
            np.testing.assert_array_equal(a[name].values, b[name].values)
    assert loaded.loo().equals(nuts_fit.loo())


def test_compare_ranks_the_true_model_above_a_misspecified_one(nuts_fit, tiny_sim):
    """The tiny panel has a trend and seasonality; the session's NUTS fit of its own
    formula against the same model without them, same lift tests and sampler settings
    (small NUTS fits: LOO on Laplace draws is not reliable, their tails reach far-off
    baselines)."""
    wrong = tiny_sim.formula.replace(" + trend()", "")
    wrong = wrong.replace(wrong[wrong.index(" + fourier("): wrong.index(")", wrong.index(" + fourier(")) + 1], "")
    assert "trend" not in wrong and "fourier" not in wrong
    s = nuts_fit.settings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gm.GeoMMM(wrong, tiny_sim.panel, geo="geo", time="week", lift_tests=tiny_sim.lift_tests)
        misfit = model.fit(draws=s.draws, tune=s.tune, chains=s.chains, seed=s.seed, progressbar=False,
                           max_treedepth=s.max_treedepth)
    table = gm.compare({"true": nuts_fit, "no trend or seasonality": misfit})
    assert isinstance(table, pl.DataFrame)
    assert table["model"].to_list() == ["true", "no trend or seasonality"]
    assert table["rank"].to_list() == [0, 1]
    assert table["elpd_diff"][1] > 4 * table["dse"][1]


@pytest.mark.bad_input
def test_compare_needs_two_fits_with_draws(map_fit, nuts_fit):
    with pytest.raises(FitError, match="at least two"):
        gm.compare({"only": nuts_fit})
    with pytest.raises(FitError, match="single point"):
        gm.compare({"a": nuts_fit, "b": map_fit})


def test_summary_equals_az_summary(nuts_fit) -> None:
    """fit.summary() keeps az.summary's rows, labels and (rounded) numbers (on the
    session's shared tiny NUTS fit: any real 2-chain posterior makes the claim)."""
    from geommm.analysis.diagnostics import reported_parameters

    fit = nuts_fit
    table = fit.summary()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = az.summary(fit.idata, var_names=reported_parameters(fit.idata), hdi_prob=0.9, kind="all")
    assert table["parameter"].to_list() == [str(i) for i in ref.index]
    lo, hi = [c for c in ref.columns if c.startswith("hdi_")][:2]
    for mine, theirs in (("mean", "mean"), ("sd", "sd"), ("hdi_low", lo), ("hdi_high", hi),
                         ("r_hat", "r_hat"), ("ess_bulk", "ess_bulk"), ("ess_tail", "ess_tail")):
        np.testing.assert_allclose(table[mine].to_numpy(), ref[theirs].to_numpy(float), atol=1e-9,
                                   err_msg=mine)
    d = fit.diagnostics()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat = az.rhat(fit.idata.posterior)
    top = max(float(np.nanmax(v.values)) for v in rhat.data_vars.values())
    assert d.max_r_hat == pytest.approx(top, rel=1e-12)


def test_same_seed_same_draws(tiny_model, tiny_panel, monkeypatch):
    """Two NUTS runs with the same settings and seed give the same draws exactly (two
    threaded chains), whether the model is refitted (its compiled density reused: no
    conversion at all) or built afresh (converted once). Short runs with trees capped at
    15 steps: the claim is that the draws repeat, not that they describe the posterior
    (session 25: 41 s -> ~20 s)."""
    import warnings

    from geommm import _jax_speed

    converted = []
    real = _jax_speed.nutpie_density
    monkeypatch.setattr(_jax_speed, "nutpie_density", lambda *a, **k: converted.append(1) or real(*a, **k))
    result = tiny_panel()  # tiny_model's panel; a second GeoMMM of it
    fresh = gm.GeoMMM(result.formula, data=result.panel, geo="geo", time="week", lift_tests=result.lift_tests)
    options = {"draws": 100, "tune": 50, "chains": 2, "seed": 4, "max_treedepth": 4, "progressbar": False,
               "chain_processes": False}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = tiny_model.fit(**options)
        before = len(converted)  # 0 or 1: another test may have fitted tiny_model already
        again = tiny_model.fit(**options)
        assert len(converted) == before  # the refit converted nothing
        other = fresh.fit(**options)
        assert len(converted) == before + 1  # a new model is converted once
    assert fresh.model is not tiny_model.model
    assert again.settings.method == first.settings.method == "nuts"
    for fit in (again, other):
        np.testing.assert_array_equal(fit.idata.posterior["roi"].values, first.idata.posterior["roi"].values)
    assert np.unique(again.idata.posterior["roi"].values[:, :, 0]).size > 100  # real draws, not one point


def test_a_model_changed_in_place_is_compiled_afresh(monkeypatch):
    """The compiled-density cache follows the model's shape: threads and processes share
    one conversion, and a potential added to a built model compiles again."""
    import pymc as pm

    from geommm import _jax_speed

    made = []
    monkeypatch.setattr(_jax_speed, "nutpie_density", lambda model, precision, lean: made.append(lean) or object())
    monkeypatch.setattr(_jax_speed, "lean_logp", lambda compiled, precision: ("lean", compiled))
    with pm.Model() as model:
        x = pm.Normal("x")
    plain = _jax_speed.compiled_density(model, "jax", "float64", lean=False)
    fast = _jax_speed.compiled_density(model, "jax", "float64", lean=True)
    assert fast == ("lean", plain) and made == [False]  # one conversion for both
    assert _jax_speed.compiled_density(model, "jax", "float64", lean=True) is fast
    with model:
        pm.Potential("extra", -(x**2))
    assert _jax_speed.compiled_density(model, "jax", "float64", lean=False) is not plain
    assert made == [False, False] and len(_jax_speed._COMPILED[model]) == 1  # the stale one dropped


def test_a_float32_nuts_fit_agrees_with_the_float64_one(nuts_fit, tiny_fit, tmp_path):
    """precision="float32" samples the same posterior: each channel's national ROI mean
    within 0.5 posterior sd of the float64 fit's (Monte Carlo error of the difference at
    2 x 100 draws is ~0.15 sd), and the setting survives save and load."""
    fit32 = tiny_fit("nuts", precision="float32")
    assert fit32.settings.precision == "float32" and nuts_fit.settings.precision == "float64"
    assert fit32.diagnostics().divergences <= 5
    a, b = nuts_fit.roi(by="channel"), fit32.roi(by="channel")
    sd = (a["roi_hdi_high"] - a["roi_hdi_low"]) / 3.29  # a 90% interval spans ~3.29 sd
    gap = (b["roi_mean"] - a["roi_mean"]).abs() / sd
    assert (gap < 0.5).all(), dict(zip(a["channel"], gap))
    assert gm.load_fit(fit32.save(tmp_path / "fit32.nc")).settings.precision == "float32"


def test_arviz_groups_are_added_on_first_read_of_idata(tiny_model):
    """A fit returns without its pointwise log-likelihood (the result tables never read
    it); the first read of ``fit.idata`` adds the groups, so az.loo works as before, and
    a save carries them."""
    fit = tiny_model.fit(method="laplace", draws=100, chains=2, seed=3, progressbar=False)
    raw = fit._idata
    assert "log_likelihood" not in raw.groups() and "observed_data" not in raw.groups()
    fit.roi(by="channel"), fit.diagnostics(), fit.summary()  # none of these fills them
    assert "log_likelihood" not in raw.groups()
    idata = fit.idata
    assert idata is raw
    assert {"observed_data", "constant_data", "log_likelihood"} <= set(idata.groups())
    assert idata.log_likelihood["kpi"].shape == (2, 100, *tiny_model.data.kpi_scaled.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isfinite(az.loo(fit.idata, var_name="kpi").elpd_loo)
    fresh = tiny_model.fit(method="laplace", draws=100, chains=2, seed=3, progressbar=False)
    assert "log_likelihood" not in fresh._idata.groups()
    np.testing.assert_array_equal(fresh.idata.log_likelihood["kpi"].values, idata.log_likelihood["kpi"].values)
