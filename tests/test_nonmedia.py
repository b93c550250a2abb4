"""organic(...) and treatment(...) formula terms: parsing, typed errors, priors, recovery, save/load.

The model-only tests build no fit. One Laplace fit of a tiny simulated panel (3 geos x
52 weeks, one channel, a newsletter and a discount lever with known truth) is shared
by the recovery, table, decomposition and save/load tests.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import geommm as gm
from geommm.analysis.tables import ORGANIC_EFFECTS, TREATMENT_EFFECTS
from geommm.errors import ArgumentError, DataError, DataWarning, FormulaError, PriorError
from geommm.formula import ModelSpec
from geommm.sim.nonmedia import nonmedia_contributions, organic_truth, treatment_truth

BASE = "revenue ~ price_index + media(tv_impressions, spend=tv_spend, name='tv') + media(search_spend, name='search')"


def _panel(tiny_panel) -> pl.DataFrame:
    """The tiny panel plus a newsletter column and a discount lever (no effect on the KPI)."""
    panel = tiny_panel().panel
    rng = np.random.default_rng(0)
    return panel.with_columns(
        pl.Series("sends", rng.poisson(100, panel.height).astype(float)),
        pl.Series("discount", np.round(rng.uniform(0, 20, panel.height), 1)),
    )


def _model(panel: pl.DataFrame, extra: str, **kw) -> gm.GeoMMM:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return gm.GeoMMM(BASE + " + " + extra, data=panel, geo="geo", time="week", **kw)


def test_terms_parse_build_and_round_trip(tiny_panel):
    model = _model(_panel(tiny_panel), "organic(sends, name='newsletter', adstock='delayed', max_lag=4)"
                   " + treatment(discount, baseline=2.5)")
    spec = model.spec
    (org,), (trt,) = spec.organic, spec.treatments
    assert (org.input, org.name, org.adstock, org.saturation, org.max_lag) == ("sends", "newsletter", "delayed", "hill", 4)
    assert (trt.input, trt.name, trt.baseline) == ("discount", "discount", 2.5)
    assert spec.nonmedia_kinds == {"newsletter": "organic", "discount": "treatment"}
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    # the lever's move from its baseline, in panel sds, is what the coefficient multiplies
    d = model.data.treatment
    x = model.panel.values(["discount"])[..., 0]
    assert np.allclose(d.delta[..., 0], (x - 2.5) / x.std())
    # the organic exposure is scaled by its mean over non-zero weeks, as media are
    o = model.data.organic
    assert np.allclose(o.scale[:, 0], [row[row > 0].mean() for row in o.exposure[..., 0]])
    # the model has the terms' variables, over their own coords
    names = set(model.model.named_vars)
    assert {"organic_share", "organic_effect", "organic_retention", "organic_slope", "treatment_effect"} <= names
    assert "newsletter" in model.model.coords["organic"]


def test_formula_without_the_terms_saves_as_before(tiny_mmm):
    spec = tiny_mmm().spec
    assert "organic" not in spec.to_dict() and "treatments" not in spec.to_dict()
    assert "nonmedia" not in tiny_mmm().data.scaling.to_dict()
    assert "organic_share" not in tiny_mmm().model.named_vars


def test_baseline_words_and_default(tiny_panel):
    panel = _panel(tiny_panel)
    x = panel["discount"].to_numpy()
    for word, level in (("min", x.min()), ("max", x.max()), ("mean", x.mean())):
        model = _model(panel, f"treatment(discount, baseline='{word}')")
        assert model.data.treatment.baseline[0] == pytest.approx(level)
    assert _model(panel, "treatment(discount)").data.treatment.baseline[0] == pytest.approx(x.min())


@pytest.mark.parametrize(
    ("term", "error", "match"),
    [
        ("organic(nope)", FormulaError, r"organic\(nope\): column 'nope' is not in the panel"),
        ("treatment(price_idx)", FormulaError, r"treatment\(price_idx\).*did you mean 'price_index'"),
        ("organic(tv_impressions)", FormulaError, r"'tv_impressions' is used as media input.*organic\(tv_impressions"),
        ("treatment(price_index)", FormulaError, r"'price_index' is used as control.*treatment\(price_index"),
        ("organic(sends) + treatment(sends)", FormulaError, r"'sends' is used as the input of organic.*treatment"),
        ("organic(sends, name='tv')", FormulaError, r"name 'tv' is already used by media channel 'tv'"),
        ("organic(sends, name='trend')", FormulaError, r"name 'trend' is already used by the decomposition"),
        ("treatment(discount, name='price_index')", FormulaError, r"name 'price_index' is already used by control"),
        ("organic(sends, spend=tv_spend)", FormulaError, r"organic\(sends, spend=tv_spend\): unknown keyword"),
        ("organic(sends, adstock='linear')", FormulaError, r"organic\(sends, adstock='linear'\): adstock='linear'"),
        ("organic(sends, max_lag=0)", FormulaError, "max_lag=0"),
        ("organic(sends, discount)", FormulaError, "takes one column"),
        ("treatment(discount, baseline='lowest')", FormulaError, r"baseline='lowest' must be one of"),
        ("treatment(discount, baseline=True)", FormulaError, "baseline=True"),
    ],
)
def test_bad_terms_name_the_term(tiny_panel, term, error, match):
    with pytest.raises(error, match=match):
        _model(_panel(tiny_panel), term)


def test_bad_values_name_the_term(tiny_panel):
    panel = _panel(tiny_panel)
    negative = panel.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(-1.0).otherwise(pl.col("sends")).alias("sends"))
    with pytest.raises(DataError, match=r"organic\(sends, name='sends'\): column 'sends' has 1 negative"):
        _model(negative, "organic(sends)")
    with pytest.raises(DataError, match=r"organic\(sends.*is 0 in every geo and week"):
        _model(panel.with_columns(pl.lit(0.0).alias("sends")), "organic(sends)")
    with pytest.raises(DataError, match=r"treatment\(discount.*constant over all geos and weeks"):
        _model(panel.with_columns(pl.lit(5.0).alias("discount")), "treatment(discount)")
    with pytest.warns(DataWarning, match=r"treatment\(discount.*baseline=-5 is outside the observed range"):
        gm.GeoMMM(BASE + " + treatment(discount, baseline=-5)", data=panel, geo="geo", time="week")


def test_priors_by_name(tiny_panel):
    panel = _panel(tiny_panel)
    extra = "organic(sends, name='newsletter') + treatment(discount)"
    model = _model(panel, extra, priors={
        "newsletter": {"organic_share": (0.02, 0.08)}, "treatment_effect": {"dist": "Normal", "mu": 0.1, "sigma": 0.05}})
    table = model.default_priors()
    share = table.filter((pl.col("parameter") == "organic_share") & (pl.col("channel") == "newsletter"))
    assert share["note"][0].startswith("share of the KPI, 90% between 0.02 and 0.08")
    mu, sigma = model.priors.terms["organic_share"].params["mu"], model.priors.terms["organic_share"].params["sigma"]
    lo, hi = np.exp(mu - 1.645 * sigma), np.exp(mu + 1.645 * sigma)
    assert lo == pytest.approx(0.02, rel=1e-3) and hi == pytest.approx(0.08, rel=1e-3)
    assert model.priors.terms["treatment_effect"].params["mu"] == pytest.approx([0.1])
    with pytest.raises(PriorError, match=r"priors\['newsletter'\]\['roi'\]: unknown parameter"):
        _model(panel, extra, priors={"newsletter": {"roi": (1, 2)}})
    with pytest.raises(PriorError, match="organic_share interval"):
        _model(panel, extra, priors={"organic_share": (0.5, 2)})
    with pytest.raises(PriorError, match="a term the formula does not have"):
        _model(panel, "treatment(discount)", priors={"organic_share": (0.01, 0.1)})


# ----------------------------------------------------------------- one shared fit
@pytest.fixture(scope="module")
def organic_fit():
    """Laplace fit of a tiny simulated panel with a newsletter (6% of the KPI) and a
    discount lever (+0.4% of the KPI per point against no discount)."""
    sim = gm.sim.simulate(n_geos=3, n_weeks=52, n_channels=1, seed=1, n_lift_tests=0, trend=False,
                          seasonality=False, organic={}, treatment={})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gm.GeoMMM(sim.formula, data=sim.panel, geo="geo", time="week")
        fit = model.fit(method="laplace", draws=100, chains=2, seed=1, progressbar=False, preflight="off")
    return sim, fit


def _inside(draws: np.ndarray, truth) -> np.ndarray:
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    return (lo < truth) & (truth < hi)


def test_recovery_inside_90_intervals(organic_fit):
    sim, fit = organic_fit
    post, data = fit.idata.posterior, fit.data
    G, kpi_mean = data.n_geos, data.kpi.mean(axis=1)
    org, trt = organic_truth(sim), treatment_truth(sim)
    assert "organic(newsletter_sends, name='newsletter')" in sim.formula
    true_contrib = nonmedia_contributions(sim)
    assert _inside(post["organic_share"].values.reshape(-1), true_contrib["newsletter"].sum() / data.kpi.sum())
    assert _inside(post["organic_slope"].values.reshape(-1), org.slope)
    for name, truth in (("organic_retention", org.retention), ("organic_half_saturation", org.half_saturation),
                        ("organic_effect", org.model_effect(kpi_mean))):
        assert _inside(post[name].values.reshape(-1, G), truth).all(), name
    lever = sim.panel["discount"].to_numpy()
    treatment = post["treatment_effect"].values.reshape(-1)
    assert _inside(treatment, trt.model_effect(lever, kpi_mean))
    assert np.quantile(treatment, 0.05) > 0  # the discount's effect is seen, not just covered
    for table, name in ((fit.organic_effects(), "newsletter"), (fit.treatment_effects(), "discount")):
        row = table.row(0, named=True)
        assert row["incremental_kpi_hdi_low"] < true_contrib[name].sum() < row["incremental_kpi_hdi_high"], name


def test_tables_decomposition_and_no_roi(organic_fit):
    _, fit = organic_fit
    org, trt = fit.organic_effects(by="geo"), fit.treatment_effects(by="geo")
    assert org.columns == list(ORGANIC_EFFECTS) and trt.columns == list(TREATMENT_EFFECTS)
    assert not any("roi" in c for c in org.columns)
    assert org["note"].str.contains("no ROI").all() and trt["note"].str.contains("held at 0").all()
    assert fit.roi(by="channel")["channel"].to_list() == ["tv"]  # organic is no channel
    total = fit.contributions(by=[])
    kinds = dict(zip(total["component"], total["component_type"]))
    assert kinds["newsletter"] == "organic" and kinds["discount"] == "treatment"
    # the tables and the decomposition agree, and the decomposition adds up to the fitted KPI
    national = fit.organic_effects().row(0, named=True)["incremental_kpi_mean"]
    assert national == pytest.approx(total.filter(pl.col("component") == "newsletter")["mean"][0])
    assert org["incremental_kpi_mean"].sum() == pytest.approx(national)
    assert total["mean"].sum() == pytest.approx(fit.forward.expected_kpi().mean(axis=0).sum(), rel=1e-9)
    with pytest.raises(ArgumentError, match="by must be one of"):
        fit.organic_effects(by="channel")


def test_save_and_load(organic_fit, tmp_path):
    _, fit = organic_fit
    loaded = gm.load_fit(fit.save(tmp_path / "fit.nc"))
    assert loaded.spec.organic == fit.spec.organic and loaded.spec.treatments == fit.spec.treatments
    assert np.allclose(loaded.data.organic.scale, fit.data.organic.scale)
    assert np.allclose(loaded.data.treatment.baseline, fit.data.treatment.baseline)
    for method in ("organic_effects", "treatment_effects"):
        a, b = getattr(fit, method)(by="geo"), getattr(loaded, method)(by="geo")
        assert np.allclose(a["incremental_kpi_mean"], b["incremental_kpi_mean"])


def test_plans_and_predictions_leave_organic_and_treatment_in_place(organic_fit):
    """The optimiser moves paid channels only; predictions keep both terms' parts."""
    sim, fit = organic_fit
    plan = fit.optimize_budget(bounds=(0.8, 1.2))
    assert set(plan.table["channel"]) == {"tv"}
    late = sim.panel.filter(pl.col("week") >= sorted(sim.panel["week"].unique())[40])
    pred = fit.predict(late, include_noise=False)
    # weeks inside the fitted panel: the prediction (organic carryover from the weeks
    # before them included) is the fitted expected KPI
    fitted = fit.forward.expected_kpi().mean(axis=0)[:, 40:]
    assert np.allclose(pred["mean"].to_numpy().reshape(fit.data.n_geos, -1), fitted, rtol=1e-9)
    # on the fitted weeks, the prediction's expected KPI is the decomposition's total
    full = fit.predict(sim.panel, include_noise=False)["mean"].sum()
    assert full == pytest.approx(fit.contributions(by=[])["mean"].sum(), rel=1e-9)


