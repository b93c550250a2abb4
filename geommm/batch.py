"""Deprecated location of :mod:`geommm.workflows.batch` (many fits on Dask).

Kept for one release so existing scripts keep running; import from
``geommm.workflows.batch`` instead.
"""

from __future__ import annotations

import warnings

from geommm.workflows.batch import (
    STATUS_SCHEMA,
    BatchResult,
    FitJob,
    prior_variants,
    run_fits,
    run_job,
    time_slices,
)

__all__ = [
    "STATUS_SCHEMA", "BatchResult", "FitJob",
    "prior_variants", "run_fits", "run_job", "time_slices",
]

warnings.warn(
    "geommm.batch has moved to geommm.workflows.batch; the old path will be removed "
    "in the next release",
    DeprecationWarning,
    stacklevel=2,
)
