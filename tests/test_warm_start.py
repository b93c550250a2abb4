"""Warm starts (geommm/warm_start.py): a fit that starts from a previous posterior samples
``z = (x - mean) / scale``. The map must be nutpie's coordinates (not the model's
``free_RVs`` order), the density and draws must be the model's exactly, and a
warm-started fit must sample the same posterior as a cold one."""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np
import pytest
import xarray as xr

import geommm as gm
from geommm import _chain_worker, _jax_speed, chain_processes, sampling, sim, warm_start
from geommm.errors import FitError

PANEL = {"n_geos": 3, "n_weeks": 40, "n_channels": 2, "seed": 4, "n_lift_tests": 0}
two_cpus = pytest.mark.skipif(
    not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="chain worker processes need two CPUs and Linux's CPU affinity",
)
FIT = {"draws": 150, "tune": 150, "chains": 2, "max_treedepth": 6, "progressbar": False}


@pytest.fixture(scope="module")
def model():
    r = sim.simulate(**PANEL)
    return gm.GeoMMM(r.formula, r.panel, geo="geo", time="week")


@pytest.fixture(scope="module")
def cold(model):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(seed=1, chain_processes=False, **FIT)


@pytest.fixture(scope="module")
def compiled(model, cold):
    return _jax_speed.compiled_density(model.model, "jax", "float64", lean=True)


def test_the_warm_mean_is_the_previous_posterior_in_nutpies_coordinates(model, cold, compiled):
    """Expanding the warm mean gives back each variable's posterior mean (geometric for
    log-transformed ones, exactly for the rest, the zero-sum deviations included). In
    the model's own ``free_RVs`` order the variables land in each other's places: the
    refresh warm start before this module started its chains there."""
    # 2 x 150 draws, under MAX_DRAWS: no thinning, so the means compare exactly
    warm = warm_start.from_posterior(model.model, cold.posterior, compiled)
    assert warm.n_given == compiled.n_dim and set(warm.names) == {rv.name for rv in model.model.free_RVs}
    back = compiled._make_expand_func(0, 0, 0)(warm.mean, **compiled._shared_data)
    for rv in model.model.free_RVs:
        draws = cold.posterior[rv.name].values.reshape(-1, *cold.posterior[rv.name].shape[2:])
        transform = model.model.rvs_to_transforms.get(rv)
        kind = type(transform).__name__ if transform is not None else None
        expected = np.exp(np.log(draws).mean(axis=0)) if kind == "LogTransform" else draws.mean(axis=0)
        np.testing.assert_allclose(back[rv.name], expected, rtol=1e-6, atol=1e-9, err_msg=rv.name)
    assert np.all(warm.scale > 0) and np.all(warm.scale < 5)


