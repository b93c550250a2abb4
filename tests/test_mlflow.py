"""geommm.mlflow: a tiny fit logged to a local MLflow file store and read back."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest

import geommm as gm
from geommm import _hooks
from geommm.errors import GeoMMMError, OptionalDependencyError

mlflow = pytest.importorskip("mlflow")


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh local file store (MLflow 3 refuses a file store unless asked)."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    mlflow.set_tracking_uri(uri)
    yield mlflow.tracking.MlflowClient(tracking_uri=uri)
    _hooks.AFTER_FIT.pop("mlflow", None)
    mlflow.set_tracking_uri(None)


def test_log_fit_round_trip(map_fit, store, tmp_path):
    run_id = gm.mlflow.log_fit(map_fit, run_name="tiny", tags={"team": "growth"})
    run = store.get_run(run_id)
    assert run.info.run_name == "tiny" and run.info.status == "FINISHED"
    p, m, t = run.data.params, run.data.metrics, run.data.tags
    assert p["formula"] == map_fit.spec.formula
    assert p["method"] == "map" and p["n_geos"] == "4" and p["n_weeks"] == "60"
    assert p["channels"] == ",".join(map_fit.channels) and p["fit_id"] == map_fit.fit_id
    national = map_fit.roi(by="channel")
    for row in national.iter_rows(named=True):
        assert m[f"roi_mean.{row['channel']}"] == pytest.approx(row["roi_mean"])
        assert m[f"roi_hdi_low.{row['channel']}"] <= m[f"roi_hdi_high.{row['channel']}"]
    assert m["divergences"] == 0 and 0 < m["r2"] <= 1
    assert "max_r_hat" not in m  # MAP has no R-hat: left out, not logged as NaN
    assert t["team"] == "growth" and t["geommm.fit_id"] == map_fit.fit_id
    assert t["mlflow.note.content"].startswith("National ROI (90% interval) per channel:")
    # the saved fit comes back whole
    local = mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "dl"))
    loaded = gm.load_fit(f"{local}/fit/fit.nc")
    assert loaded.fit_id == map_fit.fit_id
    assert np.allclose(loaded.roi(by="channel")["roi_mean"], national["roi_mean"])
    names = {a.path for a in store.list_artifacts(run_id, "tables")}
    assert {"tables/roi_national.csv", "tables/roi_geo.csv", "tables/fit_metrics.csv",
            "tables/priors.csv"} <= names


def test_log_fit_into_the_active_run_without_artifacts(map_fit, store):
    with mlflow.start_run(run_name="outer") as outer:
        run_id = gm.mlflow.log_fit(map_fit, artifacts=False)
        assert mlflow.active_run().info.run_id == outer.info.run_id  # not ended by log_fit
    assert run_id == outer.info.run_id
    assert store.list_artifacts(run_id) == []
    assert store.get_run(run_id).data.params["likelihood"] == "normal"


def test_autolog_logs_each_geommm_fit(map_fit, tiny_mmm, store, monkeypatch):
    """GeoMMM.fit runs the hook; the sampler is replaced by the cached MAP draws (no refit)."""
    from geommm import sampling

    monkeypatch.setattr(sampling, "run", lambda build, settings, **kw: map_fit.idata.copy())
    gm.mlflow.autolog(run_name="auto", artifacts=False)
    fit = tiny_mmm().fit(method="map", seed=1, preflight="off", progressbar=False)
    runs = store.search_runs([store.get_experiment_by_name("Default").experiment_id])
    assert [r.info.run_name for r in runs] == ["auto"]
    assert runs[0].data.params["fit_id"] == fit.fit_id
    # inside an active run each fit gets a child run (parameters cannot be overwritten)
    with mlflow.start_run(run_name="parent") as parent:
        for _ in range(2):
            tiny_mmm().fit(method="map", seed=1, preflight="off", progressbar=False)
    children = store.search_runs(
        [runs[0].info.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert len(children) == 2
    gm.mlflow.autolog(False)
    tiny_mmm().fit(method="map", seed=1, preflight="off", progressbar=False)
    assert len(store.search_runs([runs[0].info.experiment_id])) == 4  # auto, parent, 2 children


def test_a_run_that_fails_to_log_is_marked_failed(map_fit, store, monkeypatch):
    monkeypatch.setattr(gm.mlflow, "fit_metrics", lambda fit: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        gm.mlflow.log_fit(map_fit, run_name="broken")
    assert mlflow.active_run() is None
    (run,) = store.search_runs([store.get_experiment_by_name("Default").experiment_id])
    assert run.info.status == "FAILED"


def test_a_failing_tracker_warns_and_keeps_the_fit(map_fit):
    _hooks.AFTER_FIT["boom"] = lambda fit: 1 / 0
    try:
        with pytest.warns(UserWarning, match="after-fit hook 'boom' failed"):
            _hooks.after_fit(map_fit)
    finally:
        _hooks.AFTER_FIT.pop("boom")


def test_missing_mlflow_is_a_clear_geommm_error(map_fit, monkeypatch):
    real_import = builtins.__import__

    def no_mlflow(name, *args, **kwargs):
        if name == "mlflow" or name.startswith("mlflow."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "mlflow", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_mlflow)
    with pytest.raises(OptionalDependencyError, match=r"pip install 'geommm\[mlflow\]'") as err:
        gm.mlflow.log_fit(map_fit)
    assert isinstance(err.value, GeoMMMError)
    with pytest.raises(OptionalDependencyError):
        gm.mlflow.autolog()
