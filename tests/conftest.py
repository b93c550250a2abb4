"""Shared fixtures: simulated panels, models and cheap fits, each built once per session.

Test modules ask the factories for the panel or fit they need instead of building
their own copy; equal arguments give the very same object, so a fit several
modules share is paid for once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import pytest

import geommm as gm
from geommm import sim

#: The default tiny panel: 4 geos x 60 weeks x 2 channels, two lift tests (heavy-up, go-dark).
TINY = {"n_geos": 4, "n_weeks": 60, "n_channels": 2, "seed": 1, "n_lift_tests": 2}
#: Default sampler settings per method: MAP is one point; Laplace gives a few
#: draws; NUTS a short real run (the one NUTS fit most modules share, see ``nuts_fit``).
FIT_DEFAULTS = {
    "map": {"seed": 1},
    "laplace": {"draws": 200, "chains": 2, "seed": 3},
    # trees capped at 127 steps: the tiny panel's short warm-up otherwise runs at 1,023
    "nuts": {"draws": 100, "tune": 150, "chains": 2, "seed": 4, "max_treedepth": 7},
}


def _key(options: Mapping[str, Any]) -> tuple:
    return tuple(sorted(options.items()))


def _quietly(make: Callable[[], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make()


@pytest.fixture(scope="session")
def tiny_panel() -> Callable[..., sim.SimulatedPanel]:
    """Factory ``tiny_panel(**overrides)``: ``sim.simulate`` of TINY updated by ``overrides``.

    Returns the whole simulation (panel, formula, lift tests, truth); one per
    distinct arguments per session."""
    cache: dict[tuple, sim.SimulatedPanel] = {}

    def make(**overrides: Any) -> sim.SimulatedPanel:
        options = {**TINY, **overrides}
        key = _key(options)
        if key not in cache:
            cache[key] = sim.simulate(**options)
        return cache[key]

    return make


#: The panel the fit-many tests fit (MAP, several jobs).
BATCH_PANEL = {"n_geos": 3, "n_weeks": 40, "n_channels": 2, "seed": 2, "n_lift_tests": 0}


@pytest.fixture(scope="session")
def batch_panel(tiny_panel) -> sim.SimulatedPanel:
    """The small panel the fit-many tests fit."""
    return tiny_panel(**BATCH_PANEL)


@pytest.fixture
def fit_many_jobs(tmp_path, batch_panel) -> Callable[[str], Any]:
    """Factory ``fit_many_jobs(jobs_toml)``: writes BATCH_PANEL to ``tmp_path/panel.parquet``
    and a ``jobs.toml`` beside it whose [defaults] fit that panel with MAP, followed by
    ``jobs_toml`` (the [[jobs]] blocks); returns the jobs file's path."""

    def write(jobs_toml: str):
        result = batch_panel
        result.panel.write_parquet(tmp_path / "panel.parquet")
        jobs = tmp_path / "jobs.toml"
        jobs.write_text(
            "[defaults]\n"
            f"formula = \"{result.formula}\"\n"
            "data = \"panel.parquet\"\ngeo = \"geo\"\ntime = \"week\"\n"
            "[defaults.fit]\nmethod = \"map\"\n" + jobs_toml
        )
        return jobs

    return write


@pytest.fixture(scope="session")
def tiny_mmm(tiny_panel) -> Callable[..., gm.GeoMMM]:
    """Factory ``tiny_mmm(**overrides)``: the model of ``tiny_panel(**overrides)``, its lift tests
    included (the simulation's formula, geo "geo", time "week")."""
    cache: dict[tuple, gm.GeoMMM] = {}

    def make(**overrides: Any) -> gm.GeoMMM:
        key = _key({**TINY, **overrides})
        if key not in cache:
            result = tiny_panel(**overrides)
            lifts = result.lift_tests if result.lift_tests.height else None
            cache[key] = gm.GeoMMM(
                result.formula, data=result.panel, geo="geo", time="week", lift_tests=lifts
            )
        return cache[key]

    return make


@pytest.fixture(scope="session")
def tiny_fit(tiny_mmm) -> Callable[..., gm.Fit]:
    """Factory ``tiny_fit(method="map", panel={...}, **fit_options)``: a fit of
    ``tiny_mmm(**panel)`` with FIT_DEFAULTS[method] updated by ``fit_options``, warnings
    silenced; one per distinct arguments per session. For table shapes and plumbing,
    not for intervals."""
    cache: dict[tuple, gm.Fit] = {}

    def make(method: str = "map", panel: Mapping[str, Any] | None = None, **fit_options: Any):
        panel = dict(panel or {})
        options = {**FIT_DEFAULTS.get(method, {}), **fit_options, "method": method}
        key = (_key({**TINY, **panel}), _key(options))
        if key not in cache:
            model = tiny_mmm(**panel)
            cache[key] = _quietly(lambda: model.fit(progressbar=False, **options))
        return cache[key]

    return make


