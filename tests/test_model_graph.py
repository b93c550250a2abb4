"""The PyMC graph agrees with the numpy forward model and with brute-force counterfactuals."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytensor
import pytest

from geommm.analysis.forward import ForwardModel
from geommm.errors import PriorError
from geommm.model.build import build_pymc_model
from geommm.model.priors import resolve_priors, roi_prior_from_interval

NAMES = ["retention", "half_saturation", "slope", "media_effect", "roi", "baseline_geo",
         "season_geo", "trend_geo", "control_geo", "kpi_mean", "lift_implied"]


@pytest.fixture(scope="module")
def point_values(tiny_model):
    """Values of the model's deterministics at a random (non-trivial) point."""
    model = build_pymc_model(tiny_model.spec, tiny_model.data, tiny_model.priors,
                             lift_cells=tiny_model.lift_cells, store_mean=True)
    rng = np.random.default_rng(3)
    point = {k: v + rng.normal(0, 0.3, size=np.shape(v)) for k, v in model.initial_point().items()}
    fn = model.compile_fn([model[n] for n in NAMES], inputs=model.value_vars, on_unused_input="ignore",
                          mode="FAST_COMPILE")
    return dict(zip(NAMES, fn(point)))


def _forward(tiny_model, values):
    draws = {k: np.asarray(v)[None] for k, v in values.items()}
    return ForwardModel(tiny_model.spec, tiny_model.data, draws)


def test_numpy_forward_model_equals_graph_mean(tiny_model, point_values):
    fw = _forward(tiny_model, point_values)
    expected = fw.expected_kpi()[0] / tiny_model.data.kpi_scale[:, None]
    np.testing.assert_allclose(expected, point_values["kpi_mean"], rtol=1e-9, atol=1e-12)


def test_roi_parameter_is_the_in_panel_national_roi(tiny_model, point_values):
    fw = _forward(tiny_model, point_values)
    contrib = fw.media_contributions()[0].sum(axis=(0, 1))
    spend = tiny_model.data.spend.sum(axis=(0, 1))
    np.testing.assert_allclose(contrib / spend, point_values["roi"], rtol=1e-9)


def _hill(x, k, n):
    return 1.0 / (1.0 + np.exp(-n * (np.log(x + 1e-9) - np.log(k))))


def _brute_force_media(x_scaled, alpha, k, n, max_lag):
    """Plain loops: geometric adstock (normalised) then Hill, one geo-channel series."""
    w = alpha ** np.arange(max_lag)
    w = w / w.sum()
    out = np.zeros_like(x_scaled)
    for t in range(len(x_scaled)):
        acc = 0.0
        for lag in range(max_lag):
            if t - lag >= 0:
                acc += w[lag] * x_scaled[t - lag]
        out[t] = _hill(acc, k, n)
    return out


def test_graph_lift_equals_brute_force_counterfactual(tiny_sim, tiny_model, point_values):
    """Each test's implied lift (heavy-up on two geos, go-dark on one) recomputed by hand."""
    data, cells = tiny_model.data, tiny_model.lift_cells
    lifts = tiny_model.lift_tests
    for i, row in enumerate(lifts.iter_rows(named=True)):
        c = data.channels.index(row["channel"])
        geos = [data.geos.index(g) for g in row["geo_list"]]
        start, end = np.datetime64(row["start"]), np.datetime64(row["end"])
        mend = np.datetime64(row["measure_end"])
        window = (data.times >= start) & (data.times <= end)
        measured = (data.times >= start) & (data.times <= mend)
        actual = data.spend[geos][:, window, c]
        if actual.sum() > 0:
            delta = row["spend_delta"] * actual / actual.sum()
        else:  # go-dark: shared by typical spend before the window, evenly over weeks
            first = np.flatnonzero(window)[0]
            typical = data.spend[geos][:, max(0, first - 8):first, c].mean(axis=1)
            delta = np.outer(row["spend_delta"] * typical / typical.sum(), np.ones(window.sum()) / window.sum())
        total = 0.0
        for j, g in enumerate(geos):
            ratio = data.media_input[g, :, c].sum() / data.spend[g, :, c].sum()
            x_actual = data.media_input[g, :, c] / data.media_scale[g, c]
            x_bau = x_actual.copy()
            x_bau[window] -= delta[j] * ratio / data.media_scale[g, c]
            args = (point_values["retention"][g, c], point_values["half_saturation"][g, c],
                    point_values["slope"][c], data.max_lag)
            diff = _brute_force_media(x_actual, *args) - _brute_force_media(x_bau, *args)
            total += data.kpi_scale[g] * point_values["media_effect"][g, c] * diff[measured].sum()
        np.testing.assert_allclose(point_values["lift_implied"][i], total, rtol=1e-6)
    assert cells.n_tests == len(lifts) == 2
    assert (lifts["spend_delta"] > 0).any() and (lifts["spend_delta"] < 0).any()


