"""Fit plumbing on cheap fits: tables, decomposition identities, save/load, diagnostics."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import geommm as gm
from geommm.errors import FitError

ROI_COLUMNS = ["geo", "channel", "spend", "roi_mean", "roi_median", "roi_hdi_low", "roi_hdi_high"]


def test_roi_tables_have_the_contract_columns(advi_fit):
    geo = advi_fit.roi(by="geo", hdi_prob=0.9)
    assert geo.columns == ROI_COLUMNS
    nat = advi_fit.roi(by="channel")
    assert nat.columns == ROI_COLUMNS[1:]
    assert set(nat["channel"]) == {"tv", "search"}
    assert (geo["roi_hdi_low"] <= geo["roi_median"]).all() and (geo["roi_median"] <= geo["roi_hdi_high"]).all()
    mroi = advi_fit.marginal_roi(by="channel")
    assert mroi.columns == nat.columns


def test_national_roi_is_spend_weighted_geo_roi(advi_fit):
    geo = advi_fit.roi(by="geo")
    nat = advi_fit.roi(by="channel")
    # means are linear: national mean ROI = sum(spend * geo mean ROI) / sum(spend)
    weighted = geo.group_by("channel").agg(
        ((pl.col("spend") * pl.col("roi_mean")).sum() / pl.col("spend").sum()).alias("weighted")
    )
    joined = nat.join(weighted, on="channel")
    np.testing.assert_allclose(joined["roi_mean"], joined["weighted"], rtol=1e-9)


def test_contributions_add_up_to_the_expected_kpi(map_fit):
    table = map_fit.contributions(by=["geo", "time"])
    assert {"geo", "time", "component", "component_type", "mean", "hdi_low", "hdi_high"} <= set(table.columns)
    total = table.group_by("geo", "time").agg(pl.col("mean").sum()).sort("geo", "time")["mean"].to_numpy()
    expected = map_fit.forward.expected_kpi()[0].reshape(-1)
    np.testing.assert_allclose(total, expected, rtol=1e-9)
    kinds = set(table["component_type"])
    assert {"baseline", "seasonality", "trend", "control", "media"} <= kinds
    national = map_fit.contributions(by=[])
    assert national.height == table["component"].n_unique()


def test_fit_metrics_and_fitted(map_fit):
    m = map_fit.fit_metrics()
    assert {"geo", "r2", "mape"} <= set(m.columns)
    assert m.filter(pl.col("geo") == "all geos")["r2"][0] > 0.8
    f = map_fit.fitted()
    assert f.columns == ["geo", "time", "actual", "mean", "hdi_low", "hdi_high", "holdout"]


def test_lift_test_check_lists_every_test(map_fit, tiny_sim):
    check = map_fit.lift_test_check()
    assert check["test_id"].to_list() == tiny_sim.lift_tests["test_id"].to_list()
    assert check["implied_mean"].is_finite().all()


def test_adstock_decay_sums_to_one(advi_fit):
    d = advi_fit.adstock_decay()
    sums = d.group_by("geo", "channel").agg(pl.col("weight_mean").sum())
    np.testing.assert_allclose(sums["weight_mean"], 1.0, rtol=1e-9)
    assert "national" in set(d["geo"])


def test_diagnostics_for_an_approximation_say_so(map_fit):
    d = map_fit.diagnostics()
    assert d.verdict == "approximate"
    assert "nuts" in d.messages[0]


def test_save_and_load_round_trip_exactly(advi_fit, tmp_path):
    path = advi_fit.save(tmp_path / "fit.nc")
    loaded = gm.load_fit(path)
    assert loaded.spec == advi_fit.spec
    for by in ("geo", "channel"):
        assert loaded.roi(by=by).equals(advi_fit.roi(by=by))
    assert loaded.contributions(by=["geo"]).equals(advi_fit.contributions(by=["geo"]))
    assert loaded.lift_test_check().equals(advi_fit.lift_test_check())


@pytest.mark.bad_input
def test_corrupted_saved_fit_gives_fit_error(tmp_path):
    bad = tmp_path / "fit.nc"
    bad.write_bytes(b"not a netcdf file at all")
    with pytest.raises(FitError, match="not a readable geommm fit"):
        gm.load_fit(bad)
    with pytest.raises(FitError, match="no saved fit"):
        gm.load_fit(tmp_path / "missing.nc")


@pytest.mark.bad_input
@pytest.mark.parametrize("kwargs, fragment", [
    ({"sampler": "stan"}, "sampler"),
    ({"method": "gibbs"}, "method"),
    ({"draws": 0}, "draws"),
    ({"target_accept": 1.5}, "target_accept"),
    ({"mass_matrix": "dense"}, "mass_matrix"),
])
def test_bad_fit_settings(tiny_model, kwargs, fragment):
    with pytest.raises(FitError, match=fragment):
        tiny_model.fit(progressbar=False, **kwargs)


def test_same_seed_same_draws(tiny_model):
    a = tiny_model.fit(method="advi", draws=20, tune=100, chains=1, seed=7, progressbar=False)
    b = tiny_model.fit(method="advi", draws=20, tune=100, chains=1, seed=7, progressbar=False)
    np.testing.assert_array_equal(a.idata.posterior["roi"].values, b.idata.posterior["roi"].values)