def test_forward_model_is_the_graph_mean(tiny_panel):
    """Prior draws of the graph's stored mean equal the numpy forward model's expected KPI
    (organic adstock and saturation, the treatment's counterfactual, both centred)."""
    import pymc as pm

    from geommm.analysis.draws import MODEL_PARAMETERS, posterior_draws
    from geommm.analysis.forward import ForwardModel
    from geommm.model.build import build_pymc_model

    m = _model(_panel(tiny_panel), "organic(sends, name='newsletter') + treatment(discount, baseline='mean')")
    graph = build_pymc_model(m.spec, m.data, m.priors, store_mean=True)
    with graph:
        idata = pm.sample_prior_predictive(draws=6, random_seed=2, compile_kwargs={"mode": "FAST_COMPILE"}, var_names=[*(
            n for n in MODEL_PARAMETERS if n in graph.named_vars), "kpi_mean"])
    draws = posterior_draws(idata, names=(*MODEL_PARAMETERS, "kpi_mean"), group="prior")
    forward = ForwardModel(m.spec, m.data, draws)
    np.testing.assert_allclose(forward.expected_kpi(), draws["kpi_mean"] * m.data.kpi_scale[None, :, None], rtol=1e-6)
    parts = forward.baseline_contributions()
    assert np.abs(parts["newsletter"]).sum() > 0 and np.abs(parts["discount"]).sum() > 0
    # organic contributions are non-negative; at baseline='mean' the lever's move averages 0
    assert (parts["newsletter"] >= 0).all()
    assert abs(m.data.treatment.delta.mean()) < 1e-12


def test_cli_tables_and_report(organic_fit, tmp_path):
    """``geommm fit``'s tables include both terms' CSVs; the report's decomposition shows
    them and its ROI section says the organic term has no ROI."""
    from geommm.cli.outputs import write_tables

    _, fit = organic_fit
    names = {p.name for p in write_tables(fit, tmp_path)}
    assert {"organic_effects.csv", "treatment_effects.csv"} <= names
    organic = pl.read_csv(tmp_path / "organic_effects.csv")
    assert organic["geo"].to_list() == ["national", *fit.data.geos]
    html = fit.report(tmp_path / "report.html").read_text()
    assert "Organic media and other levers" in html and "have no spend, so no ROI" in html
    assert "newsletter added" in html and "discount added" in html