def test_the_preconditioned_density_is_the_models(model, cold, compiled):
    """logp(z) = logp(mean + scale z), its gradient is scale times the model's, the draws
    expand to the same values: in this process (threads) and in a chain worker, which
    gets the model's own programs and the map, in float64 and float32."""
    warm = warm_start.from_posterior(model.model, cold.posterior, compiled)
    pre = warm_start.precondition(compiled, warm)
    shared = compiled._shared_data
    z = np.random.default_rng(0).normal(size=compiled.n_dim)
    x = warm.mean + warm.scale * z
    vx, gx = compiled._make_logp_func()(x, **shared)
    vz, gz = pre._make_logp_func()(z, **shared)
    assert np.isfinite(vx) and vz == pytest.approx(vx, rel=1e-12)
    np.testing.assert_allclose(gz, gx * warm.scale, rtol=1e-10)
    raw_z = pre._raw_logp_fn(z, *[shared[k] for k in shared])[0]
    assert float(raw_z) == pytest.approx(vx, rel=1e-10)
    ex = compiled._make_expand_func(0, 0, 0)(x, **shared)
    ez = pre._make_expand_func(0, 0, 0)(z, **shared)
    parts = pre._make_expand_func.exported_parts  # what the chain workers get: x programs and the map
    mean, scale = parts["affine"]
    assert float(parts["raw_logp_x"](mean + scale * z, *[shared[k] for k in shared])[0]) == pytest.approx(vx, rel=1e-10)
    exported = parts["expand_fn"](mean + scale * z, *[shared[k] for k in parts["expand_shared_names"]])
    for name, value, got in zip(parts["names"], exported, [ez[n] for n in parts["names"]]):
        np.testing.assert_allclose(got, ex[name], rtol=1e-10, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(np.reshape(value, np.shape(ex[name])), ex[name], rtol=1e-10, atol=1e-12,
                                   err_msg=name)
    # what a chain worker runs: the exported programs of x, the map in numpy
    for precision, base, rel in (("float64", compiled, 1e-10),
                                 ("float32", _jax_speed.compiled_density(model.model, "jax", "float32", lean=False),
                                  1e-3)):
        s = sampling.SamplerSettings(precision=precision, chains=2, draws=10, tune=10)
        job = chain_processes.job(warm_start.precondition(base, warm), s, {})
        assert job["affine"] is not None and job["logp_dtype"] == precision
        value, grad = _chain_worker._loader(job["logp"], job["logp_dtype"], np, job["affine"])()(z)
        assert value == pytest.approx(vx, rel=rel)
        np.testing.assert_allclose(grad, gx * warm.scale, rtol=50 * rel, atol=50 * rel * np.abs(gx * warm.scale).max())
        worker_draw = _chain_worker._expander(job, np, job["affine"])(0, 0, 0)(z)
        for name in parts["names"]:
            np.testing.assert_allclose(worker_draw[name], ex[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_starts_are_near_the_mean_where_given_and_nutpies_elsewhere():
    @dataclasses.dataclass(frozen=True)
    class Compiled:
        _make_initial_points: object
        _make_logp_func: object = None
        _make_expand_func: object = None

    own = lambda seed: np.random.default_rng(seed).uniform(-2, 2, 5) + 10.0
    warm = warm_start.WarmStart(mean=np.array([1.0, 2.0, 0.0, 4.0, 0.0]), scale=np.array([0.5, 2.0, 1.0, 0.1, 1.0]),
                                given=np.array([True, True, False, True, False]), names=("a",))
    pre = warm_start.precondition(Compiled(own), warm)
    starts = [pre._make_initial_points(seed) for seed in (1, 2)]
    for seed, z in zip((1, 2), starts):
        assert np.all(np.abs(z[warm.given]) <= warm_start.START_SPREAD)
        np.testing.assert_allclose(z[~warm.given], own(seed)[~warm.given])  # mean 0, scale 1 there
    assert not np.allclose(starts[0][warm.given], starts[1][warm.given]), "chains must not start at one point"


def test_a_posterior_of_another_shape_supplies_only_what_matches(model, cold, compiled):
    """A previous fit with other geos: its geo-level variables are skipped (they start
    as without a warm start), the national ones are used."""
    post = cold.posterior
    other = xr.Dataset({
        "roi": post["roi"],  # national: same shape
        "noise_sd": post["noise_sd"].isel(geo=[0, 1]),  # one geo fewer: skipped
        "kpi_level": post["kpi_level"] * np.nan,  # not finite: skipped
    })
    warm = warm_start.from_posterior(model.model, other, compiled)
    assert warm.names == ("roi",) and warm.n_given == 2


@two_cpus
def test_a_warm_started_fit_in_worker_processes_samples_the_same_posterior(model, cold):
    """The same posterior as the cold fit: means within four Monte Carlo standard errors."""
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warm = model.fit(seed=2, chain_processes=True, warm_start=cold, **{**FIT, "tune": 100})
    assert warm.settings.warm_start == sum(np.prod(v.shape) for v in model.model.initial_point().values())
    assert warm.settings.chain_processes is True
    for name in ("roi", "noise_sd", "kpi_level"):
        a, b = cold.posterior[name], warm.posterior[name]
        error = np.hypot(az.mcse(cold.posterior, var_names=[name])[name].values,
                         az.mcse(warm.posterior, var_names=[name])[name].values)
        gap = np.abs(a.mean(("chain", "draw")).values - b.mean(("chain", "draw")).values)
        assert np.all(gap < 4 * error), (name, gap, error)


def test_warm_start_refuses_what_it_cannot_use(model, cold, laplace_fit):
    with pytest.raises(FitError, match="warm_start must be a previous geommm Fit"):
        model.fit(warm_start=cold.posterior, **FIT)
    with pytest.raises(FitError, match="method='nuts', sampler='nutpie', backend='jax'"):
        model.fit(method="laplace", warm_start=cold, progressbar=False)
    with pytest.raises(FitError, match="backend='numba'"):  # refused before anything is compiled
        model.fit(backend="numba", warm_start=cold, **FIT)
    with pytest.raises(FitError, match="needs a NUTS fit's posterior"):
        model.fit(warm_start=laplace_fit, **FIT)
