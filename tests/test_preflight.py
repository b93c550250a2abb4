"""Pre-flight data checks: each one fires on a crafted panel and stays quiet on a clean one.

Panels are tiny and built with numpy (no fit), so the whole file runs in seconds;
the identification simulation is tested in ``test_preflight_simulate.py``.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import polars as pl
import pytest

import geommm as gm
from geommm import sim
from geommm.errors import FitError, PreflightError, PreflightWarning
from geommm.workflows.preflight import SCHEMA, SEVERITIES, preflight
from geommm.workflows.preflight.design import build_design
from geommm.workflows.preflight.ratio import count_for

G, T = 4, 60
GEOS = [f"g{g}" for g in range(G)]
WEEKS = [dt.date(2023, 1, 2) + dt.timedelta(weeks=t) for t in range(T)]
FORMULA = (
    "sales ~ price + fourier(52, 1) + trend() + (1 | geo)"
    " + media(a_spend, name='a') + media(b_spend, name='b')"
)


def flights(rng: np.random.Generator, on: float = 0.5) -> np.ndarray:
    """(G, T) bursty spend: on/off per geo and week, lognormal amounts."""
    return (rng.random((G, T)) < on) * rng.lognormal(3.0, 0.4, (G, T))


def make(seed: int = 0, **columns) -> pl.DataFrame:
    """A clean panel (independent flighting, price wandering, noise 5%); ``columns``
    replace any column with a (G, T) array."""
    rng = np.random.default_rng(seed)
    cols = {
        "a_spend": flights(rng),
        "b_spend": flights(rng),
        "price": 1 + 0.05 * rng.standard_normal((G, T)),
        "promo": (rng.random((G, T)) < 0.2).astype(float),
    }
    cols.update({k: np.asarray(v, dtype=float) for k, v in columns.items() if k != "sales"})
    sales = 100 * (1 + 0.002 * cols["a_spend"] + 0.003 * cols["b_spend"]
                   - 0.3 * (cols["price"] - 1) + 0.05 * rng.standard_normal((G, T)))
    cols["sales"] = np.asarray(columns.get("sales", sales), dtype=float)
    frame = {"geo": np.repeat(GEOS, T), "week": WEEKS * G}
    frame.update({k: v.reshape(-1) for k, v in cols.items()})
    return pl.DataFrame(frame)


def run(frame: pl.DataFrame, formula: str = FORMULA, lift_tests=None, **kw) -> pl.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return preflight(frame, formula, lift_tests, geo="geo", time="week", **kw)


def rows(table: pl.DataFrame, check: str, severity: str | None = None) -> pl.DataFrame:
    out = table.filter(pl.col("check") == check)
    return out if severity is None else out.filter(pl.col("severity") == severity)


@pytest.fixture(scope="module")
def clean() -> pl.DataFrame:
    return run(make())


# --- the table -------------------------------------------------------------------------


def test_table_has_the_contract_columns_and_decision_first_order():
    table = run(make(sales=np.full((G, T), 5.0)))
    assert dict(table.schema) == SCHEMA
    order = [SEVERITIES.index(s) for s in table["severity"]]
    assert order == sorted(order) and table["severity"][0] == "blocking"


def test_clean_panel_has_no_blocking_and_no_warnings(clean):
    assert clean.filter(pl.col("severity") != "info").height == 0, clean
    assert set(rows(clean, "spend_variation")["channel"]) == {"a", "b"}


# --- KPI -------------------------------------------------------------------------------


def test_kpi_constant_in_a_geo_blocks_naming_geo_and_number():
    sales = make()["sales"].to_numpy().reshape(G, T).copy()
    sales[2] = 123.0
    found = rows(run(make(sales=sales)), "kpi_constant", "blocking")
    assert found["geo"].to_list() == ["g2"] and found["value"][0] == 0.0
    assert "'g2'" in found["message"][0] and "123" in found["message"][0]


def test_kpi_with_non_positive_mean_blocks_unless_scaled_by_population():
    sales = make()["sales"].to_numpy().reshape(G, T).copy()
    sales[1] -= 200.0
    assert rows(run(make(sales=sales)), "kpi_scale", "blocking")["geo"].to_list() == ["g1"]
    with_pop = make(sales=sales).with_columns(pl.lit(1000.0).alias("population"))
    assert rows(run(with_pop, population="population"), "kpi_scale").height == 0


def test_near_constant_kpi_warns(clean):
    sales = 1e6 + np.random.default_rng(1).standard_normal((G, T))
    assert rows(run(make(sales=sales)), "kpi_near_constant", "warning").height == G
    assert rows(clean, "kpi_near_constant").height == 0


def test_kpi_outlier_warns_with_its_week(clean):
    sales = make()["sales"].to_numpy().reshape(G, T).copy()
    sales[3, 30] *= 2.0
    found = rows(run(make(sales=sales)), "kpi_outliers", "warning")
    assert found["geo"].to_list() == ["g3"] and str(WEEKS[30]) in found["message"][0]
    assert rows(clean, "kpi_outliers").height == 0


def test_kpi_level_shift_warns_with_its_week(clean):
    sales = make()["sales"].to_numpy().reshape(G, T).copy()
    sales[0, 35:] *= 1.6  # a tracking change: +60% from week 35
    found = rows(run(make(sales=sales)), "kpi_level_shift", "warning")
    assert found["geo"].to_list() == ["g0"]
    assert any(str(WEEKS[w]) in found["message"][0] for w in (34, 35, 36))
    assert rows(clean, "kpi_level_shift").height == 0


# --- spend variation -------------------------------------------------------------------


def test_media_column_all_zero_blocks():
    found = rows(run(make(b_spend=np.zeros((G, T)))), "media_all_zero", "blocking")
    assert found["channel"].to_list() == ["b"] and "'b_spend'" in found["message"][0]


def test_channel_absent_from_a_geo_is_information_only():
    b = flights(np.random.default_rng(3))
    b[1] = 0.0
    table = run(make(b_spend=b))
    assert rows(table, "channel_absent", "info")[["channel", "geo"]].rows() == [("b", "g1")]
    assert table.filter(pl.col("severity") == "blocking").height == 0


def test_few_active_weeks_warns(clean):
    b = flights(np.random.default_rng(3))
    b[2] = 0.0
    b[2, [5, 20, 40]] = 30.0
    found = rows(run(make(b_spend=b)), "few_active_weeks", "warning")
    assert found[["channel", "geo", "value"]].rows() == [("b", "g2", 3.0)]
    assert rows(clean, "few_active_weeks").height == 0


def test_flat_always_on_channel_warns(clean):
    flat = 50.0 * np.exp(0.02 * np.random.default_rng(4).standard_normal((G, T)))
    found = rows(run(make(b_spend=flat)), "low_variation", "warning")
    assert found["channel"].to_list() == ["b"] and found["value"][0] < 0.1
    assert rows(clean, "low_variation").height == 0


# --- collinearity ----------------------------------------------------------------------


def test_channels_bought_together_warn_and_independent_ones_do_not(clean):
    rng = np.random.default_rng(5)
    a = flights(rng)
    b = a * rng.lognormal(0.0, 0.15, (G, T))  # same weeks, own amounts
    table = run(make(a_spend=a, b_spend=b))
    assert rows(table, "correlated_pair", "warning")["channel"].to_list() == ["a+b"]
    assert rows(table, "fixed_multiple").height == 0
    assert rows(clean, "correlated_pair").height == 0


def test_fixed_multiple_of_spend_warns_with_variance_inflation(clean):
    a = flights(np.random.default_rng(6))
    b = a * np.array([1.5, 2.0, 0.7, 1.1])[:, None]  # a fixed multiple per geo
    table = run(make(a_spend=a, b_spend=b))
    assert rows(table, "fixed_multiple", "warning")["channel"].to_list() == ["a+b"]
    vif = rows(table, "variance_inflation", "warning")
    assert set(vif["channel"]) == {"a", "b"} and (vif["value"] >= 10).all()
    assert rows(clean, "fixed_multiple").height == 0
    assert rows(clean, "variance_inflation").height == 0


# --- controls --------------------------------------------------------------------------


def test_constant_control_blocks_naming_it():
    found = rows(run(make(price=np.ones((G, T)))), "control_constant", "blocking")
    assert found["control"].to_list() == ["price"]


def test_near_constant_control_warns(clean):
    promo = np.zeros((G, T))
    promo[0, 10] = 1.0
    table = run(make(promo=promo), FORMULA.replace("price +", "price + promo +"))
    assert rows(table, "control_near_constant", "warning")["control"].to_list() == ["promo"]
    assert rows(clean, "control_near_constant").height == 0


def test_control_that_only_differs_between_geos_warns(clean):
    found = rows(run(make(price=np.repeat([[1.0], [1.1], [0.9], [1.2]], T, axis=1))),
                 "control_between_geos", "warning")
    assert found["control"].to_list() == ["price"]
    assert rows(clean, "control_between_geos").height == 0


def test_control_moving_with_media_warns(clean):
    a = flights(np.random.default_rng(7))
    table = run(make(a_spend=a, price=1 + 0.001 * a))
    found = rows(table, "control_media", "warning")
    assert found[["control", "channel"]].rows() == [("price", "a")]
    assert rows(clean, "control_media").height == 0


def test_control_following_the_calendar_warns(clean):
    t = np.arange(T)
    price = np.broadcast_to(1 + 0.05 * np.sin(2 * np.pi * t / 52) + 0.001 * t, (G, T))
    found = rows(run(make(price=price)), "control_calendar", "warning")
    assert found["control"].to_list() == ["price"] and found["value"][0] >= 0.9
    assert rows(clean, "control_calendar").height == 0


# --- data-to-parameter ratio -----------------------------------------------------------


def test_more_parameters_than_observations_warns_loudest():
    """Not blocking: a pooled Bayesian fit is still defined, it leans on the priors."""
    short = make().filter(pl.col("week") < WEEKS[8])
    found = rows(run(short, FORMULA.replace("fourier(52, 1)", "fourier(52, 6)")),
                 "data_to_parameter", "warning")
    assert found.height == 1 and found["value"][0] < 1
    assert "free parameters" in found["message"][0]


def test_low_ratio_warns_and_a_healthy_one_is_information(clean):
    short = make().filter(pl.col("week") < WEEKS[20])
    assert rows(run(short), "data_to_parameter", "warning").height >= 1
    info = rows(clean, "data_to_parameter", "info")
    assert info.height == 1 and info["value"][0] >= 2


@pytest.mark.parametrize("formula", [
    FORMULA,
    FORMULA.replace("media(b_spend, name='b')", "media(b_spend, name='b', saturation='logistic')"),
    FORMULA.replace("(1 | geo)", "(1 | geo) + (price | geo)").replace("price +", "price + promo +"),
])
def test_parameter_count_matches_the_model(formula):
    """The count follows build.py: it equals the free parameters of the PyMC model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gm.GeoMMM(formula, data=make(), geo="geo", time="week")
        point = model.model.initial_point()
    n_free = sum(np.size(v) for v in point.values())
    design = build_design(make(), formula, geo="geo", time="week")
    assert count_for(design).total == n_free


