"""Which regions respond to which channel? Rank geos by ROI and marginal ROI, with intervals.

Job: a regional planning team wants to know where each channel works best (ROI:
what the money spent so far returned) and where the next dollar would work best
(marginal ROI), with honest uncertainty, so that moves are made only where the
intervals say the difference is real.

    python examples/compare_geos.py           # NUTS, 4 chains x (500 warm-up + 1000 draws) (57-60 s on 2 cores)
    python examples/compare_geos.py --fast    # Laplace approximation (a first look)
"""

from __future__ import annotations

import argparse
import warnings

import polars as pl

import geommm as gm
from geommm.demo import load_demo

pl.Config.set_tbl_rows(60)
pl.Config.set_float_precision(2)


def geo_ranking(fit, hdi_prob: float = 0.9) -> pl.DataFrame:
    """ROI and marginal ROI per geo x channel, ranked within each channel by marginal ROI."""
    roi = fit.roi(by="geo", hdi_prob=hdi_prob)
    marginal = fit.marginal_roi(by="geo", hdi_prob=hdi_prob).select(
        "geo",
        "channel",
        pl.col("roi_mean").alias("mroi_mean"),
        pl.col("roi_hdi_low").alias("mroi_low"),
        pl.col("roi_hdi_high").alias("mroi_high"),
    )
    national = fit.marginal_roi(by="channel").select(
        "channel", pl.col("roi_mean").alias("national_mroi")
    )
    return (
        roi.select(
            "geo",
            "channel",
            "spend",
            "roi_mean",
            pl.col("roi_hdi_low").alias("roi_low"),
            pl.col("roi_hdi_high").alias("roi_high"),
        )
        .join(marginal, on=["geo", "channel"])
        .join(national, on="channel")
        .with_columns(
            pl.col("mroi_mean").rank(descending=True).over("channel").cast(pl.Int32).alias("rank"),
            # a geo is a clear "spend more here" only if its whole interval beats the national level
            pl.when(pl.col("mroi_low") > pl.col("national_mroi"))
            .then(pl.lit("above national"))
            .when(pl.col("mroi_high") < pl.col("national_mroi"))
            .then(pl.lit("below national"))
            .otherwise(pl.lit("not distinguishable"))
            .alias("verdict"),
        )
        .sort("channel", "rank")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="Laplace approximation instead of NUTS")
    args = parser.parse_args()
    demo = load_demo()
    model = gm.GeoMMM(
        demo.formula, data=demo.panel, geo="geo", time="week", lift_tests=demo.lift_tests
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if args.fast:
            fit = model.fit(method="laplace", draws=1000, chains=4, seed=0, progressbar=False)
        else:
            fit = model.fit(draws=1000, tune=500, chains=4, seed=0, progressbar=False)
    print(fit)
    ranking = geo_ranking(fit)
    truth = demo.truth.marginal_roi.select(
        "geo", "channel", pl.col("marginal_roi").alias("true_mroi")
    )
    ranking = ranking.join(truth, on=["geo", "channel"], how="left")
    for channel in ranking["channel"].unique(maintain_order=True):
        part = ranking.filter(pl.col("channel") == channel)
        print(f"\n=== {channel}: national marginal ROI {part['national_mroi'][0]:.2f} ===")
        print(
            part.select(
                "rank",
                "geo",
                "roi_mean",
                "roi_low",
                "roi_high",
                "mroi_mean",
                "mroi_low",
                "mroi_high",
                "verdict",
                "true_mroi",
            )
        )
    clear = ranking.filter(pl.col("verdict") == "above national")
    print("\nGeos where the next dollar clearly beats the channel's national average:")
    print(clear.select("channel", "geo", "mroi_mean", "mroi_low") if clear.height else "  none")


if __name__ == "__main__":
    main()
