"""Partial centring is read from the data: pinned-down channels centred, weak ones not."""

from __future__ import annotations

import numpy as np
import pytest

import geommm as gm
from geommm.model.centring import (
    _neck_spread,
    geo_effect_centring,
    geo_effect_evidence,
    geo_level_centring,
)


@pytest.fixture(scope="module")
def rich_model(tiny_mmm):
    return tiny_mmm(n_geos=20, n_weeks=156, n_channels=5, seed=0, n_lift_tests=0)


@pytest.fixture(scope="module")
def one_geo_model(tiny_panel):
    """One geo, so no geo grouping term in the formula."""
    one = tiny_panel(n_geos=1, n_weeks=60, n_channels=2, seed=2, n_lift_tests=0)
    formula = one.formula.replace(" + (1 | geo)", "")
    return gm.GeoMMM(formula, data=one.panel, geo="geo", time="week")


def test_weights_are_in_unit_interval_and_separate_channels(rich_model):
    m = rich_model
    w = dict(zip(m.spec.channels, geo_effect_centring(m.spec, m.data, m.priors)))
    assert all(0.0 <= v <= 1.0 for v in w.values())
    # social: large spend, one outlying geo -> its geo effects are pinned by the data
    assert w["social"] < 0.3
    # search: collinear with tv -> per-geo effects are not identified on their own
    assert w["search"] > 0.9


def test_evidence_is_finite_where_there_is_signal(rich_model):
    m = rich_model
    s, tau = geo_effect_evidence(m.spec, m.data, m.priors)
    assert s.shape == (m.data.n_geos, m.data.n_channels) and tau.shape == (m.data.n_channels,)
    assert np.isfinite(s).all() and (s > 0).all() and (tau >= 0).all()


def test_one_geo_is_not_pooled(one_geo_model):
    m = one_geo_model
    np.testing.assert_array_equal(geo_effect_centring(m.spec, m.data, m.priors), np.ones(2))


def test_too_few_weeks_per_geo_falls_back_to_non_centred(tiny_mmm):
    m = tiny_mmm(n_geos=3, n_weeks=12, n_channels=2, seed=2, n_lift_tests=0)
    np.testing.assert_array_equal(geo_effect_centring(m.spec, m.data, m.priors), np.ones(2))


def test_geo_levels_pinned_by_many_weeks_are_centred(rich_model):
    m = rich_model
    assert geo_level_centring(m.spec, m.data, m.priors) == 0.0


def test_geo_levels_drowned_in_noise_stay_non_centred(tiny_mmm):
    m = tiny_mmm(n_geos=6, n_weeks=30, n_channels=2, seed=2, noise=0.5, n_lift_tests=0)
    assert geo_level_centring(m.spec, m.data, m.priors) == 1.0


def test_level_centring_falls_back_to_non_centred_without_geos_or_weeks(one_geo_model, tiny_mmm):
    m = one_geo_model
    assert geo_level_centring(m.spec, m.data, m.priors) == 1.0
    # 10 weeks, 9 regressors: no per-geo noise estimate
    m = tiny_mmm(n_geos=3, n_weeks=10, n_channels=2, seed=2, n_lift_tests=0)
    assert geo_level_centring(m.spec, m.data, m.priors) == 1.0