def test_single_geo_parameter_count_matches_the_model():
    one = make().filter(pl.col("geo") == "g0")
    formula = FORMULA.replace(" + (1 | geo)", "")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        point = gm.GeoMMM(formula, data=one, geo="geo", time="week").model.initial_point()
    design = build_design(one, formula, geo="geo", time="week")
    assert count_for(design).total == sum(np.size(v) for v in point.values())


# --- lift tests ------------------------------------------------------------------------


def lift(test_id="t1", channel="a", geos="g0", start=20, end=25, measure_end=29,
         spend_delta=100.0) -> dict:
    return {"test_id": test_id, "channel": channel, "geos": geos, "start": WEEKS[start],
                "end": WEEKS[end], "measure_end": WEEKS[min(measure_end, T - 1)] if measure_end < T
                else WEEKS[-1] + dt.timedelta(weeks=measure_end - T + 1),
                "spend_delta": spend_delta, "lift": 50.0, "lift_se": 10.0}


def test_a_sound_lift_test_raises_nothing(clean):
    table = run(make(), lift_tests=pl.DataFrame([lift()]))
    assert table.filter(pl.col("check").str.starts_with("lift")).height == 0


@pytest.mark.parametrize("kw, check", [
    ({"geos": "g0;g9"}, "lift_unknown_geo"),
    ({"channel": "tv"}, "lift_unknown_channel"),
    ({"measure_end": T + 6}, "lift_outside_panel"),
])
def test_lift_test_the_model_cannot_replay_blocks(kw, check):
    found = rows(run(make(), lift_tests=pl.DataFrame([lift(**kw)])), check, "blocking")
    assert found.height == 1
    if check == "lift_unknown_geo":
        assert found["geo"][0] == "g9" and found["value"][0] == 1.0


