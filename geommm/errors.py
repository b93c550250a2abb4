"""One exception hierarchy for everything a user can get wrong.

Every user mistake surfaces as a subclass of :class:`GeoMMMError` whose message
names the file, column, rows or values involved and says how to fix it, so no
raw KeyError or PyTensor traceback reaches an analyst.
"""

from __future__ import annotations

__all__ = [
    "GeoMMMError",
    "ArgumentError",
    "DataError",
    "SchemaError",
    "FormulaError",
    "LiftTestError",
    "PriorError",
    "FitError",
    "FitInterrupted",
    "OptimizationError",
    "PreflightError",
    "PreflightWarning",
    "DesignError",
    "OptionalDependencyError",
    "ConvergenceWarning",
    "DataWarning",
]


class GeoMMMError(Exception):
    """Base class of all geommm errors caused by user input."""


class ArgumentError(GeoMMMError, ValueError):
    """An argument of a geommm function has an invalid type or value (the message names it)."""


class DataError(GeoMMMError, ValueError):
    """The panel (or another input table) is malformed: bad values, gaps, duplicates."""


class SchemaError(DataError):
    """A table does not match its schema in geommm/data/schemas/ (missing column, wrong type)."""


class FormulaError(GeoMMMError, ValueError):
    """The formula string cannot be turned into a model (unknown term, column or keyword)."""


class LiftTestError(DataError):
    """A Geo-Lift test row is invalid or does not fit the panel."""


class PriorError(GeoMMMError, ValueError):
    """A prior override names an unknown parameter or has an invalid form."""


class FitError(GeoMMMError, RuntimeError):
    """Fitting could not run or a saved fit cannot be read."""


class FitInterrupted(FitError, KeyboardInterrupt):
    """Fitting was stopped with Ctrl-C (SIGINT) before every draw was taken; nothing is returned.

    It is also a KeyboardInterrupt, so code that stops on Ctrl-C keeps doing so.
    """


class OptimizationError(GeoMMMError, ValueError):
    """A budget optimisation request is infeasible or malformed."""


class PreflightError(GeoMMMError):
    """The pre-flight checks found a problem that leaves the fit nothing to answer
    (a KPI constant in a geo, a constant control, a lift test the model cannot
    replay). ``findings`` holds the blocking rows of the findings table."""

    def __init__(self, message: str, findings=None) -> None:
        super().__init__(message)
        self.findings = findings


class PreflightWarning(UserWarning):
    """A blocking pre-flight finding, let through because the fit ran with ``preflight="warn"``."""


class DesignError(GeoMMMError, ValueError):
    """A lift-test design request is malformed (unknown channel or geo, a window inside the
    panel, a geo where the channel never spends, ...); the message names the argument."""


class OptionalDependencyError(GeoMMMError, ImportError):
    """A feature needs an optional package that is not installed (the message says which
    extra to install, e.g. ``pip install 'geommm[mlflow]'``)."""


class DataWarning(UserWarning):
    """The data are accepted but look likely to mislead the model (the message says why)."""


class ConvergenceWarning(UserWarning):
    """The sampler did not converge well enough to trust the numbers (divergences, R-hat, ESS)."""


class RefreshError(DataError):
    """New weeks do not continue a fitted panel (other geos or columns, a gap, too few weeks)."""


class RestatedHistoryError(RefreshError):
    """Weeks the fit already saw have different values in the new panel.

    ``restated`` lists them as (geo, week, column) tuples."""

    def __init__(self, message: str, restated: list[tuple[str, str, str]]) -> None:
        super().__init__(message)
        self.restated = restated
