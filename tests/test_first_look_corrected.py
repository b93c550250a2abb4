"""The corrected Laplace's pieces (``geommm/approx_corrected.py``) on toy densities with a
known answer: no model, no compile."""

from __future__ import annotations

import numpy as np
import pytest

from geommm import approx_corrected as ac


class Toy:
    """-log p of x0 = log y, y ~ Gamma(a, 1) (skewed, E[exp(x0)] = a), and x1 ~ N(0, 1)
    (or, with ``a=None``, x0 ~ N(0.4, 0.3^2): the line marginal is the normal's own)."""

    def __init__(self, a: float | None):
        self.a = a

    def value_and_grad(self, x):
        if self.a is None:
            return float((x[0] - 0.4) ** 2 / 0.18 + 0.5 * x[1] ** 2), np.array([(x[0] - 0.4) / 0.09, x[1]])
        return float(-self.a * x[0] + np.exp(x[0]) + 0.5 * x[1] ** 2), np.array([-self.a + np.exp(x[0]), x[1]])


def _normal_draws(centre, cov, n=20000, seed=0):
    return np.random.default_rng(seed).multivariate_normal(centre, cov, size=n)


def test_transport_leaves_a_normal_marginal_alone():
    centre, cov = np.array([0.4, 0.0]), np.diag([0.09, 1.0])
    xs = _normal_draws(centre, cov)
    moved = ac.transport(Toy(None), xs, centre, cov, np.array([0]))
    change = np.abs(moved - xs)[:, 0]
    # the 33-point grid's interpolation only: tiny in the bulk, < 0.2 sd in the far tails
    assert np.median(change) < 0.005 and change.max() < 0.06
    np.testing.assert_allclose(moved[:, 1], xs[:, 1])  # uncorrelated: untouched


def test_transport_follows_a_skewed_marginal_that_the_normal_misses():
    """Gamma(5) in log space: the normal at the mode gives E[exp(x0)] 10% too high; the
    draws moved onto the line marginal give the true mean (5) within 3% (the grid's
    piecewise-linear quantiles), and a
    coordinate correlated with x0 moves with it by the normal's regression."""
    a = 5.0
    centre = np.array([np.log(a), 0.0])
    cov = np.array([[1 / a, 0.5 / np.sqrt(a)], [0.5 / np.sqrt(a), 1.0]])
    xs = _normal_draws(centre, cov)
    assert np.exp(xs[:, 0]).mean() / a - 1 > 0.08
    moved = ac.transport(Toy(a), xs, centre, cov, np.array([0]))
    assert np.exp(moved[:, 0]).mean() == pytest.approx(a, rel=0.03)
    shift = moved - xs
    np.testing.assert_allclose(shift[:, 1], shift[:, 0] * cov[0, 1] / cov[0, 0], rtol=1e-9, atol=1e-12)


def test_line_cdf_is_a_cdf_centred_on_its_grid():
    grid, cdf = ac.line_cdf(Toy(5.0), np.array([np.log(5.0), 0.0]), np.diag([0.2, 1.0]), 0)
    assert grid.size == ac.LINE_POINTS and np.all(np.diff(grid) > 0)
    assert np.all(np.diff(cdf) > 0) and 0 < cdf[0] < 0.01 and 0.99 < cdf[-1] < 1


def test_laplace_fit_uses_the_correction_and_falls_back_to_the_plain_normal(tiny_model, monkeypatch):
    """On a real (tiny) model: the corrected draws are finite and differ from the plain
    Laplace's; where the correction cannot apply (here: no log-ROI coordinate found) the
    draws are exactly the plain Laplace's, as pre-flight's batched fits get them."""
    import warnings
    from types import SimpleNamespace

    from geommm import approx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        density = approx.JaxDensity.from_model(tiny_model._optimisation_model(), 0, batch=100)
        mode = approx.find_mode(density)
        settings = SimpleNamespace(draws=100, chains=2, seed=3)
        plain, k_plain = ac.first_look_draws(density, mode, settings, corrected=False)
        corrected, _ = ac.first_look_draws(density, mode, settings, corrected=True)
        monkeypatch.setattr(ac, "roi_indexes", lambda d: None)
        fallback, k_fallback = ac.first_look_draws(density, mode, settings, corrected=True)
    assert corrected.shape == plain.shape == (200, density.size)
    assert np.isfinite(corrected).all() and not np.allclose(corrected, plain)
    np.testing.assert_array_equal(fallback, plain)
    assert k_fallback == k_plain
