"""synergy(a, b): formula errors, the forward model's Shapley split, exact plan sums,
the optimiser, the simulator's truth; one tiny Laplace fit for ROI, lift checks and save/load."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import geommm as gm
from geommm import sim
from geommm.analysis.forward import ForwardModel
from geommm.analysis.optimize import BudgetProblem, Objective, optimize_budget, planning_units
from geommm.analysis.roi import roi_samples
from geommm.errors import FormulaError
from geommm.formula.parse import parse_formula
from geommm.formula.terms import ModelSpec

COLS = ["y", "tv_spend", "search_spend", "social_spend", "price"]
BASE = "y ~ price + media(tv_spend, name='tv') + media(search_spend, name='search') + media(social_spend, name='social')"


@pytest.mark.parametrize("term, message", [
    ("synergy(tv, serch)", "'serch' is not a media name.*did you mean 'search'"),
    ("synergy(tv, tv)", "cannot have a synergy with itself"),
    ("synergy(tv, search) + synergy(search, tv)", "'tv' x 'search' is written twice"),
    ("synergy(tv, search) + synergy(tv, search)", "written twice"),
    ("synergy(tv)", "synergy\\(tv\\): synergy\\(\\) takes two media names"),
    ("synergy(tv, search, strength=1)", "takes two media names and no keywords"),
])
def test_bad_synergy_terms_name_the_term(term, message):
    with pytest.raises(FormulaError, match=message):
        parse_formula(f"{BASE} + {term}", COLS)


def test_synergy_of_a_varying_channel_is_refused():
    formula = BASE.replace("name='tv'", "name='tv', varying=True") + " + synergy(tv, search)"
    with pytest.raises(FormulaError, match="synergy\\(tv, search\\): channel 'tv' varies over time"):
        parse_formula(formula, COLS)


def test_spec_round_trips_and_without_synergy_saves_as_before():
    spec = parse_formula(f"{BASE} + synergy(tv, search) + synergy(social, tv)", COLS)
    assert [s.label for s in spec.synergy] == ["tv x search", "social x tv"]
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert "synergy" not in parse_formula(BASE, COLS).to_dict()


# ------------------------------------------------------------ forward model, hand-made draws
@pytest.fixture(scope="module")
def toy():
    """A 3-geo panel with a tv x search synergy and hand-made posterior draws (no fit);
    search uses the power curve so two saturation kinds meet in one pair."""
    s = sim.simulate(n_geos=3, n_weeks=30, n_channels=3, seed=2, n_lift_tests=0, synergy={"strength": 0.1})
    formula = s.formula.replace("name='search'", "name='search', saturation='power'")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gm.GeoMMM(formula, data=s.panel, geo="geo", time="week")
    data = model.data
    D, G, C = 6, data.n_geos, data.n_channels
    rng = np.random.default_rng(0)
    draws = {
        "retention": rng.uniform(0.2, 0.7, (D, G, C)), "half_saturation": rng.uniform(0.5, 1.5, (D, G, C)),
        "slope": rng.uniform(0.8, 2.0, (D, C)), "exponent": rng.uniform(0.3, 0.8, (D, C)),
        "media_effect": rng.uniform(0.05, 0.2, (D, G, C)), "synergy_effect": rng.normal(0.15, 0.03, (D, G, 1)),
    }
    return model, ForwardModel(model.spec, data, draws)


def test_contributions_split_the_interaction_in_halves(toy):
    model, fw = toy
    data = model.data
    with_syn = fw.media_contributions()
    alone = ForwardModel(model.spec.__class__(**{**model.spec.__dict__, "synergy": ()}), data, fw.draws)
    own = alone.media_contributions()
    a, b, other = (data.channels.index(c) for c in ("tv", "search", "social"))
    extra = with_syn - own
    np.testing.assert_allclose(extra[..., a], extra[..., b], atol=1e-9 * np.abs(extra).max())  # Shapley halves
    np.testing.assert_array_equal(extra[..., other], 0.0)
    assert extra[..., a].sum() > 0.01 * own.sum()  # positive synergy adds KPI
    # ROI x spend adds up to the media total, synergy included
    roi, spend = roi_samples(fw, by="channel")
    total = fw.media_kpi(carryover_weeks=data.max_lag - 1).sum(axis=(1, 2))
    np.testing.assert_allclose((roi * spend).sum(axis=1), total)


def test_plan_sums_equal_the_forward_model_with_exact_derivatives(toy):
    model, fw = toy
    data = model.data
    G, C = data.n_geos, data.n_channels
    resp = fw.plan_response()
    rng = np.random.default_rng(1)
    m = rng.uniform(0.5, 1.5, (G, C))
    kpi, grad, hess = resp.derivatives(m, 2)
    direct = fw.media_contributions(data.media_input * m[:, None, :], carryover_weeks=data.max_lag - 1).sum(axis=2)
    np.testing.assert_allclose(kpi, direct, rtol=1e-12)

    def total(mm):
        return resp.kpi(mm).sum(axis=-1)  # (D, G)

    eps = 1e-5
    for c in range(C):
        e = np.zeros((G, C))
        e[:, c] = eps  # each geo's cell moves; geos do not interact
        fd1 = (total(m + e) - total(m - e)) / (2 * eps)
        fd2 = (total(m + e) - 2 * total(m) + total(m - e)) / eps**2
        np.testing.assert_allclose(grad[..., c], fd1, rtol=1e-7)
        np.testing.assert_allclose(hess[..., c], fd2, rtol=1e-3, atol=1e-3 * np.abs(hess[..., c]).max())
    a, b = data.channels.index("tv"), data.channels.index("search")
    ea, eb = np.zeros((G, C)), np.zeros((G, C))
    ea[:, a], eb[:, b] = eps, eps
    fd = (total(m + ea + eb) - total(m + ea - eb) - total(m - ea + eb) + total(m - ea - eb)) / (4 * eps**2)
    np.testing.assert_allclose(resp.cross(m)[..., 0], fd, rtol=1e-3)


@pytest.mark.parametrize("kind", ["mean", "risk_adjusted"])
def test_optimiser_hessian_includes_the_synergy(toy, kind):
    model, fw = toy
    problem = _problem(fw)
    v = np.linspace(0.8, 1.2, problem.reference.size)
    _, grad, hess = Objective(problem, kind, 0.1).evaluate(v)
    assert hess.ndim == 2 and np.abs(hess - np.diag(np.diag(hess))).max() > 0
    eps = 1e-6
    for u in range(v.size):
        e = np.zeros_like(v)
        e[u] = eps
        fd = (Objective(problem, kind, 0.1).evaluate(v + e)[1] - Objective(problem, kind, 0.1).evaluate(v - e)[1]) / (2 * eps)
        np.testing.assert_allclose(hess[u], fd, rtol=1e-4, atol=1e-6 * np.abs(hess).max())


def _problem(fw):
    """Per geo x channel units: the synergy's cross entries sit off the diagonal."""
    data = fw.data
    units = planning_units(list(data.geos), list(data.channels), data.spend.sum(axis=1), "geo", (0.5, 1.5))
    return BudgetProblem(fw, units, data.n_times, None)


