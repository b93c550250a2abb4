"""The "Next experiment" section: which ROIs are the prior's, and the tests that would fix them.

It calls only the fit's public methods (``identification``, ``design_lift_tests``);
fits without a full posterior (MAP, ADVI) get no section, since their intervals say
nothing about what the data identify.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from geommm.report.sections import Section, Skip, once

#: Tests shown in the report.
N_TESTS = 5
_SHOWN = ("channel", "kind", "geos", "start", "end", "measure_end", "spend_change", "lift_mean",
          "lift_se", "power", "roi_hdi_now", "roi_hdi_after", "roi_hdi_shrink", "cost")
#: ``experiment_tables``' second item when every channel is identified (nothing to test).
NO_TESTS = pl.DataFrame()


def experiment_tables(fit: Any) -> tuple[pl.DataFrame, pl.DataFrame | Exception | None]:
    """The national identification table and the best tests (None when no test was found;
    :data:`NO_TESTS` when every channel is identified; the design's error when it failed);
    raises Skip for a fit without the section. One function, so the report can compute
    both beside its other tables."""
    method = getattr(getattr(fit, "settings", None), "method", "nuts")
    if method != "nuts" or not callable(getattr(fit, "identification", None)):
        raise Skip
    ident = fit.identification()
    ident = ident.filter(pl.col("geo") == "national").drop("geo")
    unsure = ident.filter(pl.col("verdict") != "identified")["channel"].to_list()
    if not unsure or not callable(getattr(fit, "design_lift_tests", None)):
        return ident, NO_TESTS
    try:
        table = fit.design_lift_tests(channels=unsure, n_best=N_TESTS)
    except Exception as err:  # noqa: BLE001 - the tests' table shows it; identification stands
        return ident, err
    return ident, (table.select(_SHOWN) if table.height else None)


def next_experiment_section(fit: Any, tables: Callable[[], tuple] | None = None) -> Section:
    """Identification per channel, and the best tests for the channels that are not identified.
    ``tables``: a getter of :func:`experiment_tables` already under way (the report starts it
    on a thread of its own); computed on first use otherwise."""
    both = tables if tables is not None else once(lambda: experiment_tables(fit))

    def identification() -> pl.DataFrame:
        return both()[0]

    def tests() -> pl.DataFrame | None:
        found = both()[1]
        if found is NO_TESTS:
            raise Skip
        if isinstance(found, Exception):
            raise found
        return found

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