def test_roi_interval_prior_puts_90_percent_in_the_interval():
    prior = roi_prior_from_interval(2.0, 4.0)
    draws = prior.draw(200_000, np.random.default_rng(0))
    inside = ((draws > 2.0) & (draws < 4.0)).mean()
    assert abs(inside - 0.9) < 0.005


def test_channel_roi_prior_override_reaches_the_model(tiny_sim):
    import geommm as gm

    model = gm.GeoMMM(tiny_sim.formula, data=tiny_sim.panel, geo="geo", time="week",
                      priors={"tv": {"roi": (2, 4)}, "noise_sd": gm.Prior("HalfNormal", sigma=0.1)})
    table = model.default_priors()
    tv = table.filter((table["parameter"] == "roi") & (table["channel"] == "tv"))["prior"][0]
    search = table.filter((table["parameter"] == "roi") & (table["channel"] == "search"))["prior"][0]
    assert "mu=1.04" in tv and tv != search
    roi = model.model["roi"]
    draws = __import__("pymc").draw(roi, draws=4000, random_seed=1)
    assert 0.85 < ((draws[:, 0] > 2) & (draws[:, 0] < 4)).mean() < 0.95


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "priors, fragment",
    [
        ({"nosie_sd": {"dist": "HalfNormal", "sigma": 1}}, "unknown name 'nosie_sd'"),
        ({"tv": {"roi": (4, 2)}}, "0 < low < high"),
        ({"tv": {"speed": (1, 2)}}, "unknown media parameter"),
        ({"kpi_level": {"dist": "Cauchy", "mu": 0}}, "unknown distribution"),
        ({"kpi_level": {"dist": "Normal", "mu": 0}}, "needs parameters"),
        ({"noise_sd": {"dist": "HalfNormal", "sigma": -1}}, "positive"),
        ({"tv": {"roi": {"dist": "Gamma", "alpha": 2, "beta": 1}}}, "same distribution family"),
    ],
)
def test_bad_priors_are_rejected_with_the_name(priors, fragment):
    with pytest.raises(PriorError, match=fragment):
        resolve_priors(priors, ["tv", "search"], default_roi=1.0)


def test_geo_roi_parameter_fixes_each_geos_in_panel_roi(tiny_model, point_values):
    """contribution_gc / spend_gc = roi_c * rel_gc, with spend-weighted mean of rel = 1."""
    fw = _forward(tiny_model, point_values)
    contrib = fw.media_contributions()[0].sum(axis=1)  # (G, C)
    spend = tiny_model.data.spend.sum(axis=1)
    geo_roi = contrib / spend
    weighted = (geo_roi * spend).sum(axis=0) / spend.sum(axis=0)
    np.testing.assert_allclose(weighted, point_values["roi"], rtol=1e-9)
    assert np.ptp(geo_roi / point_values["roi"], axis=0).max() > 0.01  # geos do differ


def test_partial_centring_changes_the_sampler_coordinates_not_the_model(tiny_model):
    """The same geo deviations give the same media effect for any centring weight w."""
    data, spec, priors = tiny_model.data, tiny_model.spec, tiny_model.priors
    C = data.n_channels
    values = {}
    for w in (0.0, 0.4, 1.0):
        model = build_pymc_model(spec, data, priors, geo_centring=np.full(C, w))
        point = model.initial_point()
        sd = np.array([0.3, 0.5])[:C]
        dev = np.linspace(-0.6, 0.6, data.n_geos)[None, :] * np.ones((C, 1))
        dev = dev - dev.mean(axis=1, keepdims=True)
        u = dev / sd[:, None] ** w
        point["effect_geo_sd_log__"] = np.log(sd)
        # PyMC's zero-sum transform, constrained -> free (drop the last geo, shift the rest)
        n = u.shape[-1]
        point["media_effect_geo_u_zerosum__"] = u[:, :-1] - u[:, -1:] * np.sqrt(n) / (np.sqrt(n) + n)
        # evaluate at these values (compile_fn on the RV graph would draw from the prior)
        out = model.replace_rvs_by_values([model["media_effect"]])[0]
        fn = pytensor.function(model.value_vars, out, on_unused_input="ignore", mode="FAST_COMPILE")
        values[w] = fn(**{v.name: point[v.name] for v in model.value_vars})
    np.testing.assert_allclose(values[0.0], values[1.0], rtol=1e-9)
    np.testing.assert_allclose(values[0.4], values[1.0], rtol=1e-9)



