"""Shared by the recovery tests: fit a simulated panel with NUTS, join its ROI to the truth."""

from __future__ import annotations

import warnings

import polars as pl

import geommm as gm


def _fit(result, lift_tests=None, seed=3, draws=1000, tune=None):
    model = gm.GeoMMM(result.formula, data=result.panel, geo="geo", time="week", lift_tests=lift_tests)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(draws=draws, tune=draws if tune is None else tune, chains=2, seed=seed, progressbar=False)


def _with_truth(table: pl.DataFrame, truth: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    t = truth.select(*keys, pl.col("roi").alias("true_roi"))
    return table.join(t, on=keys).with_columns(
        covered=(pl.col("roi_hdi_low") <= pl.col("true_roi")) & (pl.col("true_roi") <= pl.col("roi_hdi_high")),
        rel_error=(pl.col("roi_mean") / pl.col("true_roi") - 1).abs(),
    )