def test_positive_synergy_makes_the_optimiser_move_both_channels_together(toy):
    model, fw = toy
    data = fw.data
    budget = float(data.spend.sum()) * 1.3
    with_syn = optimize_budget(fw, budget, bounds=(0.2, 3.0)).table
    plain_spec = model.spec.__class__(**{**model.spec.__dict__, "synergy": ()})
    strong = {**fw.draws, "synergy_effect": fw.draws["synergy_effect"] * 20}
    stronger = optimize_budget(ForwardModel(model.spec, data, strong), budget, bounds=(0.2, 3.0)).table
    plain = optimize_budget(ForwardModel(plain_spec, data, fw.draws), budget, bounds=(0.2, 3.0)).table

    def share(table):  # the pair's share of the budget
        pair = table.filter(table["channel"].is_in(["tv", "search"]))["optimal_spend"].sum()
        return pair / table["optimal_spend"].sum()

    assert share(plain) < share(with_syn) < share(stronger)
    grown = stronger.filter(stronger["channel"].is_in(["tv", "search"]))["change"]
    assert (grown > 0).all()


# ------------------------------------------------------------ one tiny Laplace fit
@pytest.fixture(scope="module")
def synergy_fit():
    """4 geos x 60 weeks, tv x search synergy, two lift tests kept in the model (their
    implied lift then includes the interaction): a Laplace fit, ~30 s on a quiet machine."""
    base = sim.simulate(n_geos=4, n_weeks=60, n_channels=2, seed=1, n_lift_tests=2)
    market = sim.simulate(n_geos=4, n_weeks=60, n_channels=2, seed=1, n_lift_tests=2,
                          synergy={"strength": 0.15})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gm.GeoMMM(market.formula, data=market.panel, geo="geo", time="week", lift_tests=base.lift_tests)
        return model.fit(method="laplace", draws=100, chains=2, seed=3), market


