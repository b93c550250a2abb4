"""The cycle collector's pause around builds and compiles (geommm/_gc_pause.py)."""

from __future__ import annotations

import gc

import pytest

from geommm._gc_pause import paused_gc


@pytest.fixture(autouse=True)
def _collector_restored():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_the_pause_turns_the_collector_off_and_back_on_even_after_an_error():
    gc.enable()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ValueError, match="boom"), paused_gc():
        assert not gc.isenabled()
        raise ValueError("boom")
    assert gc.isenabled()


def test_an_inner_pause_leaves_the_outer_one_in_charge():
    gc.enable()
    with paused_gc():
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled(), "the inner pause turned the collector back on too early"
    assert gc.isenabled()


def test_a_collector_the_user_turned_off_stays_off():
    gc.disable()
    with paused_gc():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_geommm_gc_pause_0_leaves_the_collector_running(monkeypatch):
    gc.enable()
    monkeypatch.setenv("GEOMMM_GC_PAUSE", "0")
    with paused_gc():
        assert gc.isenabled()
    assert gc.isenabled()


def test_fits_leave_the_collector_as_they_found_it(tiny_mmm):
    gc.enable()
    tiny_mmm().fit(method="map", progressbar=False)
    assert gc.isenabled()
    tiny_mmm().fit(draws=20, tune=20, chains=2, seed=1, max_treedepth=4, progressbar=False)
    assert gc.isenabled()
