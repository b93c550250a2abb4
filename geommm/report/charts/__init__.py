"""Altair charts of a fitted geo MMM, one module per topic; every function takes Polars tables.

Each function returns a plain Altair chart so users can restyle it
(``.properties``, ``.configure_*``) or save it with :func:`geommm.report.save_chart`.
"""

from geommm.report.charts.budget import budget_chart
from geommm.report.charts.contributions import (
    contribution_area_chart,
    waterfall_chart,
    waterfall_table,
)
from geommm.report.charts.curves import adstock_decay_chart, response_curve_chart
from geommm.report.charts.diagnostics import density_table, diagnostics_chart, prior_posterior_chart
from geommm.report.charts.effectiveness import effectiveness_chart
from geommm.report.charts.fit import fit_chart
from geommm.report.charts.lift import lift_agreement_table, lift_check_chart, lift_check_table
from geommm.report.charts.roi import geo_ranking_chart, roi_forest_chart, roi_heatmap
from geommm.report.charts.summary import spend_effect_chart, spend_effect_table

__all__ = [
    "adstock_decay_chart",
    "budget_chart",
    "contribution_area_chart",
    "density_table",
    "diagnostics_chart",
    "effectiveness_chart",
    "fit_chart",
    "geo_ranking_chart",
    "lift_agreement_table",
    "lift_check_chart",
    "lift_check_table",
    "prior_posterior_chart",
    "response_curve_chart",
    "roi_forest_chart",
    "roi_heatmap",
    "spend_effect_chart",
    "spend_effect_table",
    "waterfall_chart",
    "waterfall_table",
]
