"""arviz-native fits: observed/constant data, pointwise log-likelihood, LOO, compare, PPC."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import polars as pl
import pytest

import geommm as gm
from geommm import approx, sim
from geommm.errors import FitError


@pytest.fixture(scope="module")
def nuts_fit(tiny_model):
    """A tiny NUTS fit: 2 chains x 100 draws (enough for LOO's plumbing, not for intervals)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tiny_model.fit(draws=100, tune=150, chains=2, seed=4, progressbar=False)


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


def test_compare_ranks_the_true_model_above_a_misspecified_one():
    """A panel with a trend and seasonality, fitted with and without them (small NUTS
    fits: LOO on Laplace draws is not reliable, their tails reach far-off baselines)."""
    data = sim.simulate(n_geos=4, n_weeks=80, n_channels=2, seed=5, n_lift_tests=0)
    wrong = data.formula.replace(" + trend()", "")
    wrong = wrong.replace(wrong[wrong.index(" + fourier("): wrong.index(")", wrong.index(" + fourier(")) + 1], "")
    assert "trend" not in wrong and "fourier" not in wrong
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, formula in (("true", data.formula), ("no trend or seasonality", wrong)):
            model = gm.GeoMMM(formula, data.panel, geo="geo", time="week")
            fits[name] = model.fit(draws=150, tune=200, chains=2, seed=0, progressbar=False)
    table = gm.compare(fits)
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