def test_fit_reports_the_synergy_and_roi_adds_up(synergy_fit):
    fit, market = synergy_fit
    table = fit.synergy()
    assert table["pair"].to_list() == ["tv x search"]
    row = table.row(0, named=True)
    assert row["coefficient_hdi_low"] < row["coefficient_mean"] < row["coefficient_hdi_high"]
    assert 0.0 <= row["prob_positive"] <= 1.0
    assert "synergy" in fit.idata.posterior and fit.idata.posterior["synergy_effect"].shape[-1] == 1
    # contributions of the channels hold the whole interaction: channels + baseline = fitted
    contrib = fit.contributions(by=[])
    fitted = fit.forward.expected_kpi().sum(axis=(1, 2)).mean()
    np.testing.assert_allclose(contrib["mean"].sum(), fitted, rtol=1e-9)
    assert market.settings["synergy"]["lift_tests_dropped"] == 2  # the simulator says what it dropped
    checks = fit.lift_test_check()
    assert checks.height == 2 and checks["implied_mean"].is_finite().all()


def test_lift_cells_carry_the_interaction(synergy_fit):
    fit, _ = synergy_fit
    from geommm.model.lift import implied_lift

    fw, cells = fit.forward, fit.lift_cells
    adstocked = fw.transform.adstock(fit.data.lagged(), fw.draws)
    with_syn = implied_lift(cells, fw.transform, {**fw.draws, "synergy_pairs": ([0], [1])}, adstocked, fit.data.kpi_scale)
    without = implied_lift(cells, fw.transform, dict(fw.draws), adstocked, fit.data.kpi_scale)
    gamma_sign = np.sign(fw.draws["synergy_effect"][:, 0, 0])
    assert np.mean(np.sign(with_syn - without)[:, 0] == gamma_sign) > 0.95


def test_save_load_keeps_the_synergy(synergy_fit, tmp_path):
    fit, _ = synergy_fit
    path = fit.save(tmp_path / "syn.geommm")
    loaded = gm.load_fit(path)
    assert loaded.spec.synergy == fit.spec.synergy
    assert loaded.priors.table(synergy=True)["parameter"].to_list().count("synergy") == 1
    np.testing.assert_array_equal(loaded.roi(by="channel")["roi_mean"], fit.roi(by="channel")["roi_mean"])
    np.testing.assert_array_equal(loaded.synergy()["kpi_mean"], fit.synergy()["kpi_mean"])


def test_synergy_prior_is_overridable_by_name():
    market = sim.simulate(n_geos=2, n_weeks=20, n_channels=2, seed=0, n_lift_tests=0, synergy={"strength": 0.1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gm.GeoMMM(market.formula, data=market.panel, geo="geo", time="week",
                          priors={"synergy": {"dist": "Normal", "mu": 0.0, "sigma": 0.3}})
    rows = model.default_priors().filter(gm_param("synergy"))
    assert rows["prior"].to_list() == ["Normal(mu=0, sigma=0.3)"]


def gm_param(name):
    import polars as pl

    return pl.col("parameter") == name
