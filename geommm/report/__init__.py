"""Charts and a self-contained offline HTML report for a fitted geo MMM.

from geommm.report import write_report, roi_heatmap, save_chart
write_report(fit, "report.html")
save_chart(roi_heatmap(fit.roi(by="geo")), "roi.png")
"""

from geommm.report.charts import (
    adstock_decay_chart,
    budget_chart,
    contribution_area_chart,
    diagnostics_chart,
    fit_chart,
    geo_ranking_chart,
    lift_check_chart,
    prior_posterior_chart,
    response_curve_chart,
    roi_forest_chart,
    roi_heatmap,
    waterfall_chart,
)
from geommm.report.export import chart_spec, save_chart
from geommm.report.html import build_report, render_report, write_report
from geommm.report.sections import Section, Skip

__all__ = [
    "Section",
    "Skip",
    "adstock_decay_chart",
    "budget_chart",
    "build_report",
    "chart_spec",
    "contribution_area_chart",
    "diagnostics_chart",
    "fit_chart",
    "geo_ranking_chart",
    "lift_check_chart",
    "prior_posterior_chart",
    "render_report",
    "response_curve_chart",
    "roi_forest_chart",
    "roi_heatmap",
    "save_chart",
    "waterfall_chart",
    "write_report",
]
