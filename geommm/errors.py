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
    """A table does not match its declarative schema in data_schemas/ (missing column, wrong type)."""


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


class DataWarning(UserWarning):
    """The data are accepted but look likely to mislead the model (the message says why)."""


class ConvergenceWarning(UserWarning):
    """The sampler did not converge well enough to trust the numbers (divergences, R-hat, ESS)."""
