"""geommm: hierarchical geo-level Bayesian media mix modelling with Geo-Lift calibration.

    import geommm as gm
    panel = gm.read_panel("panel.csv", geo="geo", time="week")
    model = gm.GeoMMM("revenue ~ price + fourier(52, 2) + trend() + (1 | geo)"
                      " + media(tv_spend, name='tv')", data=panel)
    fit = model.fit(draws=500, tune=500, chains=2)
    fit.roi(by="geo")

Heavy modules (PyMC, arviz) load on first use of the names that need them, so
``import geommm`` and ``geommm --help`` stay fast.
"""

from __future__ import annotations

import importlib
import warnings as _warnings

# arviz announces a future refactor at import; analysts need not see it on every run.
_warnings.filterwarnings(
    "ignore", message=r"(?s).*ArviZ is undergoing a major refactor", category=FutureWarning
)

from geommm import errors  # noqa: E402
from geommm.errors import ConvergenceWarning, GeoMMMError  # noqa: E402

from geommm._version import __version__  # noqa: E402

_LAZY = {
    "GeoMMM": "geommm.mmm",
    "Fit": "geommm.fit",
    "load_fit": "geommm.store",
    "Panel": "geommm.data",
    "read_panel": "geommm.data",
    "read_lift_tests": "geommm.data",
    "to_lift_test": "geommm.analysis.experiments",
    "Prior": "geommm.model.priors",
    "sim": "geommm.sim",
    "report": "geommm.report",
    "evaluate_holdout": "geommm.workflows.validation",
    "time_slice_cv": "geommm.workflows.validation",
    "batch": "geommm.workflows.batch",
    "compare": "geommm.analysis.model_comparison",
    "preflight": "geommm.workflows.preflight.run",
    "mlflow": "geommm.mlflow",
}

__all__ = ["errors", "GeoMMMError", "ConvergenceWarning", "__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        from geommm._gc_pause import paused_gc

        with paused_gc():  # PyMC, PyTensor and arviz import faster (geommm/_gc_pause.py)
            module = importlib.import_module(_LAZY[name])
        value = module if module.__name__.rpartition(".")[2] == name else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'geommm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
