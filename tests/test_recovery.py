"""Parameter recovery: simulate with known truth, fit with NUTS, the truth must be covered.

These are the honest tests of the model (slow: a numba compile plus a short NUTS
run each, about a minute). Run them alone with ``pytest -m slow``.
"""

from __future__ import annotations

import numpy as np
import pytest
from recovery_helpers import _fit, _with_truth

from geommm import sim

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def recovery():
    result = sim.simulate(n_geos=5, n_weeks=104, n_channels=3, seed=3, n_lift_tests=0)
    # 2 x 1000 draws (kept; the biggest fit in the suite): at 2 x 500 the 5%/95% quantiles
    # of the 15 per-geo retentions moved one geo across the 80% line between two equivalent
    # parameterisations (Monte Carlo), so the per-geo claims need the longer run. Warm-up
    # 500 (was 1000): measured with sampler seed 3, national ROI covered 3/3 (max rel.
    # error 0.075; 0.151 after 1000), per-geo ROI 100%, retentions 80% (same as after
    # 1000), 0 divergences (2), R-hat 1.007; 25% less CPU
    return result, _fit(result, draws=1000, tune=500)


def test_national_roi_of_every_channel_inside_90_hdi(recovery):
    result, fit = recovery
    nat = _with_truth(fit.roi(by="channel", hdi_prob=0.9), result.truth.roi_national, ["channel"])
    assert nat["covered"].all(), nat
    assert nat["rel_error"].max() < 0.35, nat


def test_per_geo_roi_coverage_at_least_80_percent(recovery):
    result, fit = recovery
    geo = _with_truth(fit.roi(by="geo", hdi_prob=0.9), result.truth.roi, ["geo", "channel"])
    assert geo["covered"].mean() >= 0.8, geo


def _retention(fit):
    post = fit.idata.posterior["retention"].values  # chain, draw, geo, channel
    return post.reshape(-1, *post.shape[2:])


def test_per_geo_adstock_retention_coverage_at_least_80_percent(recovery):
    result, fit = recovery
    lo, hi = np.quantile(_retention(fit), [0.05, 0.95], axis=0)
    truth = result.truth.alpha
    assert ((lo <= truth) & (truth <= hi)).mean() >= 0.8


@pytest.mark.xfail(
    reason="known gap: search (true retention 0.15, Hill slope 0.8, collinear with tv) is "
    "prior-dominated; its channel-mean 90% interval is [0.16, 0.74]",
)
def test_channel_mean_adstock_retention_inside_90_interval(recovery):
    result, fit = recovery
    truth = result.truth.alpha
    chan = _retention(fit).mean(axis=1)
    clo, chi = np.quantile(chan, [0.05, 0.95], axis=0)
    assert ((clo <= truth.mean(0)) & (truth.mean(0) <= chi)).all()


def test_sampler_health(recovery):
    _, fit = recovery
    d = fit.diagnostics()
    assert d.divergences <= 0.01 * 1000
    assert d.max_r_hat < 1.1
