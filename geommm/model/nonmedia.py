"""Organic media and treatments: their model arrays and their part of the expected KPI.

Written once for PyMC tensors (the graph) and numpy draws with a leading draw axis
(the analysis), like ``expected.py``. Everything is in scaled KPI units (KPI / the
geo's KPI scale).

- **Organic** ``o``: ``organic_effect_go * sat_o(adstock_o(x_got / m_go))``, the media
  transform of paid media (``MediaTransform``) with its own parameters
  (``organic_retention`` ...), ``m_go`` the mean of the weeks the exposure is non-zero.
  Its contribution is against zero exposure, as a channel's is.
- **Treatment** ``r``: ``treatment_effect_r * (x_gtr - b_r) / sd_r``, ``b_r`` the
  counterfactual level (the term's ``baseline``) and ``sd_r`` the lever's sd over the
  panel. Its contribution is the KPI against the lever held at ``b_r``.

Both enter the mean centred on each geo's average over the weeks (the media are too,
``terms/mean.py``), so the geo level keeps meaning "the geo's mean KPI".
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from geommm.errors import DataError, DataWarning
from geommm.media import MediaTransform, lag_stack
from geommm.media.registry import channel_parameter_priors

#: Trace variables of the two terms the analysis reads (``analysis/draws.py``).
NONMEDIA_PARAMETERS = (
    "organic_retention", "organic_half_saturation",
    *(f"organic_{p}" for p in channel_parameter_priors()),
    "organic_effect", "organic_share", "treatment_effect",
)


@dataclass(frozen=True)
class OrganicData:
    """The organic terms' exposure ``(G, T, O)`` in original units and its scale ``(G, O)``."""

    names: tuple[str, ...]
    exposure: np.ndarray
    scale: np.ndarray
    max_lag: int
    lag_mask: np.ndarray  # (O, L)
    transform: MediaTransform
    #: (G, L-1, O) exposure of the weeks before these (new weeks after a fitted panel:
    #: their carryover comes in), None for the fitted panel itself
    history: np.ndarray | None = None

    def lagged(self, exposure: np.ndarray | None = None) -> np.ndarray:
        """Lag stack ``(L, G, T, O)`` of the scaled exposure (the observed one by default)."""
        x = self.exposure if exposure is None else exposure
        if self.history is None:
            return lag_stack(x / self.scale[:, None, :], self.max_lag, time_axis=-2)
        full = np.concatenate([self.history, x], axis=1) / self.scale[:, None, :]
        return lag_stack(full, self.max_lag, time_axis=-2)[:, :, self.history.shape[1]:, :]


@dataclass(frozen=True)
class TreatmentData:
    """The levers ``(G, T, R)`` in original units, their counterfactual levels and sds ``(R,)``."""

    names: tuple[str, ...]
    values: np.ndarray
    baseline: np.ndarray
    sd: np.ndarray

    @property
    def delta(self) -> np.ndarray:
        """``(x - baseline) / sd``, ``(G, T, R)``: the lever's move from its counterfactual."""
        return (self.values - self.baseline) / self.sd


def organic_data(spec, panel, frozen: Mapping[str, Any] | None = None, reference=None) -> OrganicData | None:
    """The formula's organic terms on ``panel``; ``frozen`` (a fit's ``nonmedia_scales``)
    keeps the fitted scales for new weeks, and ``reference`` (the fitted ModelData) gives
    them the carryover of its weeks just before. None without organic terms."""
    terms = getattr(spec, "organic", ())
    if not terms:
        return None
    _require(panel, [t.input for t in terms], terms)
    exposure = panel.values([t.input for t in terms])
    for k, t in enumerate(terms):
        x = exposure[..., k]
        if not np.all(np.isfinite(x)) or (x < 0).any():
            bad = int((~np.isfinite(x) | (x < 0)).sum())
            raise DataError(
                f"{t.label}: column {t.input!r} has {bad} negative or missing value(s); organic "
                "exposure (sends, posts, mentions) must be >= 0 in every geo and week"
            )
        if frozen is None and not x.sum() > 0:
            raise DataError(
                f"{t.label}: column {t.input!r} is 0 in every geo and week; its effect cannot be "
                "estimated, remove the term"
            )
    if frozen is not None and "organic_scale" in frozen:
        scale = np.asarray(frozen["organic_scale"], dtype="float64").reshape(panel.n_geos, len(terms))
    else:
        on = exposure > 0
        scale = np.where(on.sum(axis=1) > 0, exposure.sum(axis=1) / np.maximum(on.sum(axis=1), 1), 1.0)
    max_lag = max(t.max_lag for t in terms)
    mask = np.array([[1.0 if lag < t.max_lag else 0.0 for lag in range(max_lag)] for t in terms])
    transform = MediaTransform.for_terms(terms, max_lag, mask)
    history = None
    if reference is not None and getattr(reference, "organic", None) is not None:
        history = _history(reference, np.datetime64(np.asarray(panel.times, dtype="datetime64[D]")[0], "D"), max_lag)
    return OrganicData(tuple(t.name for t in terms), exposure, scale, max_lag, mask, transform, history)