def test_overlapping_lift_tests_warn_for_one_channel_and_inform_across_channels():
    same = pl.DataFrame([lift(), lift("t2", start=27, end=30, measure_end=34)])
    found = rows(run(make(), lift_tests=same), "lift_overlap", "warning")
    assert found["geo"].to_list() == ["g0"] and found["value"][0] == 15.0  # weeks 27..29, in days
    other = pl.DataFrame([lift(), lift("t2", channel="b", start=27, end=30, measure_end=34)])
    assert rows(run(make(), lift_tests=other), "lift_overlap", "info").height == 1
    apart = pl.DataFrame([lift(), lift("t2", geos="g1")])
    assert rows(run(make(), lift_tests=apart), "lift_overlap").height == 0


def test_go_dark_on_a_channel_paused_everywhere_warns():
    a = flights(np.random.default_rng(8))
    a[:, 16:26] = 0.0  # paused in every geo before and during the test
    dark = pl.DataFrame([lift(start=20, end=25, spend_delta=-100.0)])
    found = rows(run(make(a_spend=a), lift_tests=dark), "lift_already_dark", "warning")
    assert found["channel"].to_list() == ["a"]
    a[1:, 20:26] = 30.0  # other geos kept spending: a real go-dark
    assert rows(run(make(a_spend=a), lift_tests=dark), "lift_already_dark").height == 0


