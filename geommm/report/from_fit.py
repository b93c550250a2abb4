"""The standard report of a fit: which ``Fit`` methods feed which charts and tables.

Each table is computed once, on first use, and shared by every chart that shows
it; a table that fails becomes an error box where it would have been, so the
rest of the report survives. A fit calibrated without lift tests has no
lift-test section.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import polars as pl

from geommm.analysis.diagnostics import is_internal
from geommm.analysis.tables import NATIONAL
from geommm.media import transform as media_transform
from geommm.report.charts import (
    adstock_decay_chart,
    budget_chart,
    contribution_area_chart,
    diagnostics_chart,
    effectiveness_chart,
    fit_chart,
    geo_ranking_chart,
    lift_agreement_table,
    lift_check_chart,
    prior_posterior_chart,
    response_curve_chart,
    roi_forest_chart,
    roi_heatmap,
    spend_effect_chart,
    waterfall_chart,
)
from geommm.report.charts.roi import in_geo_order
from geommm.report.experiment import experiment_tables, next_experiment_section
from geommm.report.headline import Line, headline
from geommm.report.nonmedia_section import nonmedia_section, roi_note
from geommm.report.refresh_section import what_changed_section
from geommm.report.sections import Section, Skip, once

if TYPE_CHECKING:
    from geommm.analysis.optimize import Allocation
    from geommm.fit import Fit

T = TypeVar("T")


def in_background(make: Callable[[], T]) -> Callable[[], T]:
    """``make`` started now on a thread of its own; the getter waits for it and then acts
    as :func:`once` (its result, or its error, on every call)."""
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, make()))
        except Exception as err:  # noqa: BLE001 - replayed to every chart that needs it
            outcome.append((False, err))

    thread = threading.Thread(target=run, name="geommm-report", daemon=True)
    thread.start()

    def get() -> T:
        thread.join()
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
    """The tables of one fit that the report shows, each computed once on first use.

    ``allocation`` is the budget plan to show; without one, the plan for today's
    budget under the default bounds is computed (on first use) so every report
    carries a budget answer.
    """

    def __init__(self, fit: Fit, allocation: Allocation | None = None, background: bool = False) -> None:
        self.allocation = once(lambda: allocation if allocation is not None else fit.optimize_budget())
        self.fitted = once(lambda: fit.fitted(national=True))
        self.fit_metrics = once(fit.fit_metrics)
        self.contributions_over_time = once(lambda: fit.contributions(by=["geo", "time"]))
        self.contributions_total = once(lambda: fit.contributions(by=[]))
        self.roi_by_channel = once(lambda: fit.roi(by="channel"))
        self.roi_by_geo = once(lambda: fit.roi(by="geo"))
        self.marginal_roi_by_channel = once(lambda: fit.marginal_roi(by="channel"))
        self.marginal_roi_by_geo = once(lambda: fit.marginal_roi(by="geo"))
        self.response_curves = once(fit.response_curves)
        if background and _can_overlap(fit):
            # ~30% of a report's work, almost all numpy loops that release the GIL and touch
            # nothing the other tables change: computed beside them (the same numbers)
            self.response_curves = in_background(fit.response_curves)
        self.next_experiment = once(lambda: experiment_tables(fit))
        if background and _can_overlap(fit):
            # the next-test design (~20% of a report's work, numpy on (results, draws)
            # arrays) beside everything before its section, near the report's end
            self.next_experiment = in_background(lambda: experiment_tables(fit))
        self.adstock_decay = once(fit.adstock_decay)
        self.effectiveness = once(fit.effectiveness)
        self.lift_test_check = once(lambda: _lift_checks(fit))
        self.summary = once(fit.summary)
        self.prior_posterior = once(fit.prior_posterior)
        self.diagnostics = once(lambda: fit.diagnostics().to_dict())


def _can_overlap(fit: Fit) -> bool:
    """Whether the response curves may run beside the other tables: with two threads
    allowed (``GEOMMM_THREADS``) and the fit's forward model made here first, so both
    threads share one (the curves use their own copy of it over the same draws)."""
    if media_transform.SUM_THREADS < 2:
        return False
    try:
        fit.forward  # noqa: B018 - a cached property: made once, on this thread
    except Exception:  # noqa: BLE001 - the curves will report it where they are shown
        return False
    return True


def _roi_with_national(per_geo: pl.DataFrame, national: pl.DataFrame) -> pl.DataFrame:
    """Per-geo ROI plus national rows, for the ranking chart's reference line."""
    return pl.concat(
        [per_geo, national.with_columns(pl.lit(NATIONAL).alias("geo"))], how="diagonal_relaxed"
    )


def _with_share(totals: pl.DataFrame) -> pl.DataFrame:
    total = totals["mean"].sum()
    return totals.with_columns((pl.col("mean") / total).alias("share")) if total else totals


def _worst_first(summary: pl.DataFrame) -> pl.DataFrame:
    """The model's parameters (internal ones left out), highest R-hat first."""
    keep = [not is_internal(name) for name in summary["parameter"]]
    reported = summary.filter(pl.Series(keep, dtype=pl.Boolean))
    return reported.sort("r_hat", descending=True, nulls_last=True)