def _history(reference, first_week: np.datetime64, max_lag: int) -> np.ndarray:
    """(G, L-1, O) fitted exposure of the weeks just before ``first_week`` (0 where the
    fitted panel has none), as ``analysis/predict.py`` does for media."""
    organic, lags = reference.organic, max_lag - 1
    out = np.zeros((organic.exposure.shape[0], lags, organic.exposure.shape[2]))
    position = {t: i for i, t in enumerate(np.asarray(reference.times, dtype="datetime64[D]"))}
    for k in range(lags):
        i = position.get(first_week - np.timedelta64(7 * (lags - k), "D"))
        if i is not None:
            out[:, k, :] = organic.exposure[:, i, :]
    return out


def treatment_data(spec, panel, frozen: Mapping[str, Any] | None = None) -> TreatmentData | None:
    """The formula's treatments on ``panel`` (baseline and sd frozen from a fit when given)."""
    terms = getattr(spec, "treatments", ())
    if not terms:
        return None
    _require(panel, [t.input for t in terms], terms)
    values = panel.values([t.input for t in terms])
    if frozen is not None and "treatment_baseline" in frozen:
        return TreatmentData(tuple(t.name for t in terms), values,
                             np.asarray(frozen["treatment_baseline"], dtype="float64"),
                             np.asarray(frozen["treatment_sd"], dtype="float64"))
    baseline, sd = [], []
    for k, t in enumerate(terms):
        x = values[..., k]
        if not np.all(np.isfinite(x)):
            raise DataError(f"{t.label}: column {t.input!r} has missing or infinite values")
        if not x.std() > 0:
            raise DataError(
                f"{t.label}: column {t.input!r} is constant over all geos and weeks; its effect "
                "cannot be told apart from the baseline, remove the term"
            )
        level = {"min": x.min(), "max": x.max(), "mean": x.mean()}.get(t.baseline, t.baseline)
        if not x.min() <= float(level) <= x.max():
            warnings.warn(
                f"{t.label}: baseline={level:g} is outside the observed range of {t.input!r} "
                f"({x.min():g} to {x.max():g}); its incremental KPI extrapolates the fitted "
                "straight line beyond the data",
                DataWarning, stacklevel=4,
            )
        baseline.append(float(level))
        sd.append(float(x.std()))
    return TreatmentData(tuple(t.name for t in terms), values, np.array(baseline), np.array(sd))


def frozen_scales(organic: OrganicData | None, treatment: TreatmentData | None) -> dict[str, Any]:
    """The scales a fit keeps (saved with it, reused for new weeks); {} without the terms."""
    out: dict[str, Any] = {}
    if organic is not None:
        out["organic_scale"] = organic.scale.tolist()
    if treatment is not None:
        out["treatment_baseline"] = treatment.baseline.tolist()
        out["treatment_sd"] = treatment.sd.tolist()
    return out


def organic_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The organic parameters under the media transform's names (``retention``, ``slope`` ...)."""
    return {k.removeprefix("organic_"): v for k, v in params.items() if k.startswith("organic_")}


def organic_saturated(params: Mapping[str, Any], organic: OrganicData) -> Any:
    """Saturated adstocked organic exposure ``(..., G, T, O)``."""
    if "organic_saturated" in params:  # the graph's own tensor (built once, in the term)
        return params["organic_saturated"]
    return organic.transform(organic.lagged(), organic_params(params))


def components(params: Mapping[str, Any], data) -> dict[str, Any]:
    """Each organic term's and treatment's part of the expected scaled KPI, ``(..., G, T)``,
    by name; {} when the parameters or the data lack them."""
    out: dict[str, Any] = {}
    organic = getattr(data, "organic", None)
    if organic is not None and "organic_effect" in params:
        sat = organic_saturated(params, organic)
        effect = params["organic_effect"]
        for k, name in enumerate(organic.names):
            out[name] = effect[..., :, None, k] * sat[..., k]
    treatment = getattr(data, "treatment", None)
    if treatment is not None and "treatment_effect" in params:
        coef = params["treatment_effect"]
        delta = treatment.delta
        for k, name in enumerate(treatment.names):
            out[name] = coef[..., k, None, None] * delta[..., k]
    return out


def _require(panel, columns: list[str], terms) -> None:
    """The terms' columns are in the panel and plain numbers; the error names the term."""
    for column, term in zip(columns, terms):
        if column not in panel.columns:
            raise DataError(f"{term.label}: column {column!r} is not in the panel {panel.source}")
        try:
            panel.values([column])
        except DataError as exc:
            raise DataError(f"{term.label}: {exc}") from None
