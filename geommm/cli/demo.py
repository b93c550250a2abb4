"""``geommm demo``: fit the bundled panel and hold the estimates against the known truth.

The demo is simulated, so every ROI the model reports can be checked against
the true counterfactual ROI: the quickest honest answer to "does it work?".
"""

from __future__ import annotations

import argparse
from typing import Any

from geommm.cli.commands import (
    finish,
    run_fit,
    show_diagnostics,
    show_written,
    strict_verdict,
    write_results,
)
from geommm.cli.console import note, out, show_table, step
from geommm.cli.outputs import prepare_dir
from geommm.cli.plan import default_allocation

#: Demo sampler settings: enough for stable 90% intervals, a few minutes on 2 cores
#: (GeoMMM.fit's defaults: 500 warm-up steps since session 21).
DEMO_NUTS = {
    "method": "nuts",
    "sampler": "nutpie",
    "draws": 1000,
    "tune": 500,
    "chains": 4,
    "seed": 0,
}
SHOWN = ["channel", "roi_mean", "roi_hdi_low", "roi_hdi_high", "true_roi", "covered"]


def demo(args: argparse.Namespace) -> int:
    """Fit the demo, print diagnostics and ROI next to the truth, write results and report."""
    folder = prepare_dir(args.out, args.overwrite)
    import geommm as gm
    from geommm.demo import load_demo

    with step(
        "loading the demo panel (10 geos x 104 weeks, tv/search/social/display, 4 lift tests)"
    ):
        data = load_demo()
        model = gm.GeoMMM(
            data.formula, data.panel, geo="geo", time="week", lift_tests=data.lift_tests
        )
    note(f"  formula: {data.formula}")
    settings = dict(DEMO_NUTS, method="laplace" if args.fast else "nuts")
    settings.update(
        {
            k: getattr(args, k)
            for k in ("draws", "tune", "chains", "seed")
            if getattr(args, k) is not None
        }
    )
    result = run_fit(model, settings)

    with step("computing ROI"):
        national = with_truth(result.roi(by="channel"), data.truth.roi_national, ["channel"])
        per_geo = with_truth(result.roi(by="geo"), data.truth.roi, ["geo", "channel"])
    problems: list[str] = []
    allocation = default_allocation(result, problems)
    written, more = write_results(
        result, folder, {"roi_channel.csv": national, "roi_geo.csv": per_geo}, allocation=allocation
    )

    show_diagnostics(result)
    show_table(national.select(SHOWN), "National ROI vs the simulator's truth (90% HDI):")
    show_table(per_geo.select(["geo", *SHOWN]), "Per-geo ROI vs the simulator's truth (90% HDI):")
    out(scorecard(national, per_geo))
    if args.fast:
        out(
            "(--fast uses a Laplace approximation around the mode: a first look whose "
            "intervals are approximate; run without --fast for NUTS)"
        )
    out()
    if allocation is not None:
        out("Budget: the same total spend, each channel kept within 0.8-1.2x its current spend:")
        out(repr(allocation))
        out()
    show_written(folder, written)
    return finish(problems + more, strict_verdict(result, args.strict))


def with_truth(estimate: Any, truth: Any, keys: list[str]) -> Any:
    """Join the true ROI and whether the HDI covers it."""
    import polars as pl

    true = truth.select(*keys, pl.col("roi").alias("true_roi"))
    joined = estimate.join(true, on=keys, how="left")
    covered = (pl.col("true_roi") >= pl.col("roi_hdi_low")) & (
        pl.col("true_roi") <= pl.col("roi_hdi_high")
    )
    return joined.with_columns(covered=covered)


def scorecard(national: Any, per_geo: Any) -> str:
    """Two lines a reader can check: error of the posterior mean and HDI coverage."""
    lines = []
    for label, table in (("national", national), ("per-geo", per_geo)):
        error = ((table["roi_mean"] - table["true_roi"]).abs() / table["true_roi"]).mean()
        hits, total = int(table["covered"].sum()), table.height
        lines.append(
            f"{label:>8}: mean absolute ROI error {error:.0%}; 90% HDI covers the truth in "
            f"{hits}/{total} ({hits / total:.0%})"
        )
    return "\n".join(lines)