def test_the_prior_median_caps_the_spread_the_weight_reads(tiny_panel):
    """The data's moment spread is an upper bound (carryover and saturation differences
    read as effect differences); above the prior's median spread it is not trusted. A
    prior that says geos differ little makes channels less centred; one that allows any
    spread leaves the data's weights as they were."""
    r = tiny_panel(n_geos=20, n_weeks=156, n_channels=5, seed=0, n_lift_tests=0)

    def weights(prior):
        m = gm.GeoMMM(r.formula, data=r.panel, geo="geo", time="week",
                      priors={"effect_geo_sd": prior})
        s, tau = geo_effect_evidence(m.spec, m.data, m.priors)
        return s, tau, geo_effect_centring(m.spec, m.data, m.priors)

    s, tau, loose = weights(gm.Prior("Gamma", alpha=2.0, beta=0.05))  # median ~34: no cap
    low = _neck_spread(tau, s, 20)  # 20 geos: the weight is set for the low end (below)
    moment = np.round(np.median(s**2 / (s**2 + low[None, :] ** 2), axis=0), 2)
    np.testing.assert_allclose(loose, moment)
    _, _, tight = weights(gm.Prior("Gamma", alpha=2.0, beta=50.0))  # median ~0.034
    assert (tight >= loose).all() and (tight > loose + 0.2).any()
    assert (tau > 0.034).any()  # the tight prior did cap something


def test_few_geos_keep_the_data_spread(tiny_panel):
    """Below CAP_MIN_GEOS the moment spread is mostly noise: on this 5-geo panel the
    cap moved tv from w 0.28 to 0.70 and NUTS diverged 13 times in 2,000 draws (3
    without it), so the prior does not cap it there."""
    r = tiny_panel(n_geos=5, n_weeks=104, n_channels=3, seed=3, n_lift_tests=0)
    w = {}
    for name, prior in {"tight": gm.Prior("Gamma", alpha=2.0, beta=50.0),
                        "loose": gm.Prior("Gamma", alpha=2.0, beta=0.05)}.items():
        m = gm.GeoMMM(r.formula, data=r.panel, geo="geo", time="week", priors={"effect_geo_sd": prior})
        w[name] = geo_effect_centring(m.spec, m.data, m.priors)
    np.testing.assert_array_equal(w["tight"], w["loose"])
    assert w["loose"][0] < 0.5  # tv: centred by the data, as before the cap existed


def test_the_weight_is_set_for_the_low_end_of_a_weakly_told_spread():
    """The low end sits NECK_SDS standard errors (sqrt(2 / G) (tau^2 + s^2)) below the
    spread's estimate, at least half of it: a channel whose geos are pinned down (small
    s) keeps nearly its spread, a weakly told one (s ~ tau) drops to the floor, and more
    geos tell the spread better."""
    tau = np.array([0.3, 0.3])
    s = np.array([[0.05, 0.4]] * 60)
    low = _neck_spread(tau, s, 60)
    expected = 0.09 - 2.0 * np.sqrt(2.0 / 60) * (0.09 + np.array([0.05, 0.4]) ** 2)
    np.testing.assert_allclose(low, np.sqrt(np.maximum(expected, 0.25 * 0.09)))
    assert low[0] > 0.23 and low[1] == pytest.approx(0.15)  # pinned: 0.3 -> 0.24; weak: the floor
    assert _neck_spread(tau, s, 6000)[1] > 0.28  # thousands of geos: close to the estimate
    # a channel no geo pins down (s infinite: weight 1 anyway) keeps a finite spread
    assert np.isfinite(_neck_spread(tau, np.full((5, 2), np.inf), 60)).all()


def test_the_low_end_raises_a_weak_channels_weight_from_20_geos(tiny_panel):
    """On the 20-geo panel the weakly told channels move towards non-centred and the
    pinned one (social) stays centred."""
    from geommm.model import centring

    r = tiny_panel(n_geos=20, n_weeks=156, n_channels=5, seed=0, n_lift_tests=0)
    m = gm.GeoMMM(r.formula, data=r.panel, geo="geo", time="week")
    s, tau = geo_effect_evidence(m.spec, m.data, m.priors)
    plain = centring._summarise(centring._weight(s, centring._spread_for_weight(tau, m.priors, 20)[None, :]))
    w = dict(zip(m.spec.channels, geo_effect_centring(m.spec, m.data, m.priors)))
    before = dict(zip(m.spec.channels, plain))
    assert all(w[c] >= before[c] for c in w) and w["display"] > before["display"] + 0.1
    assert w["social"] < 0.3
