"""What the checks look at: the user's design as the model will see it, built once.

The raw KPI, media and spend arrays come straight from the panel, so the checks
that decide whether a fit can run at all (a KPI constant in a geo, a media
column all zero) work even where the model's own arrays cannot be built. Where
they can, the checks also see the scaled arrays (:class:`ModelData`), the media
adstocked and saturated at the prior centres (the same transform, at the same
point, that ``geommm/model/centring.py`` uses before sampling), and one
least-squares fit of the KPI on every term of the formula, whose residuals give
the panel's noise level and its outliers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from geommm.data import Panel, read_lift_tests, read_panel
from geommm.errors import DataError
from geommm.formula import ModelSpec, parse_formula
from geommm.model import expected
from geommm.model.centring import _prior_centre_params
from geommm.model.design import ModelData, build_model_data
from geommm.model.log_kpi import level_prior
from geommm.model.priors import DEFAULT_MEDIA_SHARE, PriorSet, resolve_priors


@dataclass(frozen=True)
class LeastSquares:
    """KPI (scaled) on the formula's terms with geo fixed effects, one fit per geo
    where the weeks allow it (else one pooled fit): the baseline coefficients,
    the residuals and each geo's noise level."""

    names: tuple[str, ...]  # regressors after the media: fourier, trend, controls
    pooled: np.ndarray  # (C + K,) coefficients shared by all geos, media first
    residuals: np.ndarray  # (G, T) scaled KPI units
    noise_sd: np.ndarray  # (G,) residual sd, scaled KPI units


@dataclass
class Design:
    """The panel, the formula and the arrays every check reads."""

    panel: Panel
    spec: ModelSpec
    kpi: np.ndarray  # (G, T) original units
    media_input: np.ndarray  # (G, T, C) what drives the response (exposure or spend)
    spend: np.ndarray  # (G, T, C)
    population: str | None = None
    lift_tests: pl.DataFrame | None = None  # schema-checked, not yet against the panel
    data: ModelData | None = None  # None when the model's arrays cannot be built
    priors: PriorSet | None = None
    build_problem: str | None = None  # why ``data`` is None
    likelihood: str = "normal"

    @property
    def geos(self) -> tuple[str, ...]:
        return tuple(self.panel.geos)

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.spec.channels)

    def spend_column(self, c: int) -> str:
        return self.spec.media[c].spend

    def input_column(self, c: int) -> str:
        return self.spec.media[c].input

    @cached_property
    def _centre_params(self) -> dict:
        return _prior_centre_params(self.data, self.priors)

    @cached_property
    def adstocked(self) -> np.ndarray:
        """(G, T, C) scaled media after carryover at the prior centres."""
        transform = expected.media_transform(self.spec, self.data)
        return np.asarray(transform.adstock(self.data.lagged(), self._centre_params))

    @cached_property
    def saturated(self) -> np.ndarray:
        """(G, T, C) the media response at the prior centres (what the model regresses on)."""
        transform = expected.media_transform(self.spec, self.data)
        return np.asarray(transform.saturate(self.adstocked, self._centre_params))

    @cached_property
    def baseline_terms(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """(G, T, K) the non-media regressors (Fourier terms, trend, controls) and their names."""
        d = self.data
        G, T = d.n_geos, d.n_times
        parts = [np.broadcast_to(d.fourier, (G, T, d.fourier.shape[1]))]
        names = list(d.fourier_names)
        if self.spec.trend is not None:
            parts.append(np.broadcast_to(d.trend[:, None], (G, T, 1)))
            names.append("trend")
        parts.append(d.controls)
        names += list(d.control_names)
        return np.concatenate(parts, axis=-1), tuple(names)

    @cached_property
    def least_squares(self) -> LeastSquares:
        """The KPI on media (at the prior centres) and the baseline terms, geo means removed."""
        base, names = self.baseline_terms
        X = np.concatenate([self.saturated, base], axis=-1)
        X = X - X.mean(axis=1, keepdims=True)
        y = self.data.kpi_scaled - self.data.kpi_scaled.mean(axis=1, keepdims=True)
        G, T, K = X.shape
        pooled = np.linalg.lstsq(X.reshape(G * T, K), y.reshape(-1), rcond=None)[0]
        if T >= 2 * K + 10:  # enough weeks for each geo's own fit
            coef = np.stack([np.linalg.lstsq(X[g], y[g], rcond=None)[0] for g in range(G)])
            dof = T - K - 1
        else:
            coef, dof = np.broadcast_to(pooled, (G, K)), max(T - 1 - K / max(G, 1), 1.0)
        resid = y - np.einsum("gtk,gk->gt", X, coef)
        noise = np.sqrt((resid**2).sum(axis=1) / dof)
        return LeastSquares(names, pooled, resid, noise)


def build_design(
    panel: Panel | Any,
    formula: str,
    lift_tests: pl.DataFrame | Any | None = None,
    *,
    geo: str = "geo",
    time: str = "time",
    population: str | None = None,
    priors: Mapping[str, Any] | None = None,
    likelihood: str = "normal",
) -> Design:
    """Read the panel (and lift tests) and build every array the checks need.

    Schema and formula errors raise as usual (``geommm validate`` reports them); a
    problem that only stops the model's arrays (a constant control, a KPI whose mean
    is not positive) is kept in ``build_problem`` so the checks can report it.
    """
    panel = panel if isinstance(panel, Panel) else read_panel(panel, geo=geo, time=time)
    spec = parse_formula(formula, panel.columns, geo=panel.geo_col)
    kpi = panel.values([spec.response])[..., 0]
    media_input = panel.values([m.input for m in spec.media])
    spend = panel.values([m.spend for m in spec.media])
    lifts = None if lift_tests is None else read_lift_tests(lift_tests)
    design = Design(panel, spec, kpi, media_input, spend, population, lifts, likelihood=likelihood)
    try:
        design.data = build_model_data(spec, panel, population=population)
    except DataError as exc:
        design.build_problem = str(exc)
        return design
    total_spend = float(spend.sum())
    default_roi = DEFAULT_MEDIA_SHARE * float(kpi.sum()) / total_spend if total_spend > 0 else 1.0
    design.priors = resolve_priors(priors, list(spec.channels), default_roi, spec=spec,
                                   level=level_prior(spec))
    return design


def design_of_model(model: Any) -> Design:
    """The design of a built :class:`~geommm.mmm.GeoMMM` (its arrays, priors and lift tests)."""
    data = model.data
    return Design(
        panel=model.panel, spec=model.spec, kpi=data.kpi, media_input=data.media_input,
        spend=data.spend, population=model.population, lift_tests=model.lift_tests,
        data=data, priors=model.priors, likelihood=model.likelihood,
    )
