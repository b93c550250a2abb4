"""precision="float32": the density NUTS sees in single precision is the float64 one.

PyMC's zero-sum check (|mean| <= 1e-9) fails from float32 rounding alone and used to
turn the whole density into -inf away from the initial point; these tests evaluate
the compiled densities exactly as ``sampling._nutpie`` builds them."""

from __future__ import annotations

import numpy as np
import pytest

from geommm import _jax_speed
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