def test_partial_centring_of_geo_levels_does_not_change_the_model(tiny_model):
    """Centred (w = 0) and non-centred (w = 1) geo levels: same values, same log density."""
    data, spec, priors = tiny_model.data, tiny_model.spec, tiny_model.priors
    level, sd = 1.02, 0.05
    target = level + np.linspace(-0.08, 0.08, data.n_geos)
    values, logps = {}, {}
    for w in (0.0, 1.0):
        model = build_pymc_model(spec, data, priors, level_centring=w)
        point = model.initial_point()
        point["kpi_level"] = np.array(level)
        point["kpi_level_geo_sd_log__"] = np.array(np.log(sd))
        point["kpi_level_geo_u"] = target if w == 0.0 else (target - level) / sd
        out = model.replace_rvs_by_values([model["kpi_level_geo"]])[0]
        # evaluated once: PyTensor's Python linker (no C compile of the whole log density)
        fn = pytensor.function(model.value_vars, out, on_unused_input="ignore", mode="FAST_COMPILE")
        values[w] = fn(**{v.name: point[v.name] for v in model.value_vars})
        logps[w] = model.compile_logp(jacobian=True, mode="FAST_COMPILE")(point)
    np.testing.assert_allclose(values[0.0], target, rtol=1e-12)
    np.testing.assert_allclose(values[1.0], target, rtol=1e-12)
    # the two densities differ only by the constant Jacobian of u = (level_geo - level) / sd
    np.testing.assert_allclose(logps[0.0] - logps[1.0], -data.n_geos * np.log(sd), rtol=1e-9)


def test_geos_pool_towards_equal_media_effects_not_equal_rois(tiny_model):
    """With no geo deviation (u = 0) every geo gets the same effect per unit of scaled
    media (DESIGN: log beta_gc = b_c + tau_c z_gc), so a geo spending more per unit of
    KPI has a lower ROI; before session 4 u = 0 meant equal geo ROIs."""
    from geommm.model.build import equal_effect_geo_roi

    data, spec, priors = tiny_model.data, tiny_model.spec, tiny_model.priors
    model = build_pymc_model(spec, data, priors)
    point = model.initial_point()
    point["media_effect_geo_u_zerosum__"] = np.zeros_like(point["media_effect_geo_u_zerosum__"])
    names = [n for n in NAMES if n not in ("kpi_mean", "lift_implied")]
    outs = model.replace_rvs_by_values([model[n] for n in names])
    fn = pytensor.function(model.value_vars, outs, on_unused_input="ignore", mode="FAST_COMPILE")
    values = dict(zip(names, fn(**{v.name: point[v.name] for v in model.value_vars})))
    fw = _forward(tiny_model, values)
    contrib = fw.media_contributions()[0].sum(axis=1)  # (G, C), KPI units
    reach = data.media_scaled.sum(axis=1)  # active weeks in scaled media
    spend = data.spend.sum(axis=1)
    # contribution per unit of scaled media, as a share of each geo's KPI: equal
    per_unit = contrib / (data.kpi_scale[:, None] * reach)
    np.testing.assert_allclose(per_unit / per_unit.mean(axis=0), 1.0, rtol=1e-9)
    geo_roi = contrib / spend
    np.testing.assert_allclose(geo_roi / geo_roi[0], equal_effect_geo_roi(data) / equal_effect_geo_roi(data)[0],
                               rtol=1e-9)
    assert np.ptp(geo_roi / geo_roi.mean(axis=0), axis=0).max() > 0.05  # so not equal ROIs


