"""geommm: hierarchical geo-level Bayesian media mix modelling with Geo-Lift calibration."""

from __future__ import annotations

__version__ = "0.1.0"
