"""Synthetic tables shaped exactly like the ``Fit`` outputs the report consumes.

Deterministic (seeded) and tiny, so chart tests run in well under a second and
need no model fit. Their columns come from :mod:`geommm.analysis.tables`, and
``tests/test_tables.py`` checks them against it, so they cannot drift from the
real tables.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import polars as pl

from geommm.analysis import tables as t
from geommm.fit import Diagnostics
from geommm.sampling import SamplerSettings

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
        for t_i, week in enumerate(weeks()):
            mean = level * (1 + 0.2 * np.sin(t_i / 4))
            actual = mean + rng.normal(0, 0.05 * level)
            rows.append(
                (
                    geo,
                    week,
                    actual,
                    mean,
                    mean - 0.08 * level,
                    mean + 0.08 * level,
                    t_i >= WEEKS - 6,
                )
            )
    return pl.DataFrame(rows, schema=t.FITTED, orient="row")


def fit_metrics() -> pl.DataFrame:
    rows = [(geo, 0.9 - 0.05 * g_i, 0.04 + 0.01 * g_i, WEEKS) for g_i, geo in enumerate(GEOS)]
    rows += [("all geos", 0.93, 0.05, WEEKS * len(GEOS)), (t.NATIONAL, 0.95, 0.03, WEEKS)]
    return pl.DataFrame(rows, schema=t.FIT_METRICS, orient="row")


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
        for t_i, week in enumerate(weeks()):
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
                    (
                        geo,
                        week,
                        name,
                        kind,
                        mean,
                        mean - abs(scale) * 0.2,
                        mean + abs(scale) * 0.2,
                    )
                )
    return pl.DataFrame(rows, schema=t.CONTRIBUTIONS_BY_GEO_TIME, orient="row")


def contributions_total() -> pl.DataFrame:
    keys = [c for c in t.CONTRIBUTIONS_TOTAL if c in ("component", "component_type")]
    values = [c for c in t.CONTRIBUTIONS_TOTAL if c not in keys]
    return (
        contributions_geo_time()
        .group_by(keys, maintain_order=True)
        .agg(pl.col(values).sum())
        .select(t.CONTRIBUTIONS_TOTAL)
    )


def roi(by: str = "geo", *, marginal: bool = False) -> pl.DataFrame:
    rng = _rng(3 if not marginal else 4)
    factor = 0.6 if marginal else 1.0
    rows = []
    geos = GEOS if by == "geo" else [None]
    for geo in geos:
        for c_i, channel in enumerate(CHANNELS):
            m = factor * (1.5 + c_i + rng.normal(0, 0.4))
            row = (channel, 10_000.0 * (c_i + 1), m, m * 0.98, m - 0.7, m + 0.9)
            rows.append(row if geo is None else (geo, *row))
    columns = t.ROI_BY_GEO if by == "geo" else t.ROI_BY_CHANNEL
    return pl.DataFrame(rows, schema=columns, orient="row")


def effectiveness(varying: bool = True) -> pl.DataFrame:
    """``fit.effectiveness()``: tv's multiplier drifting over the weeks (empty: a static fit)."""
    n = WEEKS if varying else 0
    mid = 1.0 + 0.2 * np.sin(np.arange(n) / 5.0)
    return pl.DataFrame({"channel": ["tv"] * n, "time": weeks()[:n], "mean": mid,
                         "hdi_low": mid - 0.1, "hdi_high": mid + 0.1},
                        schema_overrides={"channel": pl.String, "time": pl.Date})


def response_curves() -> pl.DataFrame:
    rows = []
    mults = np.linspace(0, 2, 11)
    for channel_i, channel in enumerate(CHANNELS):
        for geo_i, geo in enumerate([t.NATIONAL, *GEOS]):
            current = 5000.0 * (channel_i + 1) * (len(GEOS) if geo == t.NATIONAL else geo_i)
            for m in mults:
                spend = current * m
                k = current * (0.8 + 0.1 * geo_i)
                y = 2.0 * k * spend / (spend + k) if k else 0.0
                rows.append((geo, channel, float(m), spend, y, 0.8 * y, 1.2 * y))
    return pl.DataFrame(rows, schema=t.RESPONSE_CURVES, orient="row")


def adstock_decay() -> pl.DataFrame:
    rows = []
    for c_i, channel in enumerate(CHANNELS):
        for g_i, geo in enumerate([t.NATIONAL, *GEOS]):
            alpha = 0.3 + 0.15 * c_i + 0.03 * g_i
            w = alpha ** np.arange(8)
            w = w / w.sum()
            for lag, weight in enumerate(w):
                weight = float(weight)
                rows.append((geo, channel, lag, weight, weight * 0.8, weight * 1.2))
    return pl.DataFrame(rows, schema=t.ADSTOCK_DECAY, orient="row")


def lift_checks() -> pl.DataFrame:
    rows = [
        ("T1", "tv", ["north"], 1200.0, 200.0, 1100.0, 900.0, 1350.0),
        ("T2", "search", ["south", "east"], -800.0, 150.0, -650.0, -900.0, -420.0),
        ("T3", "social", ["west"], 300.0, 120.0, 700.0, 550.0, 860.0),
    ]
    return pl.DataFrame(rows, schema=t.LIFT_TEST_CHECK, orient="row")


