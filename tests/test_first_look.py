"""MAP and Laplace on the JAX-compiled density: same posterior shape as NUTS, no C compile."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from geommm import approx
from geommm.errors import ConvergenceWarning
from geommm.variables_map import Deferred


def test_laplace_posterior_has_the_nuts_variables_coords_and_dims(tiny_model, laplace_fit):
    model = tiny_model.model  # the model NUTS samples
    expected = {v.name for v in model.free_RVs + model.deterministics}
    post = laplace_fit.idata.posterior
    assert set(post.data_vars) == expected
    assert (post.sizes["chain"], post.sizes["draw"]) == (2, 200)
    for name in ("media_effect", "retention", "roi", "lift_implied"):
        dims = tuple(model.named_vars_to_dims[name])
        assert post[name].dims == ("chain", "draw", *dims)
    assert list(post["geo"].values) == list(tiny_model.data.geos)
    assert list(post["channel"].values) == list(tiny_model.data.channels)


def test_laplace_intervals_are_around_the_mode(map_fit, laplace_fit):
    mode = map_fit.roi(by="channel")
    lap = laplace_fit.roi(by="channel")
    assert (lap["roi_hdi_high"] > lap["roi_hdi_low"]).all()
    assert ((mode["roi_mean"] > lap["roi_hdi_low"]) & (mode["roi_mean"] < lap["roi_hdi_high"])).all()
    assert laplace_fit.settings.compile_seconds > 0 and laplace_fit.settings.sampling_seconds > 0


def test_approximations_say_approximate(laplace_fit):
    d = laplace_fit.diagnostics()
    assert d.verdict == "approximate" and d.method == "laplace"
    assert "nuts" in d.messages[0]


def test_flat_directions_are_regularised_with_a_warning(tiny_model, monkeypatch):
    monkeypatch.setattr(approx, "MIN_CURVATURE", 1e12)  # every direction counts as flat
    with pytest.warns(ConvergenceWarning, match="not negative definite"):
        fit = tiny_model.fit(method="laplace", draws=20, chains=1, seed=0, progressbar=False)
    assert np.isfinite(fit.idata.posterior["roi"].values).all()


def test_advi_is_deprecated_in_favour_of_laplace(tiny_panel, monkeypatch):
    """On the smallest model there is (one channel, no controls, 2 geos x 20 weeks).
    ADVI compiles with PyTensor's C backend: with the empty C cache of a fresh CI machine
    that took 106-133 s even here (6.5 s warm), so the test runs the same path in
    PyTensor's FAST_COMPILE mode (Python thunks, no C), and 200 optimisation steps, not
    the 5,000 at least a user gets (in Python thunks those took 97 s in the suite)."""
    import pytensor

    import geommm as gm
    from geommm import advi

    monkeypatch.setattr(advi, "ADVI_MIN_STEPS", 200)

    data = tiny_panel(n_geos=2, n_weeks=20, n_channels=1, n_lift_tests=0)
    model = gm.GeoMMM("revenue ~ media(tv_impressions, spend=tv_spend, name='tv')",
                      data=data.panel, geo="geo", time="week")
    with pytest.warns(DeprecationWarning, match="laplace"), \
            pytensor.config.change_flags(mode="FAST_COMPILE"):
        fit = model.fit(method="advi", draws=10, tune=5, chains=1, seed=0, progressbar=False)
    assert fit.settings.method == "advi"
    assert fit.idata.posterior.sizes["draw"] == 10


def test_map_and_laplace_compile_no_c_code_and_print_no_blas_warning(tmp_path):
    """In a fresh process (PyTensor's BLAS check runs once per process): no C module is
    compiled, nothing about BLAS is warned or printed, no error log."""
    script = tmp_path / "first_look.py"
    script.write_text(textwrap.dedent("""
        import warnings
        import pytensor.link.c.basic as c_basic

        def refuse(*args, **kwargs):
            raise AssertionError("PyTensor compiled C code")

        c_basic.CLinker.compile_cmodule = refuse
        import geommm as gm
        from geommm import sim

        data = sim.simulate(n_geos=3, n_weeks=40, n_channels=2, seed=2, n_lift_tests=1)
        model = gm.GeoMMM(data.formula, data.panel, geo="geo", time="week",
                          lift_tests=data.lift_tests)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(method="map", progressbar=False)
            model.fit(method="laplace", draws=50, chains=2, progressbar=False)
        blas = [str(w.message) for w in caught if "BLAS" in str(w.message)]
        assert not blas, blas
        print("done")
    """))
    _run_clean(script)


def test_nuts_on_jax_prints_no_blas_warning(tmp_path):
    """NUTS on JAX (the default) runs no C code either, but PyMC's JAX rewrites ask for
    the C compiler's BLAS flags; in a fresh process the missing-BLAS advice is not shown."""
    script = tmp_path / "nuts.py"
    script.write_text(textwrap.dedent("""
        import warnings
        import geommm as gm
        from geommm import sim

        data = sim.simulate(n_geos=2, n_weeks=30, n_channels=1, seed=1, n_lift_tests=0)
        model = gm.GeoMMM(data.formula, data.panel, geo="geo", time="week")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(draws=5, tune=5, chains=1, progressbar=False, preflight="warn")
        blas = [str(w.message) for w in caught if "BLAS" in str(w.message)]
        assert not blas, blas
        print("done")
    """))
    _run_clean(script)


def _run_clean(script) -> None:
    """Run ``script`` in a fresh process: exit 0, "done", nothing about BLAS, no error log."""
    env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, str(script)], check=False, capture_output=True, text=True, env=env, timeout=600
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("done")
    for word in ("BLAS", "ERROR", "Traceback"):
        assert word not in run.stderr, run.stderr[-3000:]


