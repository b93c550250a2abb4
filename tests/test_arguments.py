"""Issue #21 item 9: every argument of the public Fit and model functions is checked first.

A bad value raises a GeoMMMError subclass naming the argument, before any
long step (building, compiling, sampling), never a raw ValueError or TypeError
from NumPy, arviz or Python, and never silently accepted.
"""

from __future__ import annotations

import pytest

from geommm.errors import ArgumentError, FitError, GeoMMMError

pytestmark = pytest.mark.bad_input

BAD_CALLS = {
    "roi(by='region')": (lambda f: f.roi(by="region"), "by"),
    "roi(by=['geo'])": (lambda f: f.roi(by=["geo"]), "by"),
    "roi(hdi_prob=1.5)": (lambda f: f.roi(hdi_prob=1.5), "hdi_prob"),
    "roi(hdi_prob=0)": (lambda f: f.roi(hdi_prob=0), "hdi_prob"),
    "roi(hdi_prob='x')": (lambda f: f.roi(hdi_prob="x"), "hdi_prob"),
    "marginal_roi(step=-1)": (lambda f: f.marginal_roi(step=-1), "step"),
    "marginal_roi(step='a')": (lambda f: f.marginal_roi(step="a"), "step"),
    "marginal_roi(step=nan)": (lambda f: f.marginal_roi(step=float("nan")), "step"),
    "contributions(by='channel')": (lambda f: f.contributions(by="channel"), "by"),
    "contributions(by=3)": (lambda f: f.contributions(by=3), "by"),
    "contributions(hdi_prob=2)": (lambda f: f.contributions(hdi_prob=2), "hdi_prob"),
    "fitted(hdi_prob=-1)": (lambda f: f.fitted(hdi_prob=-1), "hdi_prob"),
    "summary(var_names=['nope'])": (lambda f: f.summary(var_names=["nope"]), "var_names"),
    "summary(hdi_prob=2)": (lambda f: f.summary(hdi_prob=2), "hdi_prob"),
    "diagnostics(r_hat_max='x')": (lambda f: f.diagnostics(r_hat_max="x"), "r_hat_max"),
    "diagnostics(ess_min=-5)": (lambda f: f.diagnostics(ess_min=-5), "ess_min"),
    "lift_test_check(hdi_prob=5)": (lambda f: f.lift_test_check(hdi_prob=5), "hdi_prob"),
    "adstock_decay(hdi_prob=1)": (lambda f: f.adstock_decay(hdi_prob=1), "hdi_prob"),
    "response_curves(spend_grid='x')": (lambda f: f.response_curves(spend_grid="x"), "spend_grid"),
    "response_curves(hdi_prob=3)": (lambda f: f.response_curves(hdi_prob=3), "hdi_prob"),
    "optimize_budget(nope=1)": (lambda f: f.optimize_budget(nope=1), "nope"),
    "scenario(hdi_prob=4)": (lambda f: f.scenario({"tv": 1.1}, hdi_prob=4), "hdi_prob"),
    "predict(hdi_prob=9)": (lambda f: f.predict(f.panel, hdi_prob=9), "hdi_prob"),
    "predict(seeds=1)": (lambda f: f.predict(f.panel, seeds=1), "seeds"),
    "prior_posterior(draws=10.5)": (lambda f: f.prior_posterior(draws=10.5), "draws"),
    "prior_posterior(draws=0)": (lambda f: f.prior_posterior(draws=0), "draws"),
    "prior_posterior(seed='x')": (lambda f: f.prior_posterior(seed="x"), "seed"),
    "report(allocation=3)": (lambda f: f.report("r.html", allocation=3), "allocation"),
}


@pytest.mark.parametrize("call", list(BAD_CALLS))
def test_fit_methods_refuse_bad_arguments_by_name(map_fit, call):
    method, name = BAD_CALLS[call]
    with pytest.raises(ArgumentError, match=name):
        method(map_fit)


@pytest.mark.parametrize("method", ["save", "report"])
def test_writing_to_a_folder_is_refused_before_writing(map_fit, tmp_path, method):
    with pytest.raises(ArgumentError, match="folder"):
        getattr(map_fit, method)(tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert not list(tmp_path.parent.glob(f".{tmp_path.name}.*.tmp"))


@pytest.mark.parametrize(
    ("settings", "name"),
    [({"draws": 10.5}, "draws"), ({"tune": -1}, "tune"), ({"chains": "4"}, "chains"),
     ({"seed": 1.5}, "seed"), ({"cores": 0}, "cores"),
     ({"target_accept": "high"}, "target_accept")],
)
def test_fit_settings_are_checked_before_the_model_is_built(tiny_sim, settings, name):
    import geommm as gm

    model = gm.GeoMMM(tiny_sim.formula, data=tiny_sim.panel, geo="geo", time="week")
    with pytest.raises(FitError, match=name):
        model.fit(progressbar=False, **settings)
    assert model._model is None  # nothing built, nothing compiled


def test_model_arguments_are_checked(tiny_sim):
    import geommm as gm

    with pytest.raises(ArgumentError, match="population"):
        gm.GeoMMM(tiny_sim.formula, data=tiny_sim.panel, geo="geo", time="week", population=3)
    with pytest.raises(ArgumentError, match="priors"):
        gm.GeoMMM(tiny_sim.formula, data=tiny_sim.panel, geo="geo", time="week", priors=[1])
    model = gm.GeoMMM(tiny_sim.formula, data=tiny_sim.panel, geo="geo", time="week")
    with pytest.raises(ArgumentError, match="draws"):
        model.sample_prior_predictive(draws=2.5)


def test_argument_errors_are_geommm_and_value_errors():
    assert issubclass(ArgumentError, GeoMMMError) and issubclass(ArgumentError, ValueError)
