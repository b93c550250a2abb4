"""geommm: hierarchical geo-level Bayesian media mix modelling with Geo-Lift calibration.

    import geommm as gm
    panel = gm.read_panel("panel.csv", geo="geo", time="week")
    model = gm.GeoMMM("revenue ~ price + fourier(52, 2) + trend() + (1 | geo)"
                      " + media(tv_spend, name='tv')", data=panel)
    fit = model.fit(draws=500, tune=500, chains=2)
    fit.roi(by="geo")
"""

from __future__ import annotations

import warnings as _warnings

# arviz announces a future refactor at import; analysts need not see it on every run.
_warnings.filterwarnings("ignore", message=r"(?s).*ArviZ is undergoing a major refactor", category=FutureWarning)

from geommm import errors  # noqa: E402
from geommm.data import Panel, read_lift_tests, read_panel  # noqa: E402
from geommm.errors import ConvergenceWarning, GeoMMMError  # noqa: E402
from geommm.fit import Fit, load_fit  # noqa: E402
from geommm.mmm import GeoMMM  # noqa: E402
from geommm.model.priors import Prior  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "GeoMMM",
    "Fit",
    "Panel",
    "Prior",
    "read_panel",
    "read_lift_tests",
    "load_fit",
    "errors",
    "GeoMMMError",
    "ConvergenceWarning",
    "__version__",
]
