"""Which model predicts unseen geo-weeks better: PSIS-LOO per fit and a ranked comparison.

Both read the pointwise log-likelihood of the KPI per geo-week (``log_likelihood``
group, see :mod:`geommm.analysis.arviz_groups`) and hand it to arviz, so the
numbers are arviz's own; geommm returns them as Polars tables.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import arviz as az
import numpy as np
import polars as pl

from geommm.errors import FitError


def loo_table(fit, var_name: str = "kpi") -> pl.DataFrame:
    """One row: elpd_loo, se, p_loo, looic, n_draws, n_points, max_pareto_k,
    n_high_pareto_k (k > 0.7: those points' LOO estimate is unreliable), warning."""
    _check_draws({"fit": fit})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the warning is a column of the table
        res = az.loo(fit.idata, var_name=var_name, pointwise=True)
    k = np.asarray(res.pareto_k)
    return pl.DataFrame(
        {
            "elpd_loo": [float(res.elpd_loo)],
            "se": [float(res.se)],
            "p_loo": [float(res.p_loo)],
            "looic": [-2.0 * float(res.elpd_loo)],
            "n_draws": [int(res.n_samples)],
            "n_points": [int(res.n_data_points)],
            "max_pareto_k": [float(np.nanmax(k))],
            "n_high_pareto_k": [int((k > 0.7).sum())],
            "warning": [bool(res.warning)],
        }
    )


def compare(fits: Mapping[str, object], var_name: str = "kpi") -> pl.DataFrame:
    """Rank fits of the same panel by expected log predictive density (PSIS-LOO, arviz's
    ``compare``): model, rank, elpd_loo, p_loo, elpd_diff, weight, se, dse, warning.

    >>> gm.compare({"hill": fit_a, "logistic": fit_b})
    """
    if not isinstance(fits, Mapping) or len(fits) < 2:
        raise FitError("compare needs a dict of at least two fits, e.g. {'a': fit_a, 'b': fit_b}")
    _check_draws(fits)
    shapes = {}
    for name, fit in fits.items():
        shapes[name] = fit.idata.log_likelihood[var_name].shape[2:]
    if len(set(shapes.values())) > 1:
        raise FitError(
            f"compare needs fits of the same observations; {var_name!r} has shapes {shapes} "
            "(fit every model on the same panel)"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.compare({k: f.idata for k, f in fits.items()}, ic="loo", var_name=var_name)
    return pl.DataFrame(
        {
            "model": [str(i) for i in table.index],
            "rank": table["rank"].to_numpy(int),
            "elpd_loo": table["elpd_loo"].to_numpy(float),
            "p_loo": table["p_loo"].to_numpy(float),
            "elpd_diff": table["elpd_diff"].to_numpy(float),
            "weight": table["weight"].to_numpy(float),
            "se": table["se"].to_numpy(float),
            "dse": table["dse"].to_numpy(float),
            "warning": table["warning"].to_numpy(bool),
        }
    )


def _check_draws(fits: Mapping[str, object]) -> None:
    one = [k for k, f in fits.items() if f.settings.chains * f.settings.draws < 2]
    if one:
        raise FitError(
            f"LOO needs posterior draws; {one} has a single point (method='map'): "
            "refit with method='nuts'"
        )
    approximate = {k: f.settings.method for k, f in fits.items() if f.settings.method != "nuts"}
    if approximate:
        warnings.warn(
            f"LOO on approximate draws {approximate} is not reliable (their tails reach "
            "regions the posterior does not): compare NUTS fits",
            UserWarning, stacklevel=3,
        )