#: The demo model's free variables in the sampler's order (nutpie's parameter vector
#: follows it): a reorder changes the draws of every seeded fit, so it must be deliberate.
DEMO_FREE_VARIABLES = [
    ("half_saturation_z", (10, 4), ("geo", "channel")),
    ("half_saturation_geo_sd", (4,), ("channel",)),
    ("half_saturation_log", (4,), ("channel",)),
    ("retention_z", (10, 4), ("geo", "channel")),
    ("retention_geo_sd", (4,), ("channel",)),
    ("retention_logit", (4,), ("channel",)),
    ("slope", (4,), ("channel",)),
    ("roi", (4,), ("channel",)),
    ("effect_geo_sd", (4,), ("channel",)),
    ("media_effect_geo_u", (None, None), ("channel", "geo")),
    ("kpi_level", (), None),
    ("kpi_level_geo_sd", (), None),
    ("kpi_level_geo_u", (10,), ("geo",)),
    ("control_geo_z", (10, 2), ("geo", "geo_varying_control")),
    ("control_geo_sd", (2,), ("geo_varying_control",)),
    ("control_effect", (2,), ("control",)),
    ("trend_geo_z", (10,), ("geo",)),
    ("trend_geo_sd", (), None),
    ("trend", (), None),
    ("season_geo_z", (None, None), ("fourier", "geo")),  # zero-sum over geos
    ("season_geo_sd", (), None),
    ("seasonality", (4,), ("fourier",)),
    ("noise_sd", (10,), ("geo",)),
]
DEMO_DETERMINISTICS = ["lift_implied", "baseline_geo", "media_effect", "half_saturation", "retention",
                       "control_geo", "trend_geo", "season_geo", "kpi_level_geo"]


def test_demo_model_variables_names_and_order():
    import geommm as gm
    from geommm.demo import load_demo

    demo = load_demo()
    mmm = gm.GeoMMM(demo.formula, data=demo.panel, geo="geo", time="week", lift_tests=demo.lift_tests)
    model = build_pymc_model(mmm.spec, mmm.data, mmm.priors, lift_cells=mmm.lift_cells)
    dims = model.named_vars_to_dims
    free = [(v.name, tuple(v.type.shape), tuple(dims[v.name]) if v.name in dims else None)
            for v in model.free_RVs]
    assert free == DEMO_FREE_VARIABLES
    assert [v.name for v in model.deterministics] == DEMO_DETERMINISTICS
    assert [v.name for v in model.observed_RVs] == ["lift_observed", "kpi"]


@pytest.mark.parametrize("old, new", [
    ("intercept", "kpi_level"),
    ("intercept_geo_sd", "kpi_level_geo_sd"),
    ("roi_geo_sd", "effect_geo_sd"),
])
def test_old_prior_names_warn_and_map_to_the_new_ones(old, new):
    import warnings

    from geommm.model.priors import Prior

    prior = Prior("Gamma", alpha=3.0, beta=7.0)
    with pytest.warns(DeprecationWarning, match=f"'{old}' is deprecated.*use '{new}'") as record:
        by_old = resolve_priors({old: prior}, ["tv", "search"], default_roi=1.0)
    assert record[0].filename == __file__  # shown at the user's line, where Python shows it
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        by_new = resolve_priors({new: prior}, ["tv", "search"], default_roi=1.0)
    assert by_old.table().equals(by_new.table())
    assert by_new.table().filter(pl.col("parameter") == new)["prior"].to_list()[0] == "Gamma(alpha=3, beta=7)"
    with pytest.raises(PriorError, match=f"keep only '{new}'"), pytest.warns(DeprecationWarning):
        resolve_priors({new: prior, old: prior}, ["tv", "search"], default_roi=1.0)


def test_old_media_prior_name_in_a_channel_table_maps_too():
    from geommm.model.priors import Prior

    prior = Prior("Gamma", alpha=3.0, beta=7.0)
    with pytest.warns(DeprecationWarning, match=r"priors\['tv'\]: the prior name 'roi_geo_sd'"):
        by_old = resolve_priors({"tv": {"roi_geo_sd": prior}}, ["tv", "search"], default_roi=1.0)
    by_new = resolve_priors({"tv": {"effect_geo_sd": prior}}, ["tv", "search"], default_roi=1.0)
    assert by_old.table().equals(by_new.table())


def test_weibull_retention_row_says_it_is_the_scale_share(tiny_sim):
    import geommm as gm

    formula = tiny_sim.formula.replace("name='search')", "name='search', adstock='weibull')")
    assert "weibull" in formula
    table = gm.GeoMMM(formula, data=tiny_sim.panel, geo="geo", time="week").default_priors()
    rows = table.filter(pl.col("parameter") == "retention_logit")
    notes = dict(zip(rows["channel"], rows["note"]))
    assert notes["tv"] == "logit weekly carryover"
    assert notes["search"].startswith("logit of the Weibull scale as a share of max_lag")
