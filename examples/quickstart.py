"""Quickstart: from a CSV of weekly geo data to an ROI table you can act on.

Run:  .venv/bin/python examples/quickstart.py      (about 1-1.5 minutes on 2 cores: 58-73 s measured)

The data are geommm's demo panel (simulated, so the true ROI is known),
written to CSV first so the script follows exactly the path of your own data:
CSV -> read_panel (validation) -> GeoMMM(formula) -> fit -> ROI tables.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import polars as pl

import geommm as gm
from geommm.demo import load_demo

# Sampler settings: those of `geommm demo` (4 chains x 1000 draws after 500 warm-up steps),
# enough for a verdict of OK on this panel; fewer draws end in a convergence warning.
DRAWS, TUNE, CHAINS = 1000, 500, 4


def write_demo_csvs(folder: Path) -> tuple[Path, Path, str, pl.DataFrame]:
    """Stand-ins for your files: panel.csv and lift_tests.csv; plus the formula and true ROI."""
    demo = load_demo()
    panel_csv, lifts_csv = folder / "panel.csv", folder / "lift_tests.csv"
    demo.panel.write_csv(panel_csv)
    demo.lift_tests.drop("true_lift").write_csv(lifts_csv)  # a real test has no true lift
    return panel_csv, lifts_csv, demo.formula, demo.truth.roi_national


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        panel_csv, lifts_csv, formula, truth = write_demo_csvs(Path(tmp))

        # 1. Read and validate: a problem is reported with the column and rows to fix.
        panel = gm.read_panel(panel_csv, geo="geo", time="week", kpi="revenue")
        lifts = gm.read_lift_tests(lifts_csv)
        print("Panel:", panel.summary())
        print(f"Lift tests: {lifts.height} ({', '.join(lifts['test_id'])})\n")

        # 2. Describe the model: KPI ~ controls + seasonality + trend + geo terms + media.
        print("Formula:", formula, "\n")
        model = gm.GeoMMM(formula, data=panel, lift_tests=lifts)

        # 3. Fit (NUTS with nutpie; compiling takes 5-10 s).
        #    Its convergence verdict is printed below, so the same warning is not shown twice.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", gm.ConvergenceWarning)
            fit = model.fit(draws=DRAWS, tune=TUNE, chains=CHAINS, seed=0)

    # 4. Is the posterior trustworthy?  "ok" = no divergences, chains agree, enough draws.
    print("Diagnostics:", fit.diagnostics(), "\n")

    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        float_precision=2,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
        thousands_separator=",",
    ):
        # 5. ROI: KPI earned per unit of spend over the period (carryover included), 90% HDI.
        national = fit.roi(by="channel").join(
            truth.select("channel", pl.col("roi").alias("true_roi")), on="channel"
        )
        print("National ROI (true_roi is known only because the data are simulated):")
        print(national, "\n")
        print(
            "Marginal ROI: revenue per extra unit of spend (below 1: it earns less than it costs):"
        )
        print(fit.marginal_roi(by="channel"), "\n")
        print("ROI per geo: where each channel works best")
        print(fit.roi(by="geo").sort(["channel", "roi_mean"], descending=[False, True]), "\n")


if __name__ == "__main__":
    main()
