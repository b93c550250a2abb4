"""The "Next experiment" section: which ROIs are the prior's, and the tests that would fix them.

It calls only the fit's public methods (``identification``, ``design_lift_tests``);
fits without a full posterior (MAP, ADVI) get no section, since their intervals say
nothing about what the data identify.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from geommm.report.sections import Section, Skip

#: Tests shown in the report.
N_TESTS = 5
_SHOWN = ("channel", "kind", "geos", "start", "end", "measure_end", "spend_change", "lift_mean",
          "lift_se", "power", "roi_hdi_now", "roi_hdi_after", "roi_hdi_shrink", "cost")


def next_experiment_section(fit: Any) -> Section:
    """Identification per channel, and the best tests for the channels that are not identified."""
    cache: dict[str, Any] = {}

    def identification() -> pl.DataFrame:
        if "id" not in cache:
            method = getattr(getattr(fit, "settings", None), "method", "nuts")
            if method != "nuts" or not callable(getattr(fit, "identification", None)):
                raise Skip
            table = fit.identification()
            cache["id"] = table.filter(pl.col("geo") == "national").drop("geo")
        return cache["id"]

    def tests() -> pl.DataFrame | None:
        ident = identification()
        unsure = ident.filter(pl.col("verdict") != "identified")["channel"].to_list()
        if not unsure or not callable(getattr(fit, "design_lift_tests", None)):
            raise Skip
        table = fit.design_lift_tests(channels=unsure, n_best=N_TESTS)
        return table.select(_SHOWN) if table.height else None

    return Section(
        "Next experiment",
        intro="Channels whose posterior ROI is barely narrower than its prior are prior-driven: "
        "their numbers are the prior's, whatever the interval says. The tests below (future "
        "weeks, business-as-usual spend as a year earlier) would narrow those ROIs the most per "
        "unit of cost: the expected lift, its standard error and power, the national ROI's 90% "
        "interval width now and expected after the test, and the cost (spend for a heavy-up, "
        "KPI given up for a go-dark).",
        tables={"Identification (sd of log ROI)": identification, "Best tests": tests},
    )
