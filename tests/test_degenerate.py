"""Degenerate but legal inputs work: one geo, one channel, spend in any currency unit."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

import geommm as gm

#: 3 geos x 52 weeks x 2 channels (tv, search), no lift tests.
SMALL = {"n_geos": 3, "n_weeks": 52, "n_channels": 2, "seed": 5, "n_lift_tests": 0}


@pytest.fixture(scope="module")
def small(tiny_panel):
    return tiny_panel(**SMALL)


def _map(formula, panel, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gm.GeoMMM(formula, data=panel, geo="geo", time="week", **kw)
        return model.fit(method="map", seed=0, progressbar=False)


def test_single_geo_fits_without_pooling(small):
    one = small.panel.filter(pl.col("geo") == "geo_00")
    fit = _map(small.formula, one)
    roi = fit.roi(by="geo")
    assert roi["geo"].unique().to_list() == ["geo_00"]
    assert roi["roi_mean"].is_finite().all()
    assert "kpi_level_geo_u" not in fit.idata.posterior  # nothing to pool with one geo


def test_single_channel(small):
    formula = "revenue ~ price_index + trend() + (1 | geo) + media(search_spend, name='search')"
    fit = _map(formula, small.panel)
    assert fit.roi(by="channel")["channel"].to_list() == ["search"]


def test_channel_dark_in_some_geos_is_left_out_of_geo_roi(small):
    panel = small.panel.with_columns(
        pl.when(pl.col("geo") == "geo_01").then(0.0).otherwise(pl.col("search_spend")).alias("search_spend")
    )
    fit = _map(small.formula, panel)
    roi = fit.roi(by="geo")
    assert roi.filter((pl.col("geo") == "geo_01") & (pl.col("channel") == "search")).height == 0
    assert roi["roi_mean"].is_finite().all()


@pytest.mark.parametrize("scale", [1e-3, 1e9])
def test_spend_units_do_not_change_the_answer(small, tiny_fit, scale):
    """Spend in thousands or in cents: ROI scales exactly by 1/scale (priors are scale-free)."""
    base = tiny_fit("map", panel=SMALL, seed=0).roi(by="channel")  # the same fit as _map's
    cols = [c for c in small.panel.columns if c.endswith("_spend") or c.endswith("_impressions")]
    scaled_panel = small.panel.with_columns([pl.col(c) * scale for c in cols])
    scaled = _map(small.formula, scaled_panel).roi(by="channel")
    np.testing.assert_allclose(scaled["roi_mean"] * scale, base["roi_mean"], rtol=2e-2)  # MAP optimiser tolerance, not the model


@pytest.mark.bad_input
def test_all_zero_channel_is_refused(small):
    panel = small.panel.with_columns(pl.lit(0.0).alias("search_spend"))
    with pytest.raises(gm.errors.DataError, match="search"):
        gm.GeoMMM(small.formula, data=panel, geo="geo", time="week")


@pytest.mark.bad_input
def test_constant_control_is_refused(small):
    panel = small.panel.with_columns(pl.lit(1.0).alias("price_index"))
    with pytest.raises(gm.errors.DataError, match="price_index.*constant"):
        gm.GeoMMM(small.formula, data=panel, geo="geo", time="week")


@pytest.mark.bad_input
def test_kpi_with_non_positive_mean_is_refused(small):
    panel = small.panel.with_columns((pl.col("revenue") * 0).alias("revenue"))
    with pytest.raises(gm.errors.DataError, match="revenue"):
        gm.GeoMMM(small.formula, data=panel, geo="geo", time="week")


@pytest.mark.bad_input
def test_lift_test_for_unknown_geo_is_refused(tiny_sim):
    lifts = tiny_sim.lift_tests.with_columns(pl.lit("geo_99").alias("geos"))
    with pytest.raises(gm.errors.LiftTestError, match="geo_99"):
        gm.GeoMMM(tiny_sim.formula, data=tiny_sim.panel, geo="geo", time="week", lift_tests=lifts)


@pytest.mark.bad_input
def test_lift_test_window_outside_panel_is_refused(tiny_sim):
    import datetime as dt

    lifts = tiny_sim.lift_tests.with_columns(
        pl.lit(dt.date(2030, 1, 7)).alias("start"), pl.lit(dt.date(2030, 2, 4)).alias("end"),
        pl.lit(dt.date(2030, 3, 4)).alias("measure_end"))
    with pytest.raises(gm.errors.LiftTestError, match="2030"):
        gm.GeoMMM(tiny_sim.formula, data=tiny_sim.panel, geo="geo", time="week", lift_tests=lifts)
