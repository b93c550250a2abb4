"""The preconditioned mode search (geommm/mode_search.py) on densities with a known mode."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from geommm import mode_search
from geommm.errors import ConvergenceWarning, FitError


class Stiff:
    """-log p of a correlated, badly scaled density with a quartic term: curvatures from
    1 to 1e6 at the mode ``m`` (as the geo deviations and log spreads of an MMM differ),
    so an unpreconditioned Krylov solve needs many products per Newton step."""

    def __init__(self, n: int = 40, seed: int = 0):
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.standard_normal((n, n)))
        self.h = (q * np.logspace(0, 6, n)) @ q.T
        self.m = rng.standard_normal(n)
        self.x0 = np.zeros(n)
        self.calls = 0

    def value_and_grad(self, x):
        self.calls += 1
        d = x - self.m
        return float(0.5 * d @ self.h @ d + 0.25 * np.sum(d**4)), self.h @ d + d**3

    def grad(self, x):
        return self.value_and_grad(x)[1]


def test_whitened_search_finds_the_mode_in_far_fewer_gradient_calls():
    plain, whitened = Stiff(), Stiff()
    res = mode_search._trust_krylov(plain.value_and_grad, plain.x0,
                                    mode_search.hessp_from_gradient(plain.value_and_grad), 1e-6)
    hessian = mode_search.difference_hessian(whitened.grad, whitened.x0)
    whitened.calls = 0
    found = mode_search.minimize_whitened(whitened.value_and_grad, whitened.x0, hessian, 1e-6)
    np.testing.assert_allclose(found.x, whitened.m, atol=1e-6)
    np.testing.assert_allclose(res.x, plain.m, atol=1e-5)
    assert whitened.calls < plain.calls / 3


@pytest.mark.parametrize("kind", ["indefinite", "non-finite"])
def test_a_poor_preconditioner_still_reaches_the_mode(kind):
    """Any symmetric matrix is a valid change of variables (curvatures in absolute
    value, floored); a non-finite one falls back to the plain search."""
    d = Stiff()
    rng = np.random.default_rng(1)
    bad = rng.standard_normal((d.m.size, d.m.size))
    bad = bad + bad.T if kind == "indefinite" else np.full_like(bad, np.nan)
    found = mode_search.minimize_whitened(d.value_and_grad, d.x0, bad, 1e-6)
    np.testing.assert_allclose(found.x, d.m, atol=1e-5)


def test_find_mode_hands_over_to_the_whitened_search():
    """The same mode as the plain search, in far fewer gradient calls (the hand-over and
    its Hessian included): it would not be without the whitened phase."""
    plain, d = Stiff(), Stiff()
    mode_search._trust_krylov(plain.value_and_grad, plain.x0,
                              mode_search.hessp_from_gradient(plain.value_and_grad), mode_search.MODE_GTOL)
    x = mode_search.find_mode(d)
    np.testing.assert_allclose(x, d.m, atol=1e-5)
    assert d.calls < plain.calls / 2


def test_a_remembered_gradient_is_not_computed_again():
    d = Stiff(n=5)
    fun = mode_search.remembering(d.value_and_grad)
    hessp = mode_search.hessp_from_gradient(fun)
    fun(d.x0)
    d.calls = 0
    hessp(d.x0, np.ones(5))
    assert d.calls == 1  # the shifted point only


def test_difference_hessians_are_close_to_the_exact_one():
    d = Stiff(n=10)
    x = d.m + 0.1
    exact = d.h + np.diag(3 * (x - d.m) ** 2)
    for central in (False, True):
        np.testing.assert_allclose(mode_search.difference_hessian(d.grad, x, central=central), exact,
                                   rtol=1e-3, atol=1e-3 * np.abs(exact).max())


def test_a_density_that_turns_non_finite_raises_a_fit_error():
    class Cliff(Stiff):
        def value_and_grad(self, x):
            v, g = super().value_and_grad(x)
            return (v if np.all(x > -0.5) else np.inf), g

    d = Cliff(n=5)
    d.x0 = np.full(5, -1.0)  # the search starts where the density is zero
    with pytest.raises(FitError, match="left the region"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's inf - inf on the way
        mode_search.find_mode(d)
