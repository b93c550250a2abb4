"""The standard report of a fit: which ``Fit`` methods feed which charts and tables.

Each table is computed once, on first use, and shared by every chart that shows
it; a table that fails becomes an error box where it would have been, so the
rest of the report survives. A fit calibrated without lift tests has no
lift-test section.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl

from geommm.analysis.tables import NATIONAL
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
from geommm.report.sections import Section, Skip

if TYPE_CHECKING:
    from geommm.analysis.allocation import Allocation
    from geommm.fit import Fit

T = TypeVar("T")


def once(make: Callable[[], T]) -> Callable[[], T]:
    """``make`` run on the first call only; later calls get its result, or its error, again."""
    outcome: list[tuple[bool, Any]] = []

    def get() -> T:
        if not outcome:
            try:
                outcome.append((True, make()))
            except Exception as err:  # noqa: BLE001 - replayed to every chart that needs it
                outcome.append((False, err))
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    return get


def _lift_checks(fit: Fit) -> pl.DataFrame:
    """The lift-test check; a fit without lift tests has none, so its section is left out."""
    table = fit.lift_test_check()
    if table.height == 0:
        raise Skip
    return table


class FitTables:
    """The tables of one fit that the report shows, each computed once on first use."""

    def __init__(self, fit: Fit) -> None:
        self.fitted = once(fit.fitted)
        self.fit_metrics = once(fit.fit_metrics)
        self.contributions_over_time = once(lambda: fit.contributions(by=["geo", "time"]))
        self.contributions_total = once(lambda: fit.contributions(by=[]))
        self.roi_by_channel = once(lambda: fit.roi(by="channel"))
        self.roi_by_geo = once(lambda: fit.roi(by="geo"))
        self.marginal_roi_by_channel = once(lambda: fit.marginal_roi(by="channel"))
        self.marginal_roi_by_geo = once(lambda: fit.marginal_roi(by="geo"))
        self.response_curves = once(fit.response_curves)
        self.adstock_decay = once(fit.adstock_decay)
        self.lift_test_check = once(lambda: _lift_checks(fit))
        self.summary = once(fit.summary)
        self.prior_posterior = once(fit.prior_posterior)
        self.diagnostics = once(lambda: fit.diagnostics().to_dict())


def _roi_with_national(per_geo: pl.DataFrame, national: pl.DataFrame) -> pl.DataFrame:
    """Per-geo ROI plus national rows, for the ranking chart's reference line."""
    return pl.concat(
        [per_geo, national.with_columns(pl.lit(NATIONAL).alias("geo"))], how="diagonal_relaxed"
    )


def _with_share(totals: pl.DataFrame) -> pl.DataFrame:
    total = totals["mean"].sum()
    return totals.with_columns((pl.col("mean") / total).alias("share")) if total else totals


def _worst_first(summary: pl.DataFrame) -> pl.DataFrame:
    return summary.sort("r_hat", descending=True, nulls_last=True)


def _budget_section(allocation: Allocation) -> Section:
    table, summary = allocation.table, allocation.summary
    return Section(
        "Budget",
        charts=[lambda: budget_chart(table, summary)],
        tables={
            "Recommended allocation": lambda: table,
            "Expected result": lambda: dict(summary),
        },
    )


def fit_sections(fit: Fit, *, allocation: Allocation | None = None) -> list[Section]:
    """The report sections for ``fit`` (and an optional budget ``allocation``), all lazy."""
    t = FitTables(fit)
    sections = [
        Section(
            "Model fit",
            intro="Does the model track the KPI? Shaded holdout weeks were not used for fitting.",
            charts=[
                lambda: fit_chart(t.fitted()),
                lambda: fit_chart(t.fitted(), small_multiples=True),
            ],
            tables={"Fit quality": t.fit_metrics},
        ),
        Section(
            "Where the KPI comes from",
            charts=[
                lambda: contribution_area_chart(t.contributions_over_time()),
                lambda: waterfall_chart(t.contributions_total()),
            ],
            tables={
                "Total contribution by component": lambda: _with_share(t.contributions_total())
            },
        ),
        Section(
            "Return on investment",
            intro="ROI: incremental KPI per unit of spend over the period. Marginal ROI: the "
            "same for the next small increase of spend — what a reallocation acts on.",
            charts=[
                lambda: roi_forest_chart(t.roi_by_channel(), t.marginal_roi_by_channel()),
                lambda: roi_heatmap(t.roi_by_geo()),
                lambda: roi_heatmap(
                    t.marginal_roi_by_geo(), title="Marginal ROI by geo and channel"
                ),
                lambda: geo_ranking_chart(_roi_with_national(t.roi_by_geo(), t.roi_by_channel())),
            ],
            tables={
                "ROI by channel": t.roi_by_channel,
                "Marginal ROI by channel": t.marginal_roi_by_channel,
                "ROI by geo and channel": t.roi_by_geo,
            },
        ),
        Section(
            "Response curves and carryover",
            charts=[
                lambda: response_curve_chart(t.response_curves()),
                lambda: adstock_decay_chart(t.adstock_decay()),
            ],
        ),
        Section(
            "Lift tests",
            intro="Each Geo-Lift experiment next to what the calibrated model implies for the "
            "same geos and weeks.",
            charts=[lambda: lift_check_chart(t.lift_test_check())],
            tables={"Lift test check": lambda: lift_agreement_table(t.lift_test_check())},
        ),
    ]
    if allocation is not None:
        sections.append(_budget_section(allocation))
    sections.append(
        Section(
            "Diagnostics",
            charts=[
                lambda: diagnostics_chart(t.summary()),
                lambda: prior_posterior_chart(t.prior_posterior()),
            ],
            tables={
                "Convergence": lambda: {
                    k: v for k, v in t.diagnostics().items() if k != "messages"
                },
                "Parameters (highest R-hat first)": lambda: _worst_first(t.summary()),
            },
        )
    )
    return sections


def _data_description(fit: Fit) -> str:
    panel = fit.panel
    times = panel.times
    return (
        f"{panel.n_geos} geos × {panel.n_times} periods ({times[0]} to {times[-1]}); "
        f"channels: {', '.join(fit.channels)}"
    )


def fit_header(fit: Fit) -> dict[str, Any]:
    """Header facts: data, formula, sampler settings and the diagnostics verdict."""
    settings = {k: v for k, v in fit.settings.to_dict().items() if v is not None}
    return {
        "Data": _data_description(fit),
        "Formula": fit.spec.formula,
        "Sampler": settings,
        "diagnostics": fit.diagnostics().to_dict(),
    }
