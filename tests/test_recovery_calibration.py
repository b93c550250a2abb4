"""Lift-test calibration recovered: a strictly collinear pair, a go-dark programme, NUTS.

Split from ``test_recovery.py`` so that the two slow module fits run on different
pytest-xdist workers (each module stays on one worker, conftest.py).
"""

from __future__ import annotations

import polars as pl
import pytest
from recovery_helpers import _fit, _with_truth

from geommm import sim

pytestmark = pytest.mark.slow


_A, _B = ["geo_00", "geo_01", "geo_02"], ["geo_03", "geo_04", "geo_05"]
#: a calibration programme: each of tv and search goes dark twice, once in each half of
#: the geos (while the other half is the control), 6 weeks each, 4 weeks measured after
_PROGRAMME = [
    {"channel": ch, "geos": cell, "start": start, "weeks": 6, "multiplier": 0.0, "post": 4}
    for ch, cell, start in (("tv", _A, 8), ("search", _B, 17), ("tv", _B, 38), ("search", _A, 48))
]


@pytest.fixture(scope="module")
def calibration():
    """tv and search bought on one plan (search's weekly spend in a geo a fixed multiple
    of tv's), so the panel alone trades one off against the other (posterior ROI
    correlation about -0.6); four go-dark tests, each measured to 5% of its lift."""
    result = sim.simulate(n_geos=6, n_weeks=104, n_channels=3, seed=4, collinear="strict",
                          lift_design=_PROGRAMME, lift_noise=0.05)
    # 2 x 500 each (was 2 x 1000, 223 s of the suite): these claims are about two channel
    # ROIs and the four tests' implied lifts, no per-geo quantiles. Measured at 2 x 500 with
    # sampler seeds 4 and 5: calibrated rel. errors 0.02-0.03 (bound 0.2), interval shrink
    # 0.37-0.40 (bound 0.3), all four tests agree, every implied-lift interval 0.36-0.52
    # of its uncalibrated width, no divergences. 2 x 300 was tried (session 9) and is too
    # short: sampler seed 5 gave search a shrink of 0.317 against the 0.3 bound (seed 4:
    # 0.43 / 0.39; rel. errors 0.02-0.03, all tests agree, lift intervals 0.34-0.50)
    return result, _fit(result, None, seed=4, draws=500), _fit(result, result.lift_tests, seed=4, draws=500)


def _collinear_roi(fit, truth):
    table = _with_truth(fit.roi(by="channel"), truth, ["channel"])
    return table.filter(pl.col("channel").is_in(["tv", "search"])).sort("channel")


def test_lift_calibrated_roi_of_collinear_channels_within_20_percent(calibration):
    result, _, calibrated = calibration
    after = _collinear_roi(calibrated, result.truth.roi_national)
    assert (after["rel_error"] <= 0.2).all(), after


def test_lift_tests_shrink_collinear_roi_intervals_by_30_percent(calibration):
    """Measured (2 x 500): 37% (search) and 40% (tv) with sampler seed 4, 38% / 40% with seed 5. With the same programme at 15% lift
    noise the shrink is 13% / 19%: a test narrows an interval only as far as it is more
    precise than what the panel already says (here about +-10% on each ROI)."""
    result, plain, calibrated = calibration
    before = _collinear_roi(plain, result.truth.roi_national)
    after = _collinear_roi(calibrated, result.truth.roi_national)
    width = lambda t: (t["roi_hdi_high"] - t["roi_hdi_low"]).to_numpy()  # noqa: E731
    shrink = 1 - width(after) / width(before)
    assert (shrink >= 0.3).all(), (before, after)


def test_calibrated_model_agrees_with_the_experiments(calibration):
    result, _, calibrated = calibration
    check = calibrated.lift_test_check()
    inside = (check["implied_hdi_low"] - 2 * check["lift_se"] <= check["lift"]) & (
        check["lift"] <= check["implied_hdi_high"] + 2 * check["lift_se"])
    assert inside.all(), check


def test_lift_check_before_and_after_calibration(calibration):
    """The uncalibrated fit can be checked against the experiments too: its implied
    lifts are less certain than the calibrated fit's, for the same tests."""
    result, plain, calibrated = calibration
    before, after = plain.lift_test_check(result.lift_tests), calibrated.lift_test_check()
    assert before["test_id"].to_list() == after["test_id"].to_list() == result.lift_tests["test_id"].to_list()
    width = lambda t: (t["implied_hdi_high"] - t["implied_hdi_low"]).to_numpy()  # noqa: E731
    assert (width(after) < width(before)).all(), (before, after)