@pytest.fixture(scope="session")
def tiny_sim(tiny_panel):
    """The default tiny simulation (TINY)."""
    return tiny_panel()


@pytest.fixture(scope="session")
def tiny_model(tiny_mmm):
    return tiny_mmm()


@pytest.fixture(scope="session")
def map_fit(tiny_fit):
    """A MAP fit: seconds, one draw — for table shapes and plumbing, not for intervals."""
    return tiny_fit("map")


@pytest.fixture(scope="session")
def laplace_fit(tiny_fit):
    """A Laplace fit, 2 x 200 draws in seconds: intervals exist (approximate) for table tests."""
    return tiny_fit("laplace")


@pytest.fixture(scope="session")
def nuts_fit(tiny_fit):
    """The shared tiny NUTS fit: 2 chains x 100 draws after 150 warm-up on TINY (one
    compile, ~10 s). For anything that needs "a real NUTS posterior" (arviz groups,
    summaries, LOO, determinism), not for intervals that must cover a truth. Its users
    live in one module (test_model_comparison.py) so that pytest-xdist makes it once."""
    return tiny_fit("nuts")


# --------------------------------------------------------------- where the suite's time goes
_FIT_TIMES: list[tuple[str, str, float, float]] = []


@pytest.fixture(autouse=True, scope="session")
def _time_every_fit():
    """Record each sampler run's compile and sampling seconds (reported at the end of
    the run), so the suite's cost can be put where it is: compiles or sampling."""
    from geommm import sampling

    original = sampling.run

    def timed(model, s, *args, **kwargs):
        try:
            return original(model, s, *args, **kwargs)
        finally:
            test = __import__("os").environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
            _FIT_TIMES.append((test, f"{s.method}/{s.sampler}", s.compile_seconds, s.sampling_seconds))

    sampling.run = timed
    yield
    sampling.run = original


def pytest_terminal_summary(terminalreporter):
    if not _FIT_TIMES:
        return
    by: dict[str, list[float]] = {}
    for _, kind, compile_s, sample_s in _FIT_TIMES:
        row = by.setdefault(kind, [0, 0.0, 0.0])
        row[0] += 1
        row[1] += compile_s
        row[2] += sample_s
    terminalreporter.write_sep("-", "fits run by the suite (sampling.run)")
    for kind, (n, compile_s, sample_s) in sorted(by.items()):
        terminalreporter.write_line(f"{kind}: {n} fits, compile {compile_s:.0f} s, sampling {sample_s:.0f} s")
    costly = sorted(_FIT_TIMES, key=lambda row: -(row[2] + row[3]))[:15]
    terminalreporter.write_line("costliest fits (compile + sampling s, kind, test that ran it):")
    for test, kind, compile_s, sample_s in costly:
        terminalreporter.write_line(f"  {compile_s:6.1f} + {sample_s:6.1f}  {kind:14s} {test}")


def pytest_sessionfinish(session):
    out = getattr(session.config, "workeroutput", None)
    if out is not None:  # a pytest-xdist worker: hand its fit times to the controller's summary
        out["fit_times"] = [list(row) for row in _FIT_TIMES]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _FIT_TIMES.extend(tuple(row) for row in getattr(node, "workeroutput", {}).get("fit_times", []))


# ------------------------------------------------------- running on several workers (xdist)
#: The slowest modules, slowest first (``--durations`` of a full run, 2026-12-02), handed
#: to workers first so that none of them starts last and leaves the other worker idle.
SLOWEST_FIRST = ("test_recovery_calibration", "test_first_look", "test_refresh", "test_model_comparison",
                 "test_batch", "test_time_varying", "test_recovery", "test_cli", "test_experiments",
                 "test_model_graph", "test_fuzz_path", "test_demo_lift", "test_numpyro", "test_interrupt",
                 "test_progress", "test_batch_resume", "test_precision")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """On pytest-xdist workers (pyproject's addopts: ``--dist loadfile``, so each module
    stays on one worker and its module-scoped fits are made once), collect the slowest
    modules first: xdist hands modules out in collection order."""
    if not hasattr(config, "workerinput"):
        return
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0].rsplit("/", 1)[-1][:-3], len(rank)))