# --- the gate in GeoMMM.fit ------------------------------------------------------------


def _model(frame: pl.DataFrame) -> gm.GeoMMM:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return gm.GeoMMM(FORMULA, data=frame, geo="geo", time="week")


def _no_sampling(monkeypatch):
    """Stop right after the gate: sampling raises a marker the fit wraps in a FitError."""
    from geommm import sampling

    def stop(*args, **kwargs):
        raise RuntimeError("gate passed")

    monkeypatch.setattr(sampling, "run", stop)


@pytest.fixture()
def blocking_findings(monkeypatch) -> pl.DataFrame:
    """The gate's checks see a panel with a constant-KPI geo (what gm.preflight finds for
    it). Building a GeoMMM on such a panel already fails (geommm.model.design refuses a
    constant KPI per geo, and a constant control), so the gate is fed the real findings
    of that panel to show what it does with them."""
    from geommm.workflows.preflight import run as run_module

    sales = make()["sales"].to_numpy().reshape(G, T).copy()
    sales[2] = 123.0
    findings = run(make(sales=sales))
    monkeypatch.setattr(run_module, "run_checks", lambda design: findings)
    return findings


def test_fit_stops_with_a_typed_error_naming_the_geo_and_number(blocking_findings, monkeypatch):
    _no_sampling(monkeypatch)
    with pytest.raises(PreflightError, match=r"geo 'g2'.*standard deviation 0") as info:
        _model(make()).fit(method="map", progressbar=False)
    assert info.value.findings["geo"].to_list() == ["g2"]
    assert isinstance(info.value, gm.GeoMMMError)


def test_a_kpi_constant_in_a_geo_or_a_constant_control_is_refused_when_the_model_is_built():
    sales = make()["sales"].to_numpy().reshape(G, T).copy()
    sales[2] = 123.0
    with pytest.raises(gm.GeoMMMError, match=r"constant within 'geo' 'g2'"):
        _model(make(sales=sales))
    with pytest.raises(gm.GeoMMMError, match=r"'price'.*constant"):
        _model(make(price=np.full((G, T), 1.0)))