def _national_plan(table: pl.DataFrame) -> pl.DataFrame:
    """A per-geo allocation summed to one row per channel (the summary's dumbbell)."""
    if "geo" not in table.columns or not bool((table["geo"] != NATIONAL).any()):
        return table
    sums = ["current_spend", "optimal_spend", "change", "lower_spend", "upper_spend",
            "current_kpi_mean", "optimal_kpi_mean"]
    return (
        table.group_by("channel", maintain_order=True)
        .agg(pl.col(sums).sum())
        .with_columns(
            pl.lit(NATIONAL).alias("geo"),
            pl.when(pl.col("current_spend") > 0)
            .then(pl.col("change") / pl.col("current_spend"))
            .alias("change_pct"),
            pl.lit(None, pl.Float64).alias("marginal_roi"),
            pl.lit(None, pl.Float64).alias("move_probability"),
            pl.lit(None, pl.String).alias("note"),
        )
        .select(table.columns)
    )


def _plan_or_none(t: FitTables) -> pl.DataFrame | None:
    """The plan's table to mark on the curves; None when it failed (the budget section says why)."""
    try:
        return t.allocation().table
    except Exception:  # noqa: BLE001 - the curves still stand without the plan's marks
        return None


def _period(fit: Fit) -> str:
    """What the curves' spend and KPI are totals over, in words."""
    n = getattr(getattr(fit, "panel", None), "n_times", None)
    return f"the {n} analysed weeks" if isinstance(n, int) else "the analysed period"


def _budget_section(t: FitTables) -> Section:
    return Section(
        "Budget",
        intro="The recommended split of the budget and what it is expected to add. "
        "Spend and KPI are totals over the planning weeks.",
        charts=[lambda: budget_chart(t.allocation().table, t.allocation().summary)],
        tables={
            "Recommended allocation": lambda: in_geo_order(t.allocation().table),
            "Expected result": lambda: dict(t.allocation().summary),
        },
    )


def _summary_section(t: FitTables) -> Section:
    return Section(
        "Summary",
        intro="Where the money goes and what it earns; ROI next to marginal ROI (the return on "
        "the next unit, what a reallocation acts on); the recommended budget move.",
        charts=[
            lambda: spend_effect_chart(t.roi_by_channel(), t.contributions_total()),
            lambda: roi_forest_chart(t.roi_by_channel(), t.marginal_roi_by_channel()),
            lambda: budget_chart(_national_plan(t.allocation().table), t.allocation().summary),
        ],
    )


def kpi_name(fit: Fit) -> str:
    """The KPI's column name, for axis titles ("revenue", not "KPI")."""
    response = getattr(fit.spec, "response", None)
    if response:
        return str(response)
    formula = str(getattr(fit.spec, "formula", ""))
    return formula.split("~")[0].strip() if "~" in formula else "KPI"


def fit_headline(fit: Fit, tables: FitTables | None = None) -> list[Line]:
    """The headline card's lines for ``fit`` (sharing ``tables`` with the sections)."""
    return headline(tables if tables is not None else FitTables(fit), fit)


def fit_sections(
    fit: Fit, *, allocation: Allocation | None = None, tables: FitTables | None = None
) -> list[Section]:
    """The report sections for ``fit``, all lazy: the summary first, diagnostics last.

    Without an ``allocation`` the budget sections show the default plan
    (``fit.optimize_budget()``)."""
    t = tables if tables is not None else FitTables(fit, allocation)
    kpi = kpi_name(fit)
    sections = [
        _summary_section(t),
        _budget_section(t),
        Section(
            "Model fit",
            intro=f"Does the model track {kpi}? Shaded weeks, where there are any, are "
            "holdout weeks the model was not fitted on.",
            charts=[
                lambda: fit_chart(t.fitted(), kpi_name=kpi),
                lambda: fit_chart(t.fitted(), small_multiples=True, kpi_name=kpi),
            ],
            tables={"Fit quality": t.fit_metrics},
        ),
        Section(
            "Where the KPI comes from",
            charts=[
                lambda: contribution_area_chart(t.contributions_over_time(), kpi_name=kpi),
                lambda: waterfall_chart(t.contributions_total()),
            ],
            tables={
                "Total contribution by component": lambda: _with_share(t.contributions_total())
            },
        ),
        Section(
            "Return on investment",
            intro="ROI: incremental KPI per unit of spend over the period. Marginal ROI: the "
            "same for the next small increase of spend — what a reallocation acts on." + roi_note(fit),
            charts=[
                lambda: roi_heatmap(t.roi_by_geo(), t.roi_by_channel()),
                lambda: roi_heatmap(
                    t.marginal_roi_by_geo(),
                    t.marginal_roi_by_channel(),
                    title="Marginal ROI by geo and channel",
                ),
                lambda: geo_ranking_chart(_roi_with_national(t.roi_by_geo(), t.roi_by_channel())),
            ],
            tables={
                "ROI by channel": t.roi_by_channel,
                "Marginal ROI by channel": t.marginal_roi_by_channel,
                "ROI by geo and channel": lambda: in_geo_order(t.roi_by_geo()),
            },
        ),
        Section(
            "Response curves and carryover",
            charts=[
                lambda: response_curve_chart(
                    t.response_curves(), _plan_or_none(t), period=_period(fit)
                ),
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
    if t.effectiveness().height:  # only when a channel's effectiveness varies over time
        sections.insert(-1, Section(
            "Media effectiveness over time",
            intro="How hard a unit of each time-varying channel's media worked, week by week "
            "(1 = the channel's typical week). Response curves and the budget plan use the "
            "last fitted week's effectiveness.",
            charts=[lambda: effectiveness_chart(t.effectiveness())],
        ))
    extra = nonmedia_section(fit)  # organic(...) / treatment(...) terms only
    if extra is not None:
        sections.insert(4, extra)  # after "Where the KPI comes from"
    changed = what_changed_section(fit)
    if changed is not None:
        sections.insert(1, changed)
    sections.append(next_experiment_section(fit, t.next_experiment))
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