def allocation_table(by: str = "geo") -> pl.DataFrame:
    """Like ``fit.optimize_budget(by=by).table`` (``geo`` is national when by="channel")."""
    rows = []
    for g_i, geo in enumerate(GEOS if by == "geo" else [t.NATIONAL]):
        for c_i, channel in enumerate(CHANNELS):
            current = 2000.0 * (c_i + 1) * (g_i + 1)
            optimal = current * (0.8 + 0.1 * ((g_i + c_i) % 5))
            change = optimal - current
            kpi_now = 1.8 * current**0.9
            rows.append(
                (
                    geo,
                    channel,
                    current,
                    optimal,
                    change,
                    change / current,
                    0.8 * current,
                    1.2 * current,
                    kpi_now,
                    kpi_now * (optimal / current) ** 0.9,
                    1.5 - 0.1 * c_i,
                    None if change == 0 else 0.95 - 0.1 * c_i,
                    None,
                )
            )
    return pl.DataFrame(rows, schema=t.ALLOCATION, orient="row")


def allocation_summary() -> dict[str, object]:
    values = dict(
        budget=240_000.0,
        weeks=WEEKS,
        by="geo",
        objective="mean",
        hdi_prob=0.9,
        current_spend=240_000.0,
        optimal_spend=240_000.0,
        current_kpi_mean=410_000.0,
        optimal_kpi_mean=415_400.0,
        expected_lift_mean=5400.0,
        expected_lift_hdi_low=2100.0,
        expected_lift_hdi_high=8800.0,
        marginal_roi=1.2,
        n_draws=1000,
        converged=True,
    )
    return {key: values[key] for key in t.ALLOCATION_SUMMARY}


def summary() -> pl.DataFrame:
    rng = _rng(5)
    names = [f"beta[{g},{c}]" for g in GEOS for c in CHANNELS] + ["sigma", "tau_tv", "alpha_tv"]
    n = len(names)
    r_hat = 1.0 + np.abs(rng.normal(0, 0.004, n))
    r_hat[3] = 1.03
    ess = rng.uniform(300, 3000, n)
    columns = [
        names,
        rng.normal(0, 1, n),
        rng.uniform(0.1, 1, n),
        -1.5 * np.ones(n),
        1.5 * np.ones(n),
        r_hat,
        ess,
        ess * 0.8,
    ]
    return pl.DataFrame(dict(zip(t.SUMMARY, columns, strict=True)))


def diagnostics(verdict: str = "warning") -> Diagnostics:
    messages = (
        [] if verdict == "ok" else ["R-hat of beta[north,tv] is 1.03 (> 1.01): run longer chains."]
    )
    return Diagnostics(
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
        for source, (m, sd) in (("prior", (pm, ps)), ("posterior", (qm, qs))):
            columns = [name, source, rng.normal(m, sd, 400)]
            frames.append(pl.DataFrame(dict(zip(t.PRIOR_POSTERIOR, columns, strict=True))))
    return pl.concat(frames)


def identification() -> pl.DataFrame:
    """National rows of ``fit.identification()``: social is barely moved from its prior."""
    contraction = [0.93, 0.71, 0.12]
    return pl.DataFrame({
        "channel": CHANNELS, "geo": ["national"] * len(CHANNELS), "prior_sd": [1.0] * len(CHANNELS),
        "posterior_sd": [1 - c for c in contraction], "contraction": contraction,
        "verdict": ["identified", "weak", "prior-driven"], "roi_mean": [1.8, 2.5, 3.1],
    })


class FakeFit:
    """Stand-in for ``geommm.Fit``: the methods and attributes the report uses, fake tables."""

    spec = SimpleNamespace(
        formula="revenue ~ price_index + fourier(52, 2) + trend() + (1 | geo) "
        "+ media(tv_spend, name='tv')"
    )
    settings = SamplerSettings(sampler="nutpie", draws=500, tune=500, chains=2, seed=0)
    panel = SimpleNamespace(
        n_geos=len(GEOS), n_times=WEEKS, times=np.array(weeks(), dtype="datetime64[D]")
    )
    channels = tuple(CHANNELS)

    def fitted(self, national: bool = False) -> pl.DataFrame:
        return fitted()

    def fit_metrics(self) -> pl.DataFrame:
        return fit_metrics()

    def contributions(self, by=("geo", "time")) -> pl.DataFrame:
        by = list(by)
        if by == ["geo", "time"]:
            return contributions_geo_time()
        if by == []:
            return contributions_total()
        raise ValueError(f"the fake fit has no contributions by {by}")

    def roi(self, by: str = "geo") -> pl.DataFrame:
        return roi(by)

    def marginal_roi(self, by: str = "geo") -> pl.DataFrame:
        return roi(by, marginal=True)

    def response_curves(self) -> pl.DataFrame:
        return response_curves()

    def adstock_decay(self) -> pl.DataFrame:
        return adstock_decay()

    def effectiveness(self) -> pl.DataFrame:
        return effectiveness(varying=False)  # a static fit: no effectiveness section

    def lift_test_check(self) -> pl.DataFrame:
        return lift_checks()

    def identification(self) -> pl.DataFrame:
        return identification()

    def summary(self) -> pl.DataFrame:
        return summary()

    def diagnostics(self) -> Diagnostics:
        return diagnostics()

    def prior_posterior(self) -> pl.DataFrame:
        return prior_posterior()

    def optimize_budget(self, budget=None, **kwargs) -> SimpleNamespace:
        return SimpleNamespace(
            table=allocation_table(), summary=allocation_summary(), by="geo", notes=[]
        )
