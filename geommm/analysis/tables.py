"""Column contracts of the result tables, and the label of the national level.

One place to read what each table a ``Fit`` returns holds, in order. The report's
charts require these columns and the tests hold both the real tables and the
report's synthetic ones to them, so a renamed column cannot slip through in one
place and not the others.
"""

from __future__ import annotations

from collections.abc import Sequence

#: The level summed (or pooled) over every geo, where a table has a ``geo`` column.
NATIONAL = "national"
#: A budget move is "clear" when the posterior puts at least this probability on its
#: direction (the plan's notes and the report's headline both use it).
CLEAR_MOVE = 0.8

#: Posterior summary of an ROI (or marginal ROI): incremental KPI per unit of spend.
ROI_VALUES = ("roi_mean", "roi_median", "roi_hdi_low", "roi_hdi_high")
#: ``fit.roi(by="channel")`` and ``fit.marginal_roi(by="channel")``: one row per channel.
ROI_BY_CHANNEL = ("channel", "spend", *ROI_VALUES)
#: ``fit.roi(by="geo")`` and ``fit.marginal_roi(by="geo")``: one row per geo x channel with spend.
ROI_BY_GEO = ("geo", *ROI_BY_CHANNEL)
MARGINAL_ROI_BY_CHANNEL = ROI_BY_CHANNEL
MARGINAL_ROI_BY_GEO = ROI_BY_GEO

#: What ``fit.contributions`` reports per component, after the grouping columns.
CONTRIBUTION_VALUES = ("component", "component_type", "mean", "hdi_low", "hdi_high")
#: Grouping columns ``fit.contributions(by=...)`` accepts, in the order they appear.
CONTRIBUTION_GROUPINGS = ("geo", "time")
#: ``fit.contributions(by=["geo", "time"])`` (the default).
CONTRIBUTIONS_BY_GEO_TIME = (*CONTRIBUTION_GROUPINGS, *CONTRIBUTION_VALUES)
#: ``fit.contributions(by=[])``: one row per component, summed over geos and weeks.
CONTRIBUTIONS_TOTAL = CONTRIBUTION_VALUES

#: Incremental KPI (over the fitted weeks) of organic media and treatments, and its share of the KPI.
NONMEDIA_VALUES = (
    "incremental_kpi_mean", "incremental_kpi_hdi_low", "incremental_kpi_hdi_high",
    "kpi_share_mean", "kpi_share_hdi_low", "kpi_share_hdi_high", "note",
)
#: ``fit.organic_effects(by=...)``: no ROI column (no spend); ``note`` says so. ``geo`` is
#: ``NATIONAL`` with ``by="national"``.
ORGANIC_EFFECTS = ("geo", "organic", "exposure", *NONMEDIA_VALUES)
#: ``fit.treatment_effects(by=...)``: against the lever held at ``baseline_level``.
TREATMENT_EFFECTS = ("geo", "treatment", "baseline_level", "mean_level", *NONMEDIA_VALUES)
#: ``fit.fitted()``: actual KPI against the posterior predictive, per geo and week.
FITTED = ("geo", "time", "actual", "mean", "hdi_low", "hdi_high", "holdout")
#: ``fit.fit_metrics()``: one row per geo, then "all geos" and ``NATIONAL``.
FIT_METRICS = ("geo", "r2", "mape", "n_weeks")
#: ``fit.lift_test_check()``: each lift test next to the lift the model implies.
LIFT_TEST_CHECK = (
    "test_id",
    "channel",
    "geos",
    "lift",
    "lift_se",
    "implied_mean",
    "implied_hdi_low",
    "implied_hdi_high",
)
#: ``fit.adstock_decay()``: carryover weight per lag, per geo and for ``NATIONAL``.
ADSTOCK_DECAY = ("geo", "channel", "lag", "weight_mean", "weight_hdi_low", "weight_hdi_high")
#: ``fit.effectiveness()``: a time-varying channel's effectiveness multiplier per week
#: (``exp(f_c(t))``, geometric mean 1 over the fitted weeks), national or per geo.
EFFECTIVENESS = ("channel", "time", "mean", "hdi_low", "hdi_high")
EFFECTIVENESS_BY_GEO = ("channel", "geo", "time", "mean", "hdi_low", "hdi_high")
#: ``fit.optimal_frequency()``: per geo and reach & frequency channel, the frequency bought,
#: the frequency of highest ROI at the reach bought, the ROI now and at that frequency.
OPTIMAL_FREQUENCY = (
    "geo", "channel", "frequency_bought", "optimal_frequency_mean", "optimal_frequency_hdi_low",
    "optimal_frequency_hdi_high", "roi_mean", "roi_hdi_low", "roi_hdi_high", "roi_at_optimal_mean",
    "roi_at_optimal_hdi_low", "roi_at_optimal_hdi_high",
)
#: ``fit.response_curves()``: incremental KPI on a grid of spend multipliers.
RESPONSE_CURVES = (
    "geo",
    "channel",
    "spend_multiplier",
    "spend",
    "incremental_kpi_mean",
    "incremental_kpi_hdi_low",
    "incremental_kpi_hdi_high",
)
#: ``fit.prior_posterior()``: long table of draws; ``source`` is "prior" or "posterior".
PRIOR_POSTERIOR = ("parameter", "source", "value")
#: ``fit.summary()``: one row per model parameter.
SUMMARY = ("parameter", "mean", "sd", "hdi_low", "hdi_high", "r_hat", "ess_bulk", "ess_tail")
#: ``fit.diagnostics().to_dict()``: the convergence verdict and its numbers.
DIAGNOSTICS = (
    "divergences",
    "max_r_hat",
    "min_ess_bulk",
    "min_ess_tail",
    "verdict",
    "messages",
    "method",
)
#: ``fit.scenario(plan)``: each geo x channel, "all media" and ``NATIONAL`` rows.
SCENARIO = (
    "geo",
    "channel",
    "current_spend",
    "spend",
    "spend_change",
    "kpi_mean",
    "kpi_hdi_low",
    "kpi_hdi_high",
    "change_mean",
    "change_hdi_low",
    "change_hdi_high",
)
#: ``fit.predict(panel)``; ``actual`` only when the new panel has the KPI.
PREDICTION = ("geo", "time", "mean", "hdi_low", "hdi_high", "actual")

#: ``fit.optimize_budget(...).table``; ``geo`` is ``NATIONAL`` when ``by="channel"``.
ALLOCATION = (
    "geo",
    "channel",
    "current_spend",
    "optimal_spend",
    "change",
    "change_pct",
    "lower_spend",
    "upper_spend",
    "current_kpi_mean",
    "optimal_kpi_mean",
    "marginal_roi",
    "move_probability",
    "note",
)
#: Keys every ``fit.optimize_budget(...).summary`` holds (a risk-adjusted objective or a
#: target marginal ROI adds their own).
ALLOCATION_SUMMARY = (
    "budget",
    "weeks",
    "by",
    "objective",
    "hdi_prob",
    "current_spend",
    "optimal_spend",
    "current_kpi_mean",
    "optimal_kpi_mean",
    "expected_lift_mean",
    "expected_lift_hdi_low",
    "expected_lift_hdi_high",
    "marginal_roi",
    "n_draws",
    "converged",
)


def contributions_columns(by: Sequence[str] | str = CONTRIBUTION_GROUPINGS) -> tuple[str, ...]:
    """Columns of ``fit.contributions(by=by)``: the chosen groupings, then the values."""
    chosen = {by} if isinstance(by, str) else set(by)
    return (*(g for g in CONTRIBUTION_GROUPINGS if g in chosen), *CONTRIBUTION_VALUES)
