"""The density and the draw expansion travel as one vector each (one read of a JAX
array per call, split in numpy): the split must hand every variable its own values,
whatever its shape, and refuse an expansion whose outputs disagree with its shapes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import export

from geommm import _chain_worker, _jax_speed, chain_processes


def test_value_and_gradient_come_back_as_one_vector_in_either_precision():
    fn = jax.jit(_jax_speed.joined_value_and_grad(lambda x, a: jnp.sum(a * x**2)))
    x, a = np.array([1.0, 2.0]), np.array([3.0, 0.5])
    with jax.enable_x64(True):
        value, grad = _jax_speed.value_and_gradient(fn(x, a))
    assert value == 5.0  # 3 * 1 + 0.5 * 4
    np.testing.assert_array_equal(grad, [6.0, 2.0])
    with jax.enable_x64(False):  # float32 program: nutpie still gets float64
        value32, grad32 = _jax_speed.value_and_gradient(fn(x.astype(np.float32), a.astype(np.float32)))
    assert value32 == 5.0 and grad32.dtype == np.float64
    np.testing.assert_array_equal(grad32, [6.0, 2.0])
    assert grad.dtype == np.float64 and grad.flags.c_contiguous and grad32.flags.c_contiguous


def _expansion(x, scale):
    """A scalar, an empty vector, a matrix and a float32 scalar, as nutpie's may return."""
    return (x[0], x[1:1], scale * x[1:7].reshape(2, 3), (2.0 * x[7]).astype(jnp.float32))


SHAPES = [(), (0,), (2, 3), ()]


def test_the_worker_splits_every_variable_back_to_its_shape():
    names = ["scalar", "empty", "matrix", "single"]
    x, scale = np.arange(8.0) + 0.5, np.array(10.0)
    with jax.enable_x64(True):
        spec = [jax.ShapeDtypeStruct((8,), np.float64), jax.ShapeDtypeStruct((), np.float64)]
        program = export.export(jax.jit(chain_processes._joined(_expansion, SHAPES)))(*spec).serialize()
        job = {"n_dim": 8, "names": names, "shapes": SHAPES,
               "expand": {"function": bytes(program), "shared": [scale]}}
        out = _chain_worker._expander(job, np)(0, 0, 0)(x)
    assert list(out) == names
    assert out["scalar"].shape == () and float(out["scalar"]) == 0.5
    assert out["empty"].shape == (0,)
    np.testing.assert_array_equal(out["matrix"], 10.0 * x[1:7].reshape(2, 3))
    assert float(out["single"]) == 2.0 * 7.5
    assert all(v.dtype == np.float64 and v.flags.c_contiguous for v in out.values())


@pytest.mark.parametrize("shapes", [[(), (1,), (2, 3), ()], [(), (0,), (2, 3)], [(), (0,), (2, 3), (), ()]],
                         ids=["a size differs", "one variable missing", "one variable extra"])
def test_an_expansion_that_disagrees_with_its_shapes_is_refused(shapes):
    """Sizes that do not match (or a missing / extra variable) would shift values onto
    the wrong names; refused while tracing, so the fit falls back to nutpie's threads."""
    with jax.enable_x64(True), pytest.raises(RuntimeError, match="shapes it declares"):
        jax.jit(chain_processes._joined(_expansion, shapes)).lower(np.zeros(8), np.array(1.0))
