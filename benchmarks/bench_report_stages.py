"""CPU seconds of each stage of ``fit.report()`` on a saved fit, in the report's order.

    python benchmarks/bench_report_stages.py --fit-dir DIR     # DIR holds fit.nc (geommm demo --out DIR)

One process: import, ``load_fit``, then the report's shared tables one by one (the
budget plan, ROI, fitted values, contributions, response curves, ...), the
next-experiment design and finally the charts and HTML, each timed in CPU seconds
(``time.process_time``, all threads). CPU seconds are the fair figure on a loaded
machine; the total is what ``bench_glue.py --only report`` measures as one call.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

TABLES = ("allocation", "marginal_roi_by_channel", "roi_by_channel", "roi_by_geo", "marginal_roi_by_geo",
          "fitted", "fit_metrics", "contributions_over_time", "contributions_total", "response_curves",
          "adstock_decay", "effectiveness", "lift_test_check", "summary", "prior_posterior", "diagnostics")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fit-dir", type=Path, required=True)
    a = p.parse_args()
    import numpy as np
    import xarray as xr

    import geommm as gm
    import geommm.fit  # noqa: F401
    import geommm.report  # noqa: F401
    from geommm.report.from_fit import FitTables, fit_header, fit_headline, fit_sections
    from geommm.report.html import render_report

    xr.DataArray(np.zeros(1))
    fit = gm.load_fit(a.fit_dir / "fit.nc")
    tables = FitTables(fit)
    seconds: dict[str, float] = {}

    def timed(label: str, make):
        start = time.process_time()
        out = make()
        seconds[label] = seconds.get(label, 0.0) + time.process_time() - start
        return out

    load = os.getloadavg()[0]
    start = time.process_time()
    for name in TABLES:
        timed(name, getattr(tables, name))
    timed("identification", fit.identification)
    design, kept = fit.design_lift_tests, {}

    def design_once(**kwargs):  # the report asks once; timed on its own, outside "render"
        key = repr(sorted(kwargs.items()))
        if key not in kept:
            kept[key] = timed("design", lambda: design(**kwargs))
        return kept[key]

    fit.design_lift_tests = design_once
    lines = timed("headline", lambda: fit_headline(fit, tables))
    timed("render", lambda: render_report(fit_sections(fit, tables=tables), header=fit_header(fit),
                                          headline=lines, validate_charts=False))
    seconds["render"] -= seconds.get("design", 0.0)
    total = time.process_time() - start
    print("| stage | CPU s |\n|---|---|")
    for label, value in seconds.items():
        print(f"| {label} | {value:.2f} |")
    print(f"| **total** | **{total:.2f}** |\n\nload average {load:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