def _same_design_other_kpi(model, factor: float, seed: int):
    """``model``'s formula, spend and lift tests on a KPI scaled by ``factor`` with noise."""
    import polars as pl

    import geommm as gm

    panel = model.panel
    kpi = panel.frame[model.spec.response].to_numpy()
    noise = np.random.default_rng(seed).normal(1.0, 0.03, kpi.size)
    frame = panel.frame.with_columns(pl.Series(model.spec.response, kpi * factor * noise))
    return gm.GeoMMM(model.spec.formula, frame, geo=panel.geo_col, time=panel.time_col,
                     lift_tests=model.lift_tests)


def test_one_compile_serves_models_that_differ_only_in_their_data(tiny_model):
    """Laplace's batched value -> variables map is one XLA compile for both models; MAP's
    (one point per call) is PyTensor's Python linker, per model, with no compile."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = _same_design_other_kpi(tiny_model, 1.3, seed=1)
        models = [tiny_model._optimisation_model(), other._optimisation_model()]
        a, b = approx.densities(models, batch=3)
        alone = approx.JaxDensity.from_model(other._optimisation_model())  # batch 1
    assert a._value_grad is b._value_grad and a._variables is b._variables
    assert isinstance(a._variables, Deferred) and not isinstance(alone._variables, Deferred)
    assert len(b.logp_data) > 0  # the KPI (at least) became an argument
    for x in (alone.x0, alone.x0 + 0.1):
        va, ga = alone.value_and_grad(x)
        vb, gb = b.value_and_grad(x)
        assert vb == pytest.approx(va, rel=1e-10)
        np.testing.assert_allclose(gb, ga, rtol=1e-8, atol=1e-10)
        # ... and the first model still sees its own data
        assert a.value_and_grad(x)[0] != pytest.approx(va, rel=1e-6)
    # the Python-linker map (alone) and the XLA one (b) agree, in C order, on several
    # points (a batch of 4 is one full chunk of 3 and a padded one)
    points = alone.x0[None] + np.random.default_rng(3).normal(0, 0.3, (4, alone.x0.size))
    names_b, names_alone = b.variables(points), alone.variables(points)
    assert list(names_b) == list(names_alone)
    for name in names_alone:
        assert names_alone[name].flags["C_CONTIGUOUS"], name
        np.testing.assert_allclose(names_b[name], names_alone[name], rtol=1e-10, atol=1e-12)


def test_map_maps_each_model_on_its_own_python_map_or_falls_back_to_xla(tiny_model, monkeypatch):
    """MAP over several models (``fit_alike``): one Python-linker map per model, each on
    its own model's graph; where a graph cannot run on the Python linker
    (``python_map`` gives None) the map is compiled by XLA instead, with the same values,
    near the start and at the mode."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        other = _same_design_other_kpi(tiny_model, 1.3, seed=1)
        python = approx.densities([tiny_model._optimisation_model(), other._optimisation_model()])
        monkeypatch.setattr(approx, "python_map", lambda model, split: None)
        xla = approx.densities([tiny_model._optimisation_model(), other._optimisation_model()])
    assert not any(isinstance(d._variables, Deferred) for d in python)
    assert all(isinstance(d._variables, Deferred) for d in xla)
    x0 = python[0].x0
    points = x0[None] + np.random.default_rng(4).normal(0, 0.3, (2, x0.size))
    # ... and at the posterior mode, the one point MAP maps (its deterministics there)
    points = np.vstack([points, approx.find_mode(python[0])])
    for by_python, by_xla in zip(python, xla):
        got, want = by_python.variables(points), by_xla.variables(points)
        assert list(got) == list(want)
        for name in want:
            np.testing.assert_allclose(got[name], want[name], rtol=1e-10, atol=1e-12, err_msg=name)
    # each map runs on its own model: the same points give the second model's own values
    first, second = python[0].variables(points), python[1].variables(points)
    assert any(not np.allclose(first[name], second[name]) for name in first)


@pytest.mark.parametrize("stop", [RuntimeError, KeyboardInterrupt])
def test_a_failed_first_look_cancels_the_compiles_it_queued(monkeypatch, stop):
    """If the first look fails (or is interrupted) while XLA compiles, the compiles still
    queued are cancelled: the process does not wait at exit for a map nobody calls."""
    import threading

    from geommm import _jax_speed, variables_map

    started, gate = threading.Event(), threading.Event()

    def slow_compile(lowered):
        started.set()
        gate.wait(10)
        return lowered

    monkeypatch.setattr(_jax_speed, "compile_quickly", slow_compile)
    with pytest.raises(stop, match="mode search failed"), variables_map.background_compiles() as submit:
        running = submit("density")
        assert started.wait(10)
        queued = submit("map")
        raise stop("the mode search failed")
    gate.set()
    assert running.result(timeout=10) == "density"  # a compile under way runs to its end
    assert queued.cancelled()


