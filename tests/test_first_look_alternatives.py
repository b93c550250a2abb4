"""The maths of benchmarks/bench_first_look_alternatives.py on toy densities (no model, no
compile): its numbers in docs/performance.md are only as good as these pieces."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

_PATH = Path(__file__).parents[1] / "benchmarks" / "bench_first_look_alternatives.py"
_spec = importlib.util.spec_from_file_location("bench_first_look_alternatives", _PATH)
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


class Hierarchy:
    """-log p of a non-centred normal hierarchy: y_g ~ N(sd * z_g, se), z ~ N(0, 1),
    log sd ~ N(-1, 1); value variables as the optimisation model names them."""

    def __init__(self, y, se):
        self.y, self.se = np.asarray(y, float), se
        names = ["trend_geo_z", "trend_geo_sd_log__"]
        self.model = SimpleNamespace(value_vars=[SimpleNamespace(name=n) for n in names])
        self.shapes = [(self.y.size,), ()]

    def value_and_grad(self, x):
        z, s = x[:-1], x[-1]
        r = (np.exp(s) * z - self.y) / self.se
        v = 0.5 * (r**2).sum() + 0.5 * (z**2).sum() + 0.5 * (s + 1) ** 2
        gz = r / self.se * np.exp(s) + z
        gs = (r / self.se * np.exp(s) * z).sum() + (s + 1)
        return float(v), np.append(gz, gs)

    def hessian(self, x, h=1e-5):
        n = x.size
        out = np.empty((n, n))
        for j in range(n):
            e = np.zeros(n)
            e[j] = h
            out[j] = (self.value_and_grad(x + e)[1] - self.value_and_grad(x - e)[1]) / (2 * h)
        return 0.5 * (out + out.T)


@pytest.fixture
def toy():
    d = Hierarchy([0.3, -0.2, 0.25, -0.35, 0.1], se=0.05)
    x = np.append(d.y / np.exp(-1.0), -1.0)
    return d, x, d.hessian(x)


def test_pairs_find_each_deviation_and_its_spread(toy):
    d, _, _ = toy
    from geommm.approx_corrected import deviation_pairs  # the shipped one, which the bench uses

    zi, si = deviation_pairs(d)
    assert zi.tolist() == [0, 1, 2, 3, 4]
    assert si.tolist() == [5] * 5


@pytest.mark.parametrize("kind", ["SpreadCorrected", "DiagonalSpreadCorrected"])
def test_correction_gradient_matches_differences(toy, kind):
    d, x, hess = toy
    c = getattr(bench, kind)(d, hess, x)
    rng = np.random.default_rng(0)
    for _ in range(3):
        p = x + 0.3 * rng.standard_normal(x.size)
        u = rng.standard_normal(x.size)
        fd = (c.value_and_grad(p + 1e-6 * u)[0] - c.value_and_grad(p - 1e-6 * u)[0]) / 2e-6
        assert c.value_and_grad(p)[1] @ u == pytest.approx(fd, rel=1e-5, abs=1e-6)


def test_diagonal_equals_full_when_deviations_are_independent(toy):
    d, x, hess = toy  # one observation per deviation: the data's block is diagonal
    full, diag = bench.SpreadCorrected(d, hess, x), bench.DiagonalSpreadCorrected(d, hess, x)
    p = x + 0.1
    assert diag.correction(p)[0] == pytest.approx(full.correction(p)[0], rel=1e-6)
    np.testing.assert_allclose(diag.correction(p)[1], full.correction(p)[1], rtol=1e-5, atol=1e-9)


def test_correction_lowers_an_inflated_spread(toy):
    """The joint mode of a non-centred hierarchy whose deviations the data pin puts the
    spread above the data's own spread; the correction moves it down."""
    from scipy.optimize import minimize

    d, x, _ = toy
    mode = minimize(d.value_and_grad, x, jac=True, method="BFGS").x
    c = bench.DiagonalSpreadCorrected(d, d.hessian(mode), mode)
    moved = minimize(c.value_and_grad, mode, jac=True, method="BFGS").x
    assert moved[-1] < mode[-1] - 0.05


def test_line_marginal_of_a_normal_is_the_lognormal():
    """On an exactly normal density the line marginal of exp(x_j) has the lognormal's
    mean and quantiles."""
    cov = np.array([[0.09, 0.03], [0.03, 0.04]])
    prec, mean = np.linalg.inv(cov), np.array([0.5, -0.2])

    def value_and_grad(x):
        r = x - mean
        return float(0.5 * r @ prec @ r), prec @ r

    d = SimpleNamespace(value_and_grad=value_and_grad)
    m, lo, hi = bench.line_marginal(d, mean, cov, 0, width=6.0, points=241)
    assert m == pytest.approx(np.exp(0.5 + 0.09 / 2), rel=2e-3)
    assert lo == pytest.approx(np.exp(0.5 - 1.645 * 0.3), rel=2e-2)
    assert hi == pytest.approx(np.exp(0.5 + 1.645 * 0.3), rel=2e-2)


class LogGamma:
    """-log p of x = log y, y ~ Gamma(a, 1), next to a standard normal: E[exp(x)] = a,
    sd of exp(x) = sqrt(a); skewed in x, as a weakly identified channel's log ROI is."""

    def __init__(self, a):
        self.a = a

    def value_and_grad(self, x):
        v = -self.a * x[0] + np.exp(x[0]) + 0.5 * x[1] ** 2
        return float(v), np.array([-self.a + np.exp(x[0]), x[1]])

    def hessp(self, x, v):
        return np.array([np.exp(x[0]) * v[0], v[1]])

    def hessian(self, x):
        return np.diag([np.exp(x[0]), 1.0])


def test_tierney_kadane_is_exact_on_a_normal_and_close_on_a_skewed_density():
    """The ratio of Laplace integrals: exact for a log-normal ROI, 0.3% off a Gamma(5) one,
    where the normal at the mode (the log-normal mean exp(mode + var / 2)) is 10.5% off."""
    d = LogGamma(5.0)
    mode = np.array([np.log(5.0), 0.0])
    mean, sd = bench.tierney_kadane(d, mode, d.hessian(mode), 0)
    assert mean == pytest.approx(5.0, rel=0.01) and sd == pytest.approx(np.sqrt(5.0), rel=0.1)
    assert abs(np.exp(mode[0] + 0.5 / 5.0) / 5.0 - 1) > 0.1  # what Laplace's draws give

    class Normal(LogGamma):  # x ~ N(0.4, 0.3^2): E[exp(x)] = exp(0.4 + 0.045)
        def value_and_grad(self, x):
            return float((x[0] - 0.4) ** 2 / 0.18 + 0.5 * x[1] ** 2), np.array([(x[0] - 0.4) / 0.09, x[1]])

        def hessp(self, x, v):
            return np.array([v[0] / 0.09, v[1]])

        def hessian(self, x):
            return np.diag([1 / 0.09, 1.0])

    n = Normal(0.0)
    mean, _ = bench.tierney_kadane(n, np.array([0.4, 0.0]), n.hessian(None), 0)
    assert mean == pytest.approx(np.exp(0.445), rel=1e-6)
