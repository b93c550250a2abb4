"""Fit plumbing on cheap fits: tables, decomposition identities, save/load, diagnostics."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import polars as pl
import pytest

import geommm as gm
from geommm.analysis.tables import ROI_BY_CHANNEL, ROI_BY_GEO
from geommm.errors import FitError


def test_roi_tables_have_the_contract_columns(laplace_fit):
    geo = laplace_fit.roi(by="geo", hdi_prob=0.9)
    assert geo.columns == list(ROI_BY_GEO)
    nat = laplace_fit.roi(by="channel")
    assert nat.columns == list(ROI_BY_CHANNEL)
    assert set(nat["channel"]) == {"tv", "search"}
    assert (geo["roi_hdi_low"] <= geo["roi_median"]).all() and (geo["roi_median"] <= geo["roi_hdi_high"]).all()
    mroi = laplace_fit.marginal_roi(by="channel")
    assert mroi.columns == nat.columns


def test_national_roi_is_spend_weighted_geo_roi(laplace_fit):
    geo = laplace_fit.roi(by="geo")
    nat = laplace_fit.roi(by="channel")
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
    assert "national" not in f["geo"].to_list()


def test_fitted_national_rows_sum_the_geos_with_their_own_interval(laplace_fit):
    both = laplace_fit.fitted(national=True)
    geos = both.filter(pl.col("geo") != "national").group_by("time").agg(pl.col("actual", "mean").sum())
    national = both.filter(pl.col("geo") == "national").join(geos, on="time", suffix="_geos")
    assert national.height == laplace_fit.data.n_times
    np.testing.assert_allclose(national["actual"], national["actual_geos"], rtol=1e-12)
    np.testing.assert_allclose(national["mean"], national["mean_geos"], rtol=1e-9)
    assert (national["hdi_low"] < national["mean"]).all() and (national["mean"] < national["hdi_high"]).all()
    # the interval of a sum is narrower than the sum of the geos' intervals (noise averages out)
    width = both.filter(pl.col("geo") != "national").group_by("time").agg(
        (pl.col("hdi_high") - pl.col("hdi_low")).sum().alias("summed"))
    joined = national.with_columns((pl.col("hdi_high") - pl.col("hdi_low")).alias("w")).join(width, on="time")
    assert (joined["w"] < joined["summed"]).all()


def test_lift_test_check_lists_every_test(map_fit, tiny_sim):
    check = map_fit.lift_test_check()
    assert check["test_id"].to_list() == tiny_sim.lift_tests["test_id"].to_list()
    assert check["implied_mean"].is_finite().all()
    # tests passed in are read and placed on the grid the same way as the calibration tests
    assert map_fit.lift_test_check(tiny_sim.lift_tests).equals(check)


def test_adstock_decay_sums_to_one(laplace_fit):
    d = laplace_fit.adstock_decay()
    sums = d.group_by("geo", "channel").agg(pl.col("weight_mean").sum())
    np.testing.assert_allclose(sums["weight_mean"], 1.0, rtol=1e-9)
    assert "national" in set(d["geo"])


def test_diagnostics_for_an_approximation_say_so(map_fit):
    d = map_fit.diagnostics()
    assert d.verdict == "approximate"
    assert "nuts" in d.messages[0]


def test_summary_and_diagnostics_are_computed_once(laplace_fit, monkeypatch):
    """R-hat and ESS of every element are computed once per fit and shared by diagnostics()
    and summary(); a second call with the same arguments computes nothing (a new
    argument set recomputes only its own table)."""
    from geommm.analysis import convergence
    from geommm.analysis import diagnostics as diag_mod

    calls = []
    for module, name in ((convergence, "convergence"), (diag_mod, "parameter_summary")):
        real = getattr(module, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    # the Laplace draws read as NUTS, so diagnostics computes R-hat and ESS
    fit = gm.Fit(
        laplace_fit.idata, laplace_fit.spec, laplace_fit.panel,
        dataclasses.replace(laplace_fit.settings, method="nuts"), laplace_fit.priors, data=laplace_fit.data,
    )
    first_diag, first_table = fit.diagnostics(), fit.summary()
    assert sorted(calls) == ["convergence", "parameter_summary"]
    first_diag.messages.append("changed by the caller")
    second_diag, second_table = fit.diagnostics(), fit.summary()
    assert len(calls) == 2
    assert second_table.equals(first_table)
    assert "changed by the caller" not in second_diag.messages
    assert second_diag.max_r_hat == first_diag.max_r_hat
    fit.summary(hdi_prob=0.8)
    assert calls[2:] == ["parameter_summary"]


def test_save_and_load_round_trip_exactly(laplace_fit, tmp_path):
    path = laplace_fit.save(tmp_path / "fit.nc")
    loaded = gm.load_fit(path)
    assert loaded.spec == laplace_fit.spec
    for by in ("geo", "channel"):
        assert loaded.roi(by=by).equals(laplace_fit.roi(by=by))
    assert loaded.contributions(by=["geo"]).equals(laplace_fit.contributions(by=["geo"]))
    assert loaded.lift_test_check().equals(laplace_fit.lift_test_check())


def test_saved_fit_keeps_its_convergence_table_and_saves_again(laplace_fit, tmp_path, monkeypatch):
    """A saved NUTS fit carries its per-element R-hat / ESS, so a loaded fit's diagnostics()
    and summary() do not recompute them (and equal the original's exactly); draws that
    changed after saving are recomputed; a loaded fit can be saved again."""
    from geommm.analysis import convergence

    fit = gm.Fit(
        laplace_fit.idata, laplace_fit.spec, laplace_fit.panel,
        dataclasses.replace(laplace_fit.settings, method="nuts"), laplace_fit.priors, data=laplace_fit.data,
    )
    path = fit.save(tmp_path / "fit.nc")
    calls = []
    real = convergence.convergence
    monkeypatch.setattr(convergence, "convergence", lambda x: calls.append(1) or real(x))
    loaded = gm.load_fit(path)
    assert loaded.diagnostics().to_dict() == fit.diagnostics().to_dict()
    assert loaded.summary().equals(fit.summary())
    assert calls == []
    again = gm.load_fit(loaded.save(tmp_path / "again.nc"))  # was: '_NCProperties' is reserved
    assert again.summary().equals(fit.summary()) and calls == []
    # other draws under the same saved table: recomputed, not trusted
    from geommm import store

    meta = store._read(path)["geommm_panel"].attrs["geommm_meta"]
    edited = gm.Fit(
        fit.idata.map(lambda ds: ds * 1.5, groups="posterior"), fit.spec, fit.panel, fit.settings,
        fit.priors, data=fit.data,
    )
    from geommm.analysis.diagnostics import restore_convergence

    assert not restore_convergence(edited, __import__("json").loads(meta)["convergence"])
    assert restore_convergence(again, __import__("json").loads(meta)["convergence"])


def test_fast_load_reads_what_arviz_reads(laplace_fit, tmp_path):
    """load_fit reads the eager groups with h5py (and the rest lazily): every group equals
    arviz's reading of the same file, and a file without the saved layout (written
    before it existed) loads through arviz with the same results."""
    import json

    import arviz as az
    import xarray as xr

    from geommm import store

    laplace_fit.sample_posterior_predictive(seed=1)
    path = laplace_fit.save(tmp_path / "fit.nc")
    fast, ref = store._read(path), az.from_netcdf(str(path), engine="h5netcdf")
    assert fast.groups() == ref.groups()
    assert {"posterior", "log_likelihood", "posterior_predictive", "geommm_panel"} <= set(fast.groups())
    for group in ref.groups():
        xr.testing.assert_identical(fast[group], ref[group].load())
        for name in ref[group].variables:
            assert fast[group][name].dtype == ref[group][name].dtype, (group, name)
    # an older file: no layout in the metadata
    meta = json.loads(ref["geommm_panel"].attrs["geommm_meta"])
    del meta["layout"]
    ref["geommm_panel"].attrs["geommm_meta"] = json.dumps(meta)
    ref.to_netcdf(str(tmp_path / "old.nc"), engine="h5netcdf")
    old = gm.load_fit(tmp_path / "old.nc")
    assert old.roi(by="geo").equals(laplace_fit.roi(by="geo"))
    assert set(old.idata.groups()) == set(laplace_fit.idata.groups())


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


def test_a_format_1_fit_loads_under_todays_names(tiny_sim, tmp_path):
    """Format 1 (before the renames) called the baseline intercept_geo, the spread of
    the log media effect roi_geo_sd, and the level prior intercept: such a file loads
    quietly, in today's names, with the same results."""
    import json
    import warnings

    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gm.GeoMMM(
            tiny_sim.formula, data=tiny_sim.panel, geo="geo", time="week",
            priors={"kpi_level": gm.Prior("Normal", mu=0.9, sigma=0.5),
                    "tv": {"effect_geo_sd": gm.Prior("Gamma", alpha=2.0, beta=4.0)}},
        )
        fit = model.fit(method="map", seed=1, progressbar=False)
    new_path = fit.save(tmp_path / "format2.nc")

    # the same fit, edited back to format 1 with xarray
    idata = az.from_netcdf(str(new_path), engine="h5netcdf")
    old_names = {"baseline_geo": "intercept_geo", "effect_geo_sd": "roi_geo_sd"}
    for group in idata.groups():
        ds = idata[group]
        found = {k: v for k, v in old_names.items() if k in ds.data_vars}
        if found:
            setattr(idata, group, ds.rename(found))
    assert "intercept_geo" in idata.posterior and "roi_geo_sd" in idata.posterior
    meta = json.loads(idata["geommm_panel"].attrs["geommm_meta"])
    assert meta["format_version"] == 3
    meta["format_version"] = 1
    del meta["settings"]["precision"]  # format 1 predates it: those fits ran in float64
    meta["prior_overrides"] = {"intercept": meta["prior_overrides"]["kpi_level"],
                               "tv": {"roi_geo_sd": meta["prior_overrides"]["tv"]["effect_geo_sd"]}}
    idata["geommm_panel"].attrs["geommm_meta"] = json.dumps(meta)
    old_path = tmp_path / "format1.nc"
    idata.to_netcdf(str(old_path), engine="h5netcdf")

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        loaded = gm.load_fit(old_path)
    assert "baseline_geo" in loaded.idata.posterior and "intercept_geo" not in loaded.idata.posterior
    assert "effect_geo_sd" in loaded.idata.posterior and "roi_geo_sd" not in loaded.idata.posterior
    assert set(loaded.prior_overrides) == {"kpi_level", "tv"}
    assert set(loaded.prior_overrides["tv"]) == {"effect_geo_sd"}
    assert loaded.settings.precision == "float64"
    assert loaded.priors.table().equals(fit.priors.table())
    assert loaded.roi(by="geo").equals(fit.roi(by="geo"))
    assert loaded.contributions(by=["geo"]).equals(fit.contributions(by=["geo"]))
    assert gm.load_fit(loaded.save(tmp_path / "again.nc")).roi(by="channel").equals(fit.roi(by="channel"))


