"""Synthetic tables shaped exactly like the ``Fit`` outputs the report consumes.

Deterministic (seeded) and tiny, so chart tests run in well under a second and
do not depend on the model code.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

GEOS = ["north", "south", "east", "west"]
CHANNELS = ["tv", "search", "social"]
WEEKS = 30
START = dt.date(2023, 1, 2)


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def weeks() -> list[dt.date]:
    return [START + dt.timedelta(weeks=i) for i in range(WEEKS)]


def fitted() -> pl.DataFrame:
    rng = _rng(1)
    rows = []
    for g_i, geo in enumerate(GEOS):
        level = 1000.0 * (g_i + 1)
        for t_i, t in enumerate(weeks()):
            mean = level * (1 + 0.2 * np.sin(t_i / 4))
            actual = mean + rng.normal(0, 0.05 * level)
            rows.append(
                dict(
                    geo=geo,
                    time=t,
                    actual=actual,
                    mean=mean,
                    hdi_low=mean - 0.08 * level,
                    hdi_high=mean + 0.08 * level,
                    holdout=t_i >= WEEKS - 6,
                )
            )
    return pl.DataFrame(rows)


def contributions_geo_time() -> pl.DataFrame:
    rng = _rng(2)
    comps = [
        ("baseline", "baseline"),
        ("trend", "trend"),
        ("fourier", "seasonality"),
        ("price_index", "control"),
    ] + [(c, "media") for c in CHANNELS]
    rows = []
    for g_i, geo in enumerate(GEOS):
        for t_i, t in enumerate(weeks()):
            for name, kind in comps:
                scale = {
                    "baseline": 600,
                    "trend": 30,
                    "seasonality": 80,
                    "control": -40,
                    "media": 90,
                }[kind] * (g_i + 1)
                mean = scale * (1 + 0.3 * np.sin(t_i / 3 + len(name))) + rng.normal(0, 3)
                rows.append(
                    dict(
                        geo=geo,
                        time=t,
                        component=name,
                        component_type=kind,
                        mean=mean,
                        hdi_low=mean - abs(scale) * 0.2,
                        hdi_high=mean + abs(scale) * 0.2,
                    )
                )
    return pl.DataFrame(rows)


def contributions_total() -> pl.DataFrame:
    return (
        contributions_geo_time()
        .group_by("component", "component_type", maintain_order=True)
        .agg(pl.col("mean").sum(), pl.col("hdi_low").sum(), pl.col("hdi_high").sum())
    )


def roi(by: str = "geo", *, marginal: bool = False) -> pl.DataFrame:
    rng = _rng(3 if not marginal else 4)
    factor = 0.6 if marginal else 1.0
    rows = []
    geos = GEOS if by == "geo" else [None]
    for geo in geos:
        for c_i, channel in enumerate(CHANNELS):
            m = factor * (1.5 + c_i + rng.normal(0, 0.4))
            row = dict(
                channel=channel,
                spend=10_000.0 * (c_i + 1),
                roi_mean=m,
                roi_median=m * 0.98,
                roi_hdi_low=m - 0.7,
                roi_hdi_high=m + 0.9,
            )
            if geo is not None:
                row = {"geo": geo, **row}
            rows.append(row)
    return pl.DataFrame(rows)


def response_curves() -> pl.DataFrame:
    rows = []
    mults = np.linspace(0, 2, 11)
    for channel_i, channel in enumerate(CHANNELS):
        for geo_i, geo in enumerate(["national", *GEOS]):
            current = 5000.0 * (channel_i + 1) * (len(GEOS) if geo == "national" else geo_i)
            for m in mults:
                spend = current * m
                k = current * (0.8 + 0.1 * geo_i)
                y = 2.0 * k * spend / (spend + k) if k else 0.0
                rows.append(
                    dict(
                        geo=geo,
                        channel=channel,
                        spend_multiplier=float(m),
                        spend=spend,
                        incremental_kpi_mean=y,
                        incremental_kpi_hdi_low=0.8 * y,
                        incremental_kpi_hdi_high=1.2 * y,
                    )
                )
    return pl.DataFrame(rows)


def adstock_decay() -> pl.DataFrame:
    rows = []
    for c_i, channel in enumerate(CHANNELS):
        for g_i, geo in enumerate(["national", *GEOS]):
            alpha = 0.3 + 0.15 * c_i + 0.03 * g_i
            w = alpha ** np.arange(8)
            w = w / w.sum()
            for lag, weight in enumerate(w):
                rows.append(
                    dict(
                        geo=geo,
                        channel=channel,
                        lag=lag,
                        weight_mean=float(weight),
                        weight_hdi_low=float(weight) * 0.8,
                        weight_hdi_high=float(weight) * 1.2,
                    )
                )
    return pl.DataFrame(rows)


def lift_checks() -> pl.DataFrame:
    return pl.DataFrame(
        dict(
            test_id=["T1", "T2", "T3"],
            channel=["tv", "search", "social"],
            geos=[["north"], ["south", "east"], ["west"]],
            lift=[1200.0, -800.0, 300.0],
            lift_se=[200.0, 150.0, 120.0],
            implied_mean=[1100.0, -650.0, 700.0],
            implied_hdi_low=[900.0, -900.0, 550.0],
            implied_hdi_high=[1350.0, -420.0, 860.0],
        )
    )


def allocation_table() -> pl.DataFrame:
    rows = []
    for g_i, geo in enumerate(GEOS):
        for c_i, channel in enumerate(CHANNELS):
            current = 2000.0 * (c_i + 1) * (g_i + 1)
            optimal = current * (0.8 + 0.1 * ((g_i + c_i) % 5))
            rows.append(
                dict(
                    geo=geo,
                    channel=channel,
                    current_spend=current,
                    optimal_spend=optimal,
                    change=optimal - current,
                )
            )
    return pl.DataFrame(rows)


def allocation_summary() -> dict[str, float]:
    return dict(
        expected_lift_mean=5400.0,
        expected_lift_hdi_low=2100.0,
        expected_lift_hdi_high=8800.0,
        budget=240_000.0,
    )


def summary() -> pl.DataFrame:
    rng = _rng(5)
    names = [f"beta[{g},{c}]" for g in GEOS for c in CHANNELS] + ["sigma", "tau_tv", "alpha_tv"]
    n = len(names)
    r_hat = 1.0 + np.abs(rng.normal(0, 0.004, n))
    r_hat[3] = 1.03
    ess = rng.uniform(300, 3000, n)
    return pl.DataFrame(
        dict(
            parameter=names,
            mean=rng.normal(0, 1, n),
            sd=rng.uniform(0.1, 1, n),
            hdi_low=-1.5 * np.ones(n),
            hdi_high=1.5 * np.ones(n),
            r_hat=r_hat,
            ess_bulk=ess,
            ess_tail=ess * 0.8,
        )
    )


def diagnostics(verdict: str = "warning") -> dict[str, object]:
    messages = (
        [] if verdict == "ok" else ["R-hat of beta[north,tv] is 1.03 (> 1.01): run longer chains."]
    )
    return dict(
        divergences=0,
        max_r_hat=1.03,
        min_ess_bulk=310.0,
        min_ess_tail=250.0,
        verdict=verdict,
        messages=messages,
    )


def prior_posterior() -> pl.DataFrame:
    rng = _rng(6)
    frames = []
    for name, (pm, ps, qm, qs) in {
        "roi_tv": (2, 1.5, 2.6, 0.3),
        "alpha_tv": (0.5, 0.2, 0.62, 0.05),
        "sigma": (1, 0.6, 0.4, 0.04),
    }.items():
        frames.append(
            pl.DataFrame(dict(parameter=name, source="prior", value=rng.normal(pm, ps, 400)))
        )
        frames.append(
            pl.DataFrame(dict(parameter=name, source="posterior", value=rng.normal(qm, qs, 400)))
        )
    return pl.concat(frames)


class FakeFit:
    """Duck-typed stand-in for ``geommm.Fit`` exposing only the report methods."""

    data_description = "4 geos x 30 weeks, 3 channels (synthetic <test> data)"
    formula = (
        "revenue ~ price_index + fourier(52, 2) + trend() + (1 | geo) + media(tv_spend, name='tv')"
    )
    sampler_settings = {"sampler": "nutpie", "draws": 500, "tune": 500, "chains": 2, "seed": 0}

    def fitted(self) -> pl.DataFrame:
        return fitted()

    def contributions(self, by=("geo", "time")) -> pl.DataFrame:
        by = list(by)
        if by == ["geo", "time"]:
            return contributions_geo_time()
        if by == []:
            return contributions_total()
        raise NotImplementedError

    def roi(self, by: str = "geo") -> pl.DataFrame:
        return roi(by)

    def marginal_roi(self, by: str = "geo") -> pl.DataFrame:
        return roi(by, marginal=True)

    def response_curves(self) -> pl.DataFrame:
        return response_curves()

    def adstock_decay(self) -> pl.DataFrame:
        return adstock_decay()

    def lift_test_check(self) -> pl.DataFrame:
        return lift_checks()

    def summary(self) -> pl.DataFrame:
        return summary()

    def diagnostics(self) -> dict[str, object]:
        return diagnostics()

    def prior_posterior(self) -> pl.DataFrame:
        return prior_posterior()
