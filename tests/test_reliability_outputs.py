"""Issue #21: output folders and files — checked before any long step, never lost, nothing stale.

One test (or a small group) per numbered item of the issue about what the
command line writes.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from cli_helpers import assert_user_error, run, unwritable_folder

from geommm import sim

pytestmark = pytest.mark.bad_input


@pytest.fixture(scope="module")
def panel_csv(tmp_path_factory) -> Path:
    result = sim.simulate(n_geos=2, n_weeks=30, n_channels=1, seed=1, n_lift_tests=0)
    path = tmp_path_factory.mktemp("panel") / "panel.csv"
    result.panel.write_csv(path)
    return path


@pytest.fixture(scope="module")
def saved_fit(map_fit, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("saved")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        map_fit.save(folder / "fit.nc")
    return folder


FORMULA = "revenue ~ trend() + (1 | geo) + media(tv_impressions, spend=tv_spend, name='tv')"


# --- item 3: an unwritable output folder is found before any long step -------------------


def test_fit_into_an_unwritable_folder_stops_before_fitting(panel_csv, tmp_path):
    with unwritable_folder(tmp_path / "locked") as locked:
        code, _, err = run("fit", "--data", panel_csv, "--time", "week", "--formula", FORMULA,
                           "--method", "map", "--out", locked, "--overwrite")
    assert_user_error(code, err, str(locked), "not writable")
    assert "fitting" not in err and "reading" not in err


@pytest.mark.parametrize("command", ["report", "optimize"])
def test_report_and_optimize_check_their_output_before_loading(saved_fit, tmp_path, command):
    with unwritable_folder(tmp_path / "locked") as locked:
        code, _, err = run(command, saved_fit, "--out", locked / "result.out")
    assert_user_error(code, err, str(locked), "not writable")
    assert "loading" not in err


def test_simulate_into_an_unwritable_folder(tmp_path):
    with unwritable_folder(tmp_path / "locked") as locked:
        code, _, err = run("simulate", "--geos", "2", "--weeks", "10", "--channels", "1",
                           "--out", locked, "--overwrite")
    assert_user_error(code, err, str(locked), "not writable")
    assert "simulating" not in err
