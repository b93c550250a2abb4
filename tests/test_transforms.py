"""Properties of adstock and saturation, for numpy and PyTensor alike."""

from __future__ import annotations

import functools

import numpy as np
import pytensor.tensor as pt
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from geommm.model import transforms as tf

spend = arrays(np.float64, st.tuples(st.integers(1, 3), st.integers(2, 30), st.integers(1, 3)),
               elements=st.floats(0, 1e6, allow_nan=False))
retention = st.floats(0.0, 0.95)


@settings(max_examples=60, deadline=None)
@given(x=spend, alpha=retention, max_lag=st.integers(1, 10))
def test_adstock_preserves_mass_with_tail(x, alpha, max_lag):
    G, T, C = x.shape
    w = tf.adstock_weights("geometric", max_lag, alpha=np.full((G, C), alpha))
    np.testing.assert_allclose(w.sum(-1), 1.0)
    padded = np.concatenate([x, np.zeros((G, max_lag - 1, C))], axis=1)
    out = tf.adstock(padded, w)
    np.testing.assert_allclose(out.sum(axis=1), x.sum(axis=1), rtol=1e-9, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(x=spend, alpha=retention, t=st.integers(0, 29), kind=st.sampled_from(["geometric", "delayed", "weibull"]))
def test_adstock_is_causal(x, alpha, t, kind):
    G, T, C = x.shape
    t = t % T
    params = {"geometric": {"alpha": np.full((G, C), alpha)},
              "delayed": {"alpha": np.full((G, C), alpha), "theta": np.full((G, C), 1.5)},
              "weibull": {"shape": np.full((G, C), 1.5), "scale": np.full((G, C), 2.0 + alpha)}}[kind]
    w = tf.adstock_weights(kind, 6, **params)
    changed = x.copy()
    changed[:, t:, :] += 1000.0  # change only the present and future
    before = tf.adstock(x, w)[:, :t, :]
    after = tf.adstock(changed, w)[:, :t, :]
    np.testing.assert_array_equal(before, after)


@settings(max_examples=60, deadline=None)
@given(k=st.floats(0.05, 5), n=st.floats(0.3, 4), lam=st.floats(0.05, 5))
def test_saturation_monotone_and_bounded(k, n, lam):
    x = np.linspace(0, 20, 200)
    for y in (tf.hill(x, k, n), tf.logistic(x, lam), tf.michaelis_menten(x, k)):
        assert np.all(np.diff(y) >= -1e-12)
        assert np.all((y >= 0) & (y <= 1))


def test_hill_gradient_finite_at_zero_for_slope_below_one():
    """The trap of flighted data: dark weeks with slope < 1 must not give NaN gradients."""
    x = pt.vector("x")
    n = pt.scalar("n")
    y = tf.hill(x, 1.0, n).sum()
    grads = pt.grad(y, [x, n])
    import pytensor

    f = pytensor.function([x, n], grads)
    gx, gn = f(np.array([0.0, 0.0, 0.5]), 0.5)
    assert np.all(np.isfinite(gx)) and np.isfinite(gn)


@functools.cache
def _pytensor_media():
    """One compiled PyTensor adstock+Hill function, reused by every example (compiling is slow)."""
    import pytensor

    lagged = pt.tensor("lagged", shape=(5, None, None, None), dtype="float64")
    alpha = pt.matrix("alpha", dtype="float64")
    k, n = pt.dscalar("k"), pt.dscalar("n")
    w = tf.adstock_weights("geometric", 5, alpha=alpha)
    return pytensor.function([lagged, alpha, k, n], tf.hill(tf.apply_adstock(lagged, w), k, n))


@settings(max_examples=40, deadline=None)
@given(x=spend, alpha=retention, k=st.floats(0.1, 3), n=st.floats(0.5, 3))
def test_numpy_and_pytensor_agree(x, alpha, k, n):
    G, T, C = x.shape
    a = np.full((G, C), alpha)
    lagged = tf.lag_stack(x / (x.max() + 1), 5)
    y_np = tf.hill(tf.apply_adstock(lagged, tf.adstock_weights("geometric", 5, alpha=a)), k, n)
    y_pt = _pytensor_media()(lagged, a, k, n)
    np.testing.assert_allclose(y_np, y_pt, rtol=1e-9, atol=1e-9)
