"""precision="float32": the density NUTS sees in single precision is the float64 one.

PyMC's zero-sum check (|mean| <= 1e-9) fails from float32 rounding alone and used to
turn the whole density into -inf away from the initial point; these tests evaluate
the compiled densities exactly as ``sampling._nutpie`` builds them."""

from __future__ import annotations

import numpy as np
import pytest

from geommm import _jax_speed, sampling
from geommm.errors import FitError


def _density(model, precision: str, checks_off: bool = False):
    """(n_dim, x -> (logp, grad)), compiled as the sampler compiles it."""
    import nutpie

    if checks_off:  # float64 on the float32 path's model: only the checks differ
        compiled = _jax_speed.lean_logp(nutpie.compile_pymc_model(
            _jax_speed.single_precision_model(model), backend="jax", gradient_backend="jax",
            freeze_model=False))
    else:
        compiled = _jax_speed.nutpie_density(model, precision)
    call = compiled._make_logp_func()
    return compiled.n_dim, lambda x: call(x, **compiled._shared_data)


def test_float32_density_and_gradient_match_float64_away_from_the_start(tiny_model):
    n, f64 = _density(tiny_model.model, "float64")
    _, f32 = _density(tiny_model.model, "float32")
    _, f64_unchecked = _density(tiny_model.model, "float64", checks_off=True)
    rng = np.random.default_rng(0)
    for scale in (0.0, 0.1, 0.3, 0.5):  # -inf used to start at 0.1
        x = scale * rng.standard_normal(n)
        v64, g64 = f64(x)
        v32, g32 = f32(x)
        assert np.isfinite(v32) and np.all(np.isfinite(g32)), f"float32 density not finite at scale {scale}"
        assert abs(v32 - v64) <= 1e-5 * abs(v64) + 1e-2, (scale, v32, v64)
        # gradients: close relative to their size (float32 carries ~7 digits)
        assert np.linalg.norm(g32 - g64) <= 1e-3 * np.linalg.norm(g64), scale
        # the checks that are off only guarded values the transforms keep valid
        v, g = f64_unchecked(x)
        assert v == pytest.approx(v64, rel=1e-12) and np.allclose(g, g64, rtol=1e-10, atol=1e-10)


@pytest.mark.bad_input
@pytest.mark.parametrize("kwargs, fragment", [
    ({"precision": "half"}, "precision='half' is not one of"),
    ({"precision": "float32", "method": "laplace"}, "precision='float32' works with method='nuts'"),
    ({"precision": "float32", "sampler": "pymc"}, "sampler='pymc'"),
    ({"precision": "float32", "backend": "numba"}, "backend='numba'"),
])
def test_precision_settings_are_checked_before_anything_is_built(tiny_model, kwargs, fragment):
    with pytest.raises(FitError, match=fragment):
        tiny_model.fit(progressbar=False, **kwargs)


@pytest.mark.parametrize("settings, cells, expected", [
    ({}, sampling.AUTO_FLOAT32_CELLS, "float32"),  # NUTS with nutpie on JAX, from the threshold
    ({}, sampling.AUTO_FLOAT32_CELLS - 1, "float64"),
    ({}, None, "float64"),  # panel size unknown
    ({"mass_matrix": "low_rank"}, 10**6, "float64"),  # float32 with low rank sampled slower
    ({"method": "laplace"}, 10**6, "float64"),
    ({"sampler": "pymc"}, 10**6, "float64"),
    ({"backend": "numba"}, 10**6, "float64"),
    ({"precision": "float64"}, 10**6, "float64"),  # an explicit choice stands
    ({"precision": "float32"}, 10, "float32"),
])
def test_auto_precision_is_float32_only_for_big_panels_on_nutpies_jax_path(settings, cells, expected):
    s = sampling.SamplerSettings(**settings)
    assert s.precision == settings.get("precision", "auto")
    sampling.check_settings(s, cells)
    assert s.precision == expected


def _precision_reaching_the_sampler(model, monkeypatch, **fit_options) -> str:
    """The precision ``model.fit(**fit_options)`` hands the sampler (which is stopped there)."""
    from geommm.errors import GeoMMMError

    class Stop(GeoMMMError):  # passed through by fit as it is
        pass

    seen = {}

    def fake_run(build, settings, **kwargs):
        seen["precision"] = settings.precision
        raise Stop

    monkeypatch.setattr(sampling, "run", fake_run)
    with pytest.raises(Stop):
        model.fit(progressbar=False, **fit_options)
    return seen["precision"]


def test_a_small_panel_fits_in_float64_by_default(tiny_model, monkeypatch):
    """The suite's panels are far below the threshold: the default fit is float64 (the
    settings that reach the sampler; test_model_comparison.py checks a real fit's)."""
    assert _precision_reaching_the_sampler(tiny_model, monkeypatch) == "float64"
    assert tiny_model.data.n_cells < sampling.AUTO_FLOAT32_CELLS


def test_a_refresh_chooses_its_precision_for_the_refreshed_models_size():
    """A refresh inherits the parent's settings but not its precision: "auto" again, for
    the refreshed model's cells (a sequential window is small), unless given."""
    from types import SimpleNamespace

    from geommm.workflows.refresh import _settings

    parent = SimpleNamespace(settings=sampling.SamplerSettings(draws=100, tune=150, chains=2, seed=4,
                                                               precision="float64"))
    big = sampling.AUTO_FLOAT32_CELLS
    assert _settings(parent, {}, big).precision == "float32"
    assert _settings(parent, {}, big - 1).precision == "float64"
    assert _settings(parent, {"mass_matrix": "low_rank"}, big).precision == "float64"
    assert _settings(parent, {"precision": "float64"}, big).precision == "float64"
    assert _settings(parent, {"precision": "float32"}, 10).precision == "float32"


def test_fit_passes_the_panels_size_so_auto_picks_float32_on_a_big_panel(monkeypatch):
    """GeoMMM.fit resolves "auto" with its own panel's cells (40 x 156 x 5 = 31,200),
    before anything is built: the settings that reach the sampler say float32."""
    import geommm as gm
    from geommm import sim

    result = sim.simulate(n_geos=40, n_weeks=156, n_channels=5, seed=0, n_lift_tests=0)
    model = gm.GeoMMM(result.formula, data=result.panel, geo="geo", time="week")
    assert _precision_reaching_the_sampler(model, monkeypatch, preflight="off") == "float32"
    assert _precision_reaching_the_sampler(model, monkeypatch, preflight="off", mass_matrix="low_rank") == "float64"
