"""NUTS chains in worker processes (geommm.chain_processes): the same posterior as
nutpie's threads, every chain its own, reproducible, and failures that say so."""

from __future__ import annotations

import logging
import types
import warnings

import numpy as np
import pytest

from geommm import chain_processes, sampling
from geommm._progress import Progress
from geommm.errors import FitError, FitInterrupted

two_cpus = pytest.mark.skipif(len(chain_processes.cpus(types.SimpleNamespace(chains=2, cores=None))) < 2,
                              reason="needs two CPUs")


def _settings(**kw) -> sampling.SamplerSettings:
    s = sampling.SamplerSettings(**kw)
    sampling.check_settings(s)
    return s


class _Guard:
    def __init__(self, stop_after: int | None = None):
        self.calls, self.stop_after, self.stage = 0, stop_after, "sampling"

    def check(self) -> None:
        self.calls += 1
        if self.stop_after is not None and self.calls > self.stop_after:
            raise FitInterrupted("stopped by the test")


def _fit(model, processes: bool, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(progressbar=False, chain_processes=processes, **kw)


@two_cpus
def test_auto_uses_processes_only_where_they_pay(monkeypatch):
    monkeypatch.delenv("GEOMMM_CHAIN_PROCESSES", raising=False)
    s = _settings(chains=4, draws=1000, tune=1000)
    assert chain_processes.wanted(s, cells=10 * 104 * 4)  # the demo
    assert not chain_processes.wanted(s, cells=4 * 60 * 2 // 20)  # a few hundred cells
    assert not chain_processes.wanted(_settings(chains=1), cells=10**6)  # one chain
    assert not chain_processes.wanted(_settings(chains=4, cores=1), cells=10**6)  # one CPU asked for
    assert not chain_processes.wanted(_settings(method="laplace"), cells=10**6)
    assert chain_processes.wanted(_settings(chain_processes=True), cells=10)  # asked for
    monkeypatch.setenv("GEOMMM_CHAIN_PROCESSES", "0")
    assert not chain_processes.wanted(s, cells=10 * 104 * 4)
    monkeypatch.setenv("GEOMMM_CHAIN_PROCESSES", "1")
    assert chain_processes.wanted(s, cells=10)
    with pytest.raises(FitError, match="chain_processes must be True, False or None"):
        _settings(chain_processes="yes")


def test_chain_seeds_depend_on_the_seed_and_the_chain_only():
    assert chain_processes.chain_seeds(3, 4)[:2] == chain_processes.chain_seeds(3, 2)
    assert len({a for a, _ in chain_processes.chain_seeds(3, 4)}) == 4
    assert chain_processes.chain_seeds(3, 2) != chain_processes.chain_seeds(4, 2)


@two_cpus
@pytest.mark.slow
def test_processes_sample_the_posterior_threads_sample(tiny_mmm):
    """Same density, same sampler: the national ROI means agree within their Monte Carlo
    error; the draws have threads' structure; chains differ; a seed repeats exactly."""
    model = tiny_mmm()
    # trees capped at 127 steps, as tiny_fit caps them (valid NUTS, the same for both;
    # it cuts the short warm-up's deep trees): 81 -> 60 s alone, 35 s once refits reuse
    # the compiled density (session 25)
    kw = {"draws": 250, "tune": 250, "chains": 2, "seed": 11, "max_treedepth": 7}
    procs, threads = _fit(model, True, **kw), _fit(model, False, **kw)
    assert procs.settings.chain_processes is True and threads.settings.chain_processes is False
    p, t = procs.posterior, threads.posterior
    assert set(p.data_vars) == set(t.data_vars) and dict(p.sizes) == dict(t.sizes)
    assert list(p.chain.values) == [0, 1]
    assert set(procs.sample_stats.data_vars) >= {"diverging", "n_steps", "step_size"}
    roi_p, roi_t = p["roi"].values, t["roi"].values
    assert not np.allclose(roi_p[0], roi_p[1]), "both chains drew the same numbers"
    import arviz as az

    se = np.hypot(az.mcse(p, var_names=["roi"])["roi"].values, az.mcse(t, var_names=["roi"])["roi"].values)
    gap = np.abs(roi_p.mean(axis=(0, 1)) - roi_t.mean(axis=(0, 1)))
    assert np.all(gap <= 4 * se + 0.02 * np.abs(roi_t.mean(axis=(0, 1)))), (gap, se)
    # a seed repeats exactly: two short runs with capped trees (a third long run cost ~50 s)
    short = {"draws": 30, "tune": 30, "chains": 2, "seed": 3, "max_treedepth": 4}
    one, two = _fit(model, True, **short), _fit(model, True, **short)
    np.testing.assert_array_equal(one.posterior["roi"].values, two.posterior["roi"].values)
    assert not np.array_equal(one.posterior["roi"].values[0], one.posterior["roi"].values[1])


def _fake_compiled(n_dim: int = 3):
    return types.SimpleNamespace(_make_initial_points=lambda seed: np.zeros(n_dim))


@two_cpus
def test_a_worker_that_fails_is_a_fit_error_with_its_traceback(monkeypatch):
    s = _settings(chains=2, draws=10, tune=10)
    monkeypatch.setattr(chain_processes, "job", lambda compiled, s, extra: {
        "n_dim": 3, "logp": {"function": b"not a program", "shared": [], "n_dim": 3}, "logp_dtype": "float64",
        "expand": {"function": b"", "shared": []}, "names": [], "shapes": [], "dims": {}, "coords": {},
        "kwargs": {"draws": 10, "tune": 10}, "cache_dir": None})
    workers = chain_processes.Workers(chain_processes.cpus(s))
    try:
        with pytest.raises(FitError, match="(?s)NUTS worker process failed.*Traceback"):
            chain_processes.sample(workers, _fake_compiled(), s, {}, _Guard(), Progress(False))
    finally:
        workers.stop()


@two_cpus
def test_an_interrupt_while_workers_run_is_an_interrupt_not_a_worker_error(monkeypatch):
    s = _settings(chains=2, draws=10, tune=10)
    monkeypatch.setattr(chain_processes, "job", lambda compiled, s, extra: {"kwargs": {}})
    workers = chain_processes.Workers(chain_processes.cpus(s))
    with pytest.raises(FitInterrupted):
        try:
            chain_processes.sample(workers, _fake_compiled(), s, {}, _Guard(stop_after=2), Progress(False))
        finally:
            workers.stop()


@two_cpus
def test_a_density_that_cannot_be_exported_falls_back_to_threads(monkeypatch, caplog):
    s = _settings(chains=2, draws=10, tune=10)

    def broken(compiled, s, extra):
        raise RuntimeError("this nutpie version builds its draw expansion differently")

    monkeypatch.setattr(chain_processes, "job", broken)
    workers = chain_processes.Workers(chain_processes.cpus(s))
    try:
        with caplog.at_level(logging.WARNING, logger="geommm"):
            assert chain_processes.sample(workers, _fake_compiled(), s, {}, _Guard(), Progress(False)) is None
    finally:
        workers.stop()
    assert "chains run as threads, not processes" in caplog.text


def test_processes_asked_for_where_they_cannot_run_say_so(monkeypatch, caplog):
    monkeypatch.setattr(chain_processes, "cpus", lambda s: [0])  # one CPU
    with caplog.at_level(logging.WARNING, logger="geommm"):
        assert chain_processes.start(_settings(chains=4, chain_processes=True)) is None
    assert "chain_processes=True needs two or more chains and CPUs" in caplog.text


def test_worker_processes_get_the_xla_flag_even_after_jax_started():
    from geommm import _jax_speed

    env = _jax_speed.worker_xla_flags({"XLA_FLAGS": "--xla_foo=1"})
    import jaxlib

    measured = tuple(int(p) for p in jaxlib.__version__.split(".")[:2]) in _jax_speed._YNN_FLAG_VERSIONS
    assert ("ynn_fusion_type" in env["XLA_FLAGS"]) == measured and "--xla_foo=1" in env["XLA_FLAGS"]
