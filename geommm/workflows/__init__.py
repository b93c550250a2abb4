"""Workflows: procedures that build and fit whole models, many times over.

They sit above the fit layer because each step is a complete ``GeoMMM`` fit:
out-of-sample checks (:mod:`geommm.workflows.validation`: holdout, time-slice
cross-validation) and many fits on Dask (:mod:`geommm.workflows.batch`).
"""