def test_a_format_2_fit_gets_zero_sum_seasonality_with_the_same_geo_seasons(tiny_sim, tmp_path):
    """Format 2 sampled seasonality's geo deviations free, (geo, fourier). On load they
    become format 3's zero-sum coordinates, (fourier, geo), with every draw's geo
    seasonality unchanged (the deviations' mean moves into the national coefficient),
    so a refresh of an old fit reads the coordinates today's model samples in."""
    import json
    import warnings

    import arviz as az
    import xarray as xr

    from geommm.store import _layout

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gm.GeoMMM(tiny_sim.formula, data=tiny_sim.panel, geo="geo", time="week")
        fit = model.fit(method="laplace", draws=20, chains=2, seed=1, progressbar=False)
    path = fit.save(tmp_path / "format3.nc")
    idata = az.from_netcdf(str(path), engine="h5netcdf")
    post = idata.posterior
    # format 2's layout, with deviations that do not sum to zero and the same geo values
    shift = xr.DataArray(np.linspace(-1.0, 1.0, post.sizes["fourier"]), dims="fourier",
                         coords={"fourier": post["fourier"]})
    old_z = (post["season_geo_z"] + shift).transpose("chain", "draw", "geo", "fourier")
    post["seasonality"] = post["seasonality"] - post["season_geo_sd"] * shift
    post["season_geo_z"] = old_z
    meta = json.loads(idata["geommm_panel"].attrs["geommm_meta"])
    meta["format_version"] = 2
    meta["layout"] = _layout(idata)  # the lazy reader trusts the saved layout's dims
    idata["geommm_panel"].attrs["geommm_meta"] = json.dumps(meta)
    old_path = tmp_path / "format2.nc"
    idata.to_netcdf(str(old_path), engine="h5netcdf")

    loaded = gm.load_fit(old_path).idata.posterior
    z = loaded["season_geo_z"]
    assert z.dims[-2:] == ("fourier", "geo")
    np.testing.assert_allclose(z.sum("geo").values, 0.0, atol=1e-10)
    again = loaded["seasonality"] + loaded["season_geo_sd"] * z
    np.testing.assert_allclose(again.transpose(*post["season_geo"].dims).values,
                               post["season_geo"].values, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(loaded["seasonality"].values, fit.idata.posterior["seasonality"].values,
                               rtol=1e-10, atol=1e-12)


@pytest.mark.bad_input
def test_a_fit_of_an_unknown_format_is_refused(map_fit, tmp_path):
    import json

    import arviz as az

    idata = az.from_netcdf(str(map_fit.save(tmp_path / "fit.nc")), engine="h5netcdf")
    meta = json.loads(idata["geommm_panel"].attrs["geommm_meta"])
    idata["geommm_panel"].attrs["geommm_meta"] = json.dumps({**meta, "format_version": 99})
    idata.to_netcdf(str(tmp_path / "future.nc"), engine="h5netcdf")
    with pytest.raises(FitError, match="saved with format 99, this geommm reads 3"):
        gm.load_fit(tmp_path / "future.nc")


def test_forward_model_memory_is_bounded(monkeypatch):
    """The arrays a ForwardModel keeps for reuse stay under MEMO_CELLS numbers in all:
    the oldest make room, an oversized array is recomputed each time."""
    import numpy as np

    from geommm.analysis import forward as fwd

    monkeypatch.setattr(fwd, "MEMO_CELLS", 10)
    model = fwd.ForwardModel.__new__(fwd.ForwardModel)
    model._memo, model._memo_lock = {}, threading.RLock()
    made = []

    def make(n):
        return lambda: made.append(n) or np.zeros(n)

    model.remember("a", make(4)), model.remember("b", make(4))
    assert model.remember("a", make(4)).size == 4 and made == [4, 4]  # kept
    model.remember("c", make(4))  # 12 > 10: "a" goes
    assert list(model._memo) == ["b", "c"]
    model.remember("big", make(11)), model.remember("big", make(11))
    assert made.count(11) == 2 and "big" not in model._memo
    assert sum(v.size for v in model._memo.values()) <= 10


def test_a_kept_array_asked_for_from_two_threads_is_made_once():
    """The report computes tables on two threads over one ForwardModel: the second asker
    waits for the first one's array instead of making it again (or racing the memo)."""
    import time

    import numpy as np

    from geommm.analysis import forward as fwd

    model = fwd.ForwardModel.__new__(fwd.ForwardModel)
    model._memo, model._memo_lock = {}, threading.RLock()
    made = []

    def slow():
        made.append(1)
        time.sleep(0.2)
        return np.ones(3)

    got = []
    threads = [threading.Thread(target=lambda: got.append(model.remember("x", slow))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert made == [1] and len(got) == 2 and got[0] is got[1]


def test_a_saved_fit_is_written_uncompressed_even_from_a_compressed_file(map_fit, tmp_path):
    """Draws are noise to zlib, and compressing them in small chunks cost seconds of each
    save: every variable is written whole and uncompressed, also when the fit came from
    a file that had them compressed, with the same values."""
    import arviz as az
    import h5py

    def compressed(path):
        found = []
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: found.append(name)
                         if isinstance(obj, h5py.Dataset) and (obj.compression or obj.chunks) else None)
        return found

    first = map_fit.save(tmp_path / "first.nc")
    assert compressed(first) == []
    packed = tmp_path / "packed.nc"
    az.from_netcdf(str(first), engine="h5netcdf").to_netcdf(str(packed), engine="h5netcdf", compress=True)
    assert compressed(packed)  # the test's premise: arviz compresses by default
    again = gm.load_fit(packed).save(tmp_path / "again.nc")
    assert compressed(again) == []
    assert gm.load_fit(again).roi(by="geo").equals(map_fit.roi(by="geo"))
