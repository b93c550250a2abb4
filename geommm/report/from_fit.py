"""The standard report of a fit: which ``Fit`` methods feed which charts and tables.

The ``Fit`` is duck-typed: a method that does not exist (yet), raises
``NotImplementedError`` or returns None drops its chart or table quietly;
any other error shows up in the report as an error box.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import polars as pl

from geommm.report.charts import (
    adstock_decay_chart,
    budget_chart,
    contribution_area_chart,
    diagnostics_chart,
    fit_chart,
    geo_ranking_chart,
    lift_agreement_table,
    lift_check_chart,
    prior_posterior_chart,
    response_curve_chart,
    roi_forest_chart,
    roi_heatmap,
    waterfall_chart,
)
from geommm.report.experiment import next_experiment_section
from geommm.report.sections import Section, Skip
from geommm.report.theme import NATIONAL

_PRIOR_POSTERIOR_METHODS = ("prior_posterior", "prior_vs_posterior", "prior_posterior_draws")


class FitData:
    """Calls each ``Fit`` method once (result or error remembered) for all charts that need it."""

    def __init__(self, fit: Any) -> None:
        self.fit = fit
        self._cache: dict[str, tuple[bool, Any]] = {}

    def get(self, method: str, **kwargs: Any) -> Any:
        """The method's result; raises :class:`Skip` when the fit cannot provide it."""
        key = f"{method}{sorted(kwargs.items())!r}"
        if key not in self._cache:
            fn = getattr(self.fit, method, None)
            if not callable(fn):
                raise Skip
            try:
                value = fn(**kwargs)
                # None or an empty table (e.g. a fit without lift tests): nothing to show
                empty = value is None or (isinstance(value, pl.DataFrame) and value.height == 0)
                self._cache[key] = (not empty, value)
            except NotImplementedError:
                self._cache[key] = (False, None)
            except Exception as err:  # noqa: BLE001 - replayed to every chart that needs it
                self._cache[key] = (True, err)
        ok, value = self._cache[key]
        if not ok:
            raise Skip
        if isinstance(value, Exception):
            raise value
        return value

    def maybe(self, method: str, **kwargs: Any) -> Any:
        """Like :meth:`get` but None when the fit cannot provide it."""
        try:
            return self.get(method, **kwargs)
        except Skip:
            return None

    def first(self, methods: tuple[str, ...], **kwargs: Any) -> Any:
        for method in methods:
            value = self.maybe(method, **kwargs)
            if value is not None:
                return value
        raise Skip


