"""The model side of a log KPI (``log(revenue) ~ ...``): the modelled response, its checks
and the one prior whose default moves.

The likelihood sees ``log(KPI_gt / s_g)`` (``s_g`` the geo's mean KPI, as for an additive
KPI), so every term adds on the log scale and multiplies the KPI. The geo level is then
a log level near 0, not a share near 1: its default prior is centred at 0. The ROI prior
keeps its API and is placed on the *linearised* ROI: the media effect on log KPI summed
over the weeks, times the geo's mean KPI, per unit of spend (see ``docs/log_kpi.md``).
"""

from __future__ import annotations

import numpy as np

from geommm.errors import DataError

#: Default prior of the geo mean level on the log scale (log of KPI / geo mean KPI).
LOG_LEVEL_PRIOR = {"dist": "Normal", "mu": 0.0, "sigma": 0.5,
                   "note": "geo mean log KPI level, log of KPI / geo mean KPI"}


def is_log(spec) -> bool:
    """The formula's response is ``log(column)``."""
    return getattr(spec, "response_transform", "identity") == "log"


def check_positive(kpi: np.ndarray, geos, times, response: str, source: str) -> None:
    """A log needs a positive KPI in every geo-week: name the first bad cells and the count."""
    bad = ~(np.asarray(kpi, dtype="float64") > 0)
    n = int(bad.sum())
    if not n:
        return
    cells = [f"{geos[g]} {np.datetime_as_string(np.asarray(times)[t], unit='D')}" for g, t in np.argwhere(bad)[:5]]
    raise DataError(
        f"{source}: log({response}) needs a positive KPI, but {n} geo-week(s) hold zero, a "
        f"negative value or nothing, e.g. {', '.join(cells)} (geo week); fit the KPI "
        f"additively ({response} ~ ...) or remove those weeks"
    )


def modelled(kpi_scaled: np.ndarray) -> np.ndarray:
    """The response the likelihood sees: ``log(KPI / s_g)``."""
    return np.log(kpi_scaled)


def level_prior(spec) -> dict | None:
    """The default ``kpi_level`` prior for this formula (None: the additive default)."""
    return dict(LOG_LEVEL_PRIOR) if is_log(spec) else None


def check_likelihood(spec, likelihood: str) -> None:
    """A log KPI reports the KPI's mean, ``exp(mu + sd^2 / 2)``; under a StudentT log-scale
    error that mean is infinite, so the pair is refused."""
    from geommm.errors import FormulaError

    if is_log(spec) and likelihood != "normal":
        raise FormulaError(
            f"log({spec.response}) ~ ... needs likelihood='normal': the KPI's mean under a "
            f"{likelihood!r} error on the log scale is infinite, so ROI and contributions in "
            "KPI units would not exist"
        )


def optimisation_level_centring(spec) -> float | None:
    """Geo-level centring for MAP and Laplace: non-centred (1) for a log KPI, the data's
    choice (None) otherwise. The log levels of all geos sit within a few thousandths of
    0, so the data-chosen centred form let the mode search run into the funnel of a
    vanishing level spread (tiny 4 x 60 panel: no convergence, NaN ROI); non-centred, the
    mode converged and the Laplace intervals covered the true ROI."""
    return 1.0 if is_log(spec) else None
