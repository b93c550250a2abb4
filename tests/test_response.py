"""Response curves, the response model behind them, marginal ROI and what-if scenarios."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from geommm.analysis.forward import ForwardModel
from geommm.analysis.optimize import optimize_budget
from geommm.analysis.curves import response_curves
from geommm.analysis.roi import incremental_kpi
from geommm.analysis.scenario import scenario
from geommm.analysis.tables import RESPONSE_CURVES
from geommm.errors import DataError
from geommm.media import SATURATIONS

#: 3 channels (tv, search, social), no lift tests.
PANEL = {"n_geos": 4, "n_weeks": 60, "n_channels": 3, "seed": 1, "n_lift_tests": 0}


@pytest.fixture(scope="module")
def sim(tiny_panel):
    return tiny_panel(**PANEL)


@pytest.fixture(scope="module")
def fit(tiny_fit):
    return tiny_fit("map", panel=PANEL, seed=1)


@pytest.fixture(scope="module")
def curves(fit):
    return response_curves(fit)


# ----------------------------------------------------------------- response curves
def test_curve_columns_and_grid(curves, fit):
    assert curves.columns == list(RESPONSE_CURVES)
    assert sorted(curves["geo"].unique()) == sorted([*fit.data.geos, "national"])
    grid = curves.filter((pl.col("geo") == "national") & (pl.col("channel") == "tv"))[
        "spend_multiplier"
    ]
    np.testing.assert_allclose(grid, np.linspace(0, 2, 21))


def test_curves_are_monotone_in_spend(curves):
    for (_, _), part in curves.sort("spend").group_by(["geo", "channel"]):
        kpi = part.sort("spend")["incremental_kpi_mean"].to_numpy()
        assert np.all(np.diff(kpi) >= -1e-9 * np.abs(kpi).max())


def test_national_curve_sums_geos_and_matches_roi(curves, fit):
    geo_rows = curves.filter(pl.col("geo") != "national")
    summed = geo_rows.group_by("channel", "spend_multiplier").agg(
        pl.col("incremental_kpi_mean").sum()
    )
    national = curves.filter(pl.col("geo") == "national").join(
        summed, on=["channel", "spend_multiplier"]
    )
    np.testing.assert_allclose(
        national["incremental_kpi_mean"], national["incremental_kpi_mean_right"], rtol=1e-9
    )
    at_one = curves.filter((pl.col("geo") == "national") & (pl.col("spend_multiplier") == 1.0))
    roi = fit.roi(by="channel").join(at_one, on="channel")
    np.testing.assert_allclose(
        roi["incremental_kpi_mean"] / roi["spend_right"], roi["roi_mean"], rtol=1e-9
    )
    np.testing.assert_allclose(roi["spend"], roi["spend_right"])


def test_curve_filters_and_custom_grid(fit):
    out = response_curves(fit, geo="national", channel=["tv"], spend_grid=[0.5, 1.0, 1.5])
    assert out.height == 3 and set(out["geo"]) == {"national"} and set(out["channel"]) == {"tv"}
    with pytest.raises(DataError, match="unknown geo"):
        response_curves(fit, geo="atlantis")
    with pytest.raises(DataError, match="non-negative"):
        response_curves(fit, spend_grid=[-1.0, 1.0])


# ----------------------------------------------------------------- response model
def test_media_response_matches_the_forward_model(fit):
    fw = fit.forward
    response = fw.plan_response()
    np.testing.assert_allclose(response.kpi(1.0), incremental_kpi(fw, 1.0), rtol=1e-9)
    m = np.array([0.3, 1.2, 2.0])
    np.testing.assert_allclose(response.kpi(m), incremental_kpi(fw, m), rtol=1e-9)


@pytest.mark.parametrize("kind", SATURATIONS)
def test_response_derivatives_match_finite_differences(fit, kind):
    fw = fit.forward
    spec = dataclasses.replace(
        fw.spec, media=tuple(dataclasses.replace(m, saturation=kind) for m in fw.spec.media)
    )
    draws = {"exponent": np.full_like(fw.draws["slope"], 0.6), **fw.draws}  # power's own parameter
    response = ForwardModel(spec, fw.data, draws).plan_response()
    m = np.random.default_rng(0).uniform(0.4, 1.6, (fw.data.n_geos, fw.data.n_channels))
    kpi, grad, hess = response.derivatives(m, order=2)
    h = 1e-5
    up_kpi, up_grad = response.kpi_and_gradient(m + h)
    down_kpi, down_grad = response.kpi_and_gradient(m - h)
    np.testing.assert_allclose((up_kpi - down_kpi) / (2 * h), grad, rtol=1e-5)
    np.testing.assert_allclose(
        (up_grad - down_grad) / (2 * h), hess, rtol=1e-4, atol=1e-6 * np.abs(hess).max()
    )


# -------------------------------------------------------------------- marginal ROI
def test_marginal_roi_below_roi_for_a_saturated_channel(sim, fit):
    tv = sim.truth.channels.index("tv")
    # the simulated tv is S-shaped (Hill slope >= 1) and run well past its half-saturation
    assert sim.truth.slope[tv] >= 1.0 and np.all(sim.truth.half_saturation[:, tv] < 1.0)
    assert float(fit.forward.draws["slope"][:, tv].mean()) >= 1.0
    roi = fit.roi(by="channel").filter(pl.col("channel") == "tv")["roi_mean"][0]
    marginal = fit.marginal_roi(by="channel").filter(pl.col("channel") == "tv")["roi_mean"][0]
    assert marginal < roi
    per_geo = fit.roi(by="geo").join(fit.marginal_roi(by="geo"), on=["geo", "channel"])
    tv_geo = per_geo.filter(pl.col("channel") == "tv")
    assert (tv_geo["roi_mean_right"] < tv_geo["roi_mean"]).all()


# ------------------------------------------------------------------------ scenarios
def _zero_change(table: pl.DataFrame) -> None:
    for col in ("change_mean", "change_hdi_low", "change_hdi_high", "spend_change"):
        np.testing.assert_allclose(table[col], 0.0, atol=1e-9)


def test_scenario_with_all_multipliers_one_changes_nothing(fit):
    _zero_change(scenario(fit, {c: 1.0 for c in fit.channels}))
    _zero_change(
        scenario(fit, pl.DataFrame({"geo": ["geo_00"], "channel": ["tv"], "multiplier": [1.0]}))
    )
    frame = fit.panel.frame
    restated = pl.concat(
        [
            frame.select(
                "geo", "week", pl.col(fit.spec.media_term(c).spend).alias("spend")
            ).with_columns(pl.lit(c).alias("channel"))
            for c in fit.channels
        ]
    )
    _zero_change(scenario(fit, restated))


def test_scenario_more_tv_spend_adds_kpi_only_through_tv(fit):
    out = scenario(fit, {"tv": 1.5})
    assert out.columns[:5] == ["geo", "channel", "current_spend", "spend", "spend_change"]
    tv = out.filter(pl.col("channel") == "tv")
    assert (tv["change_mean"] > 0).all()
    np.testing.assert_allclose(tv["spend_change"], 0.5 * tv["current_spend"].to_numpy())
    others = out.filter(pl.col("channel").is_in(["search", "social"]))
    np.testing.assert_allclose(others["change_mean"], 0.0, atol=1e-9)
    national = out.filter((pl.col("geo") == "national") & (pl.col("channel") == "all media"))
    assert national["change_mean"][0] == pytest.approx(
        tv.filter(pl.col("geo") == "national")["change_mean"][0]
    )


def test_scenario_with_future_weeks(fit):
    last = fit.data.times[-1]
    weeks = [last + np.timedelta64(7 * k, "D") for k in (1, 2, 3, 4)]
    plan = pl.DataFrame(
        {
            "geo": np.repeat(fit.data.geos, 4),
            "week": np.tile(weeks, fit.data.n_geos),
            "channel": "search",
            "spend": 2e5,
        }
    ).with_columns(pl.col("week").cast(pl.Date))
    out = scenario(fit, plan)
    search = out.filter((pl.col("geo") == "national") & (pl.col("channel") == "search"))
    assert search["spend"][0] > 0 and np.isfinite(search["change_mean"][0])
    np.testing.assert_allclose(out.filter(pl.col("channel") == "tv")["change_mean"], 0.0, atol=1e-9)


@pytest.mark.parametrize(
    "plan, message",
    [
        ({"radio": 1.2}, "unknown channel"),
        ({"tv": -1.0}, ">= 0"),
        (
            pl.DataFrame(
                {"geo": ["geo_00"], "week": ["2022-01-05"], "channel": ["tv"], "spend": [1.0]}
            ),
            "same weekday",
        ),
        (
            pl.DataFrame(
                {"geo": ["geo_00"], "week": ["2022-01-03"], "channel": ["tv"], "spend": [-1.0]}
            ),
            "spend must be >= 0",
        ),
        ([1, 2], "spend_plan must be"),
    ],
)
def test_scenario_mistakes(fit, plan, message):
    with pytest.raises(DataError, match=message):
        scenario(fit, plan)


# -------------------------------------------------------------- a real Fit in the optimiser
def test_optimizer_accepts_a_fit(fit):
    alloc = optimize_budget(fit, by="geo", bounds=(0.8, 1.2))
    assert alloc.table.height == fit.data.n_geos * fit.data.n_channels
    assert alloc.table["optimal_spend"].sum() == pytest.approx(
        float(fit.data.spend.sum()), rel=1e-6
    )
    assert alloc.summary["expected_lift_mean"] >= -1e-6