def test_fit_warns_and_goes_on_with_preflight_warn(blocking_findings, monkeypatch):
    _no_sampling(monkeypatch)
    with pytest.warns(PreflightWarning, match="g2"), pytest.raises(FitError, match="gate passed"):
        _model(make()).fit(method="map", progressbar=False, preflight="warn")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PreflightWarning)
        with pytest.raises(FitError, match="gate passed"):
            _model(make()).fit(method="map", progressbar=False, preflight="off")


def test_fit_refuses_an_unknown_preflight_mode(clean, monkeypatch):
    _no_sampling(monkeypatch)
    with pytest.raises(FitError, match="preflight='maybe'"):
        _model(make()).fit(method="map", progressbar=False, preflight="maybe")


# --- never blocks what the project fits ------------------------------------------------


def _panels():
    from geommm.demo import load_demo

    demo = load_demo()
    yield "demo", demo.panel, demo.formula, demo.lift_tests
    small = sim.simulate(n_geos=3, n_weeks=52, n_channels=2, seed=5, n_lift_tests=0)
    yield "small", small.panel, small.formula, None
    yield "one geo", small.panel.filter(pl.col("geo") == "geo_00"), small.formula, None
    dark = small.panel.with_columns(
        pl.when(pl.col("geo") == "geo_01").then(0.0).otherwise(pl.col("search_spend"))
        .alias("search_spend"))
    yield "dark geo", dark, small.formula, None
    for kw in ({"n_geos": 4, "n_weeks": 60, "n_channels": 2, "seed": 1, "n_lift_tests": 2},
               {"n_geos": 6, "n_weeks": 104, "n_channels": 3, "seed": 4, "collinear": "strict"},
               {"n_geos": 6, "n_weeks": 104, "n_channels": 8, "seed": 2, "collinear": False},
               {"n_geos": 20, "n_weeks": 156, "n_channels": 4, "seed": 0}):
        r = sim.simulate(**kw)
        yield str(kw), r.panel, r.formula, r.lift_tests if r.lift_tests.height else None


def test_demo_and_simulated_panels_are_never_blocked():
    for name, panel, formula, lifts in _panels():
        table = run(panel, formula, lift_tests=lifts)
        assert table.filter(pl.col("severity") == "blocking").height == 0, (name, table)


@pytest.mark.parametrize("formula, weeks, geos", [
    ("sales ~ media(a_spend, name='a')", 2, 1),
    ("sales ~ media(a_spend, name='a')", 12, 1),
    ("sales ~ trend() + (1 | geo) + media(a_spend, name='a')", 30, 2),
])
def test_degenerate_shapes_give_findings_not_crashes(formula, weeks, geos):
    frame = make().filter((pl.col("week") < WEEKS[weeks]) & pl.col("geo").is_in(GEOS[:geos]))
    table = run(frame, formula)
    assert dict(table.schema) == SCHEMA and table.height >= 1


# --- command line ----------------------------------------------------------------------


def test_validate_with_a_formula_prints_blocking_first_and_exits_1(tmp_path, capsys):
    from geommm.cli import main

    sales = make()["sales"].to_numpy().reshape(G, T).copy()
    sales[2] = 123.0
    path = tmp_path / "panel.csv"
    make(sales=sales).write_csv(path)
    code = main(["validate", str(path), "--time", "week", "--formula", FORMULA])
    text = capsys.readouterr().out
    assert code == 1
    assert text.index("BLOCKING") < text.index("INFO") and "'g2'" in text
    make().write_csv(path)
    assert main(["validate", str(path), "--time", "week", "--formula", FORMULA]) == 0
    assert "0 blocking" in capsys.readouterr().out


def test_validate_simulate_needs_a_formula(tmp_path, capsys):
    from geommm.cli import main

    path = tmp_path / "panel.csv"
    make().write_csv(path)
    assert main(["validate", str(path), "--time", "week", "--simulate"]) == 1
    assert "--simulate needs --formula" in capsys.readouterr().err