def test_a_failed_background_compile_is_a_fit_error():
    """A compile that failed on the background thread surfaces where the map is first
    used, as a FitError naming it, not as a bare XLA error or a hang."""
    from concurrent.futures import Future

    from geommm.errors import FitError

    failed: Future = Future()
    failed.set_exception(RuntimeError("XLA said no"))
    with pytest.raises(FitError, match="value -> variables map failed: XLA said no"):
        Deferred(failed)(np.zeros((1, 2)))


def test_hessian_from_gradient_differences_matches_jax(tiny_model):
    import jax

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = tiny_model._optimisation_model()
        density = approx.JaxDensity.from_model(model)
        mode = approx.find_mode(density)
    logp = approx.jaxify(model.value_vars, [model.logp()])
    split = approx._splitter(density.shapes)
    # jitted: one XLA compile of the exact forward-over-reverse Hessian (run eagerly,
    # op by op, it took a minute on the tiny model)
    exact = np.asarray(jax.jit(jax.hessian(lambda x: -logp(*split(x))[0]))(mode))
    h = density.hessian(mode)
    np.testing.assert_allclose(h, exact, rtol=1e-6, atol=1e-6 * np.abs(exact).max())
    v = np.random.default_rng(0).standard_normal(mode.size)
    np.testing.assert_allclose(density.hessp(mode, v), exact @ v, rtol=1e-4,
                               atol=1e-4 * np.abs(exact @ v).max())


def _one_variable_density(make):
    import pymc as pm

    with pm.Model() as model:
        make()
    return approx.JaxDensity.from_model(model, 0, batch=1)


def test_importance_resampling_moves_laplace_to_a_skewed_target():
    """Gamma(2, 1): the normal at the mode of log x puts E[x] at ~2.54; PSIS brings it to
    the true mean 2, and its Pareto k says the weights are reliable."""
    import pymc as pm

    density = _one_variable_density(lambda: pm.Gamma("x", alpha=2.0, beta=1.0))
    mode = approx.find_mode(density)
    xs, sq = approx._laplace(density, mode, 4000, 0)
    ys, k = approx.importance_resample(density, xs, sq, 0)
    assert np.exp(xs).mean() > 2.4  # the plain Laplace mean is well off
    assert np.exp(ys).mean() == pytest.approx(2.0, abs=0.06)
    assert 0 < k <= approx.PARETO_K_MAX
    assert ys.shape == xs.shape and set(map(float, ys.ravel())) <= set(map(float, xs.ravel()))


def test_untrustworthy_weights_leave_the_laplace_draws_alone():
    """A Cauchy target's tails are far heavier than the normal's: k > 0.7, draws unchanged."""
    import pymc as pm

    density = _one_variable_density(lambda: pm.Cauchy("x", alpha=0.0, beta=1.0))
    mode = approx.find_mode(density)
    xs, sq = approx._laplace(density, mode, 1000, 0)
    ys, k = approx.importance_resample(density, xs, sq, 0)
    assert k > approx.PARETO_K_MAX
    assert ys is xs


def test_laplace_reports_its_pareto_k(laplace_fit):
    k = laplace_fit.settings.pareto_k
    assert k is not None and np.isfinite(k)
    assert any("Pareto k" in m for m in laplace_fit.diagnostics().messages)


def test_pareto_k_survives_save_and_load(laplace_fit, tmp_path):
    import geommm as gm

    path = laplace_fit.save(tmp_path / "fit.nc")
    loaded = gm.load_fit(path)
    assert loaded.settings.pareto_k == laplace_fit.settings.pareto_k
    assert loaded.diagnostics().messages == laplace_fit.diagnostics().messages


def test_prior_draws_and_the_sampler_priors_transforms_make_no_c_thunk(tiny_model, monkeypatch):
    """With the empty C cache of a fresh machine each C thunk can cost seconds to compile
    (the demo's 500 prior draws: 27 s, against 2 s in Python thunks), so prior predictive
    draws and the refresh prior's log/logit transforms run in PyTensor's Python thunks.
    ``make_c_thunk`` runs for every C node whether or not its module is cached, so this
    fails on a warm cache too."""
    import pytensor.link.c.op as c_op

    from geommm.model.sampler_prior import unconstrained_draws

    def refuse(*args, **kwargs):
        raise AssertionError("PyTensor made a C thunk")

    monkeypatch.setattr(c_op.COp, "make_c_thunk", refuse)
    prior = tiny_model.sample_prior_predictive(draws=4, seed=0).prior
    assert prior.sizes["draw"] == 4
    flat, values, _ = unconstrained_draws(tiny_model.model, prior)
    assert flat.shape[0] == 4 and np.isfinite(flat).all() and len(values) > 0