def as_mapping(value: Any) -> dict[str, Any]:
    """Diagnostics/settings objects as a plain dict (Mapping, to_dict(), dataclass or attrs)."""
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return dict(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return {k: v for k, v in vars(value).items() if not k.startswith("_")}


def _roi_with_national(d: FitData, method: str) -> pl.DataFrame:
    """Per-geo ROI plus national rows (from by="channel") for the ranking chart's reference line."""
    per_geo = d.get(method, by="geo")
    national = d.maybe(method, by="channel")
    if national is None or "geo" in national.columns:
        return per_geo
    return pl.concat(
        [per_geo, national.with_columns(pl.lit(NATIONAL).alias("geo"))], how="diagonal_relaxed"
    )


def _with_share(totals: pl.DataFrame) -> pl.DataFrame:
    total = totals["mean"].sum()
    return totals.with_columns((pl.col("mean") / total).alias("share")) if total else totals


def _worst_first(summary: pl.DataFrame) -> pl.DataFrame:
    return (
        summary.sort("r_hat", descending=True, nulls_last=True)
        if "r_hat" in summary.columns
        else summary
    )


def fit_sections(fit: Any, *, allocation: Any = None) -> list[Section]:
    """The report sections for ``fit`` (and an optional budget ``allocation``), all lazy."""
    d = FitData(fit)
    sections = [
        Section(
            "Model fit",
            intro="Does the model track the KPI? Shaded holdout weeks were not used for fitting.",
            charts=[
                lambda: fit_chart(d.get("fitted")),
                lambda: fit_chart(d.get("fitted"), small_multiples=True),
            ],
            tables={"Fit quality": lambda: d.get("fit_metrics")},
        ),
        Section(
            "Where the KPI comes from",
            charts=[
                lambda: contribution_area_chart(d.get("contributions", by=["geo", "time"])),
                lambda: waterfall_chart(d.get("contributions", by=[])),
            ],
            tables={
                "Total contribution by component": lambda: _with_share(
                    d.get("contributions", by=[])
                )
            },
        ),
        Section(
            "Return on investment",
            intro="ROI: incremental KPI per unit of spend over the period. Marginal ROI: the "
            "same for the next small increase of spend — what a reallocation acts on.",
            charts=[
                lambda: roi_forest_chart(
                    d.get("roi", by="channel"), d.maybe("marginal_roi", by="channel")
                ),
                lambda: roi_heatmap(d.get("roi", by="geo")),
                lambda: roi_heatmap(
                    d.get("marginal_roi", by="geo"), title="Marginal ROI by geo and channel"
                ),
                lambda: geo_ranking_chart(_roi_with_national(d, "roi")),
            ],
            tables={
                "ROI by channel": lambda: d.get("roi", by="channel"),
                "Marginal ROI by channel": lambda: d.get("marginal_roi", by="channel"),
                "ROI by geo and channel": lambda: d.get("roi", by="geo"),
            },
        ),
        Section(
            "Response curves and carryover",
            charts=[
                lambda: response_curve_chart(d.get("response_curves")),
                lambda: adstock_decay_chart(d.get("adstock_decay")),
            ],
        ),
        Section(
            "Lift tests",
            intro="Each Geo-Lift experiment next to what the calibrated model implies for the "
            "same geos and weeks.",
            charts=[lambda: lift_check_chart(d.get("lift_test_check"))],
            tables={"Lift test check": lambda: lift_agreement_table(d.get("lift_test_check"))},
        ),
    ]
    if allocation is not None:
        table = getattr(allocation, "table", None)
        summary = getattr(allocation, "summary", None)
        sections.append(
            Section(
                "Budget",
                charts=[lambda: budget_chart(table, summary)],
                tables={
                    "Recommended allocation": lambda: table,
                    "Expected result": lambda: dict(summary) if summary else None,
                },
            )
        )
    sections.append(next_experiment_section(fit))
    sections.append(
        Section(
            "Diagnostics",
            charts=[
                lambda: diagnostics_chart(d.get("summary")),
                lambda: prior_posterior_chart(d.first(_PRIOR_POSTERIOR_METHODS)),
            ],
            tables={
                "Convergence": lambda: {
                    k: v for k, v in as_mapping(d.get("diagnostics")).items() if k != "messages"
                },
                "Parameters (highest R-hat first)": lambda: _worst_first(d.get("summary")),
            },
        )
    )
    return sections


def _data_description(fit: Any, d: FitData) -> str | None:
    text = getattr(fit, "data_description", None)
    if isinstance(text, str):
        return text
    fitted = d.maybe("fitted")
    if not isinstance(fitted, pl.DataFrame) or not {"geo", "time"} <= set(fitted.columns):
        return None
    geos = fitted.filter(pl.col("geo") != NATIONAL)["geo"].n_unique()
    periods = fitted["time"].n_unique()
    desc = f"{geos} geos × {periods} periods ({fitted['time'].min()} to {fitted['time'].max()})"
    channels = getattr(fit, "channels", None)
    if isinstance(channels, list | tuple) and channels:
        desc += f"; channels: {', '.join(map(str, channels))}"
    return desc


def fit_header(fit: Any) -> dict[str, Any]:
    """Header facts: data, formula, sampler settings and the diagnostics verdict (best effort)."""
    d = FitData(fit)
    header: dict[str, Any] = {}
    for label, get in (
        ("Data", lambda: _data_description(fit, d)),
        ("Formula", lambda: getattr(fit, "formula", None) or getattr(fit.spec, "formula", None)),
        ("Sampler", lambda: _settings(fit)),
        ("diagnostics", lambda: as_mapping(d.get("diagnostics"))),
    ):
        try:
            value = get()
        except Exception:  # noqa: BLE001 - a header fact is never worth losing the report
            continue
        if value:
            header[label] = value
    return header


def _settings(fit: Any) -> dict[str, Any] | None:
    raw = getattr(fit, "sampler_settings", None) or getattr(fit, "settings", None)
    if raw is None:
        return None
    settings = as_mapping(raw)
    return {
        k: v
        for k, v in settings.items()
        if isinstance(v, str | int | float | bool) and v is not None
    }
