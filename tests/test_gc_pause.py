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


def test_lazy_names_import_paused_and_leave_the_collector_on(monkeypatch):
    import importlib

    import geommm

    seen = []
    real = importlib.import_module
    monkeypatch.setattr(importlib, "import_module", lambda name: seen.append(gc.isenabled()) or real(name))
    monkeypatch.delitem(vars(geommm), "compare", raising=False)
    gc.enable()
    assert callable(geommm.compare)
    assert seen == [False] and gc.isenabled()


def test_fits_compile_paused_but_search_and_sample_with_the_collector_on(tiny_mmm, monkeypatch):
    """The pause covers the build and the compile, never the optimiser's or the sampler's
    loop, and a fit leaves the collector on."""
    import nutpie

    from geommm import _jax_speed, approx

    seen: dict[str, list[bool]] = {"mode search": [], "sampling": [], "compile": []}
    real_search, real_sample = approx.find_mode, nutpie.sample
    real_densities, real_compiled = approx._densities, _jax_speed.compiled_density
    monkeypatch.setattr(approx, "_densities", lambda *a, **k: seen["compile"].append(gc.isenabled())
                        or real_densities(*a, **k))
    monkeypatch.setattr(_jax_speed, "compiled_density", lambda *a, **k: seen["compile"].append(gc.isenabled())
                        or real_compiled(*a, **k))
    monkeypatch.setattr(approx, "find_mode", lambda *a, **k: seen["mode search"].append(gc.isenabled())
                        or real_search(*a, **k))
    monkeypatch.setattr(nutpie, "sample", lambda *a, **k: seen["sampling"].append(gc.isenabled())
                        or real_sample(*a, **k))
    gc.enable()
    tiny_mmm().fit(method="map", progressbar=False)
    assert gc.isenabled()
    tiny_mmm().fit(draws=20, tune=20, chains=2, seed=1, max_treedepth=4, progressbar=False,
                   chain_processes=False)
    assert gc.isenabled()
    assert seen["mode search"] and all(seen["mode search"]), seen
    assert seen["sampling"] and all(seen["sampling"]), seen
    assert len(seen["compile"]) == 2 and not any(seen["compile"]), seen  # MAP's and NUTS's compiles paused
