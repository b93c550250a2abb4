"""Shared fixtures: tiny simulated panels and one cheap fit per session."""

from __future__ import annotations

import warnings

import pytest

import geommm as gm
from geommm import sim


@pytest.fixture(scope="session")
def tiny_sim():
    """4 geos x 60 weeks x 2 channels with two lift tests (a heavy-up and a go-dark)."""
    return sim.simulate(n_geos=4, n_weeks=60, n_channels=2, seed=1, n_lift_tests=2)


@pytest.fixture(scope="session")
def tiny_model(tiny_sim):
    return gm.GeoMMM(
        tiny_sim.formula, data=tiny_sim.panel, geo="geo", time="week", lift_tests=tiny_sim.lift_tests
    )


@pytest.fixture(scope="session")
def map_fit(tiny_model):
    """A MAP fit: seconds, one draw — for table shapes and plumbing, not for intervals."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tiny_model.fit(method="map", seed=1, progressbar=False)


@pytest.fixture(scope="session")
def advi_fit(tiny_model):
    """An ADVI fit with several draws — intervals exist (too narrow) for table tests."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tiny_model.fit(method="advi", draws=100, tune=300, chains=2, seed=1, progressbar=False)
