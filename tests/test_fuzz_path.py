"""Property-based fuzz of the whole path: panel with random corruption -> read_panel -> GeoMMM
-> fit -> ROI (issue #21).

Every panel either fails with a GeoMMMError that names a column, a geo or the
formula, or is accepted whole (no row dropped, no value changed) and gives a
finite ROI. Most cases stop at the model-building stage and take their ROI
from prior draws of a model of the same shape (ROI depends on the data through
the scales, spend and media, which is what corruption changes); a real MAP fit
of a few fuzzed panels is the slow test at the end.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings

import arviz as az
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import geommm as gm
from geommm.errors import GeoMMMError
from geommm.fit import Fit
from geommm.sampling import SamplerSettings

pytestmark = pytest.mark.fuzz

N_GEOS = 3
START = dt.date(2023, 1, 2)


def formula(n_channels: int) -> str:
    media = " + ".join(f"media(ch{c}_spend, name='ch{c}')" for c in range(n_channels))
    return f"sales ~ price + trend() + (1 | geo) + {media}"


def make_panel(seed: int, n_weeks: int, n_channels: int, codes: list[str]) -> pl.DataFrame:
    """A clean geo x week panel whose KPI responds to spend."""
    rng = np.random.default_rng(seed)
    weeks = [START + dt.timedelta(weeks=t) for t in range(n_weeks)]
    level = rng.uniform(500, 1500, N_GEOS)[:, None]
    kpi = level * (1 + 0.1 * rng.standard_normal((N_GEOS, n_weeks)))
    columns: dict[str, object] = {
        "geo": [g for g in codes for _ in weeks],
        "week": weeks * N_GEOS,
        "price": rng.normal(1.0, 0.05, N_GEOS * n_weeks),
    }
    for c in range(n_channels):
        spend = rng.uniform(10, 100, (N_GEOS, n_weeks)) * (rng.random((N_GEOS, n_weeks)) < 0.7)
        spend[:, :2] = 50.0  # every geo spends on every channel
        columns[f"ch{c}_spend"] = spend.ravel()
        kpi = kpi + 0.5 * spend
    columns["sales"] = kpi.ravel()
    return pl.DataFrame(columns)


VALUES = st.sampled_from([None, float("nan"), float("inf"), -float("inf"), -5.0, 0.0, 1e12,
                          "n/a", "", "1,000", "2023-13-01"])
CORRUPTION = st.one_of(
    st.tuples(st.just("cell"), st.integers(0, 10**6), st.integers(0, 10), VALUES),
    st.tuples(st.just("drop_row"), st.integers(0, 10**6)),
    st.tuples(st.just("duplicate_row"), st.integers(0, 10**6)),
    st.tuples(st.just("constant_kpi"), st.integers(0, N_GEOS - 1), st.sampled_from([0.0, 7.0])),
    st.tuples(st.just("zero_channel"), st.integers(0, 1)),
    st.tuples(st.just("one_week_channel"), st.integers(0, 1)),
    st.tuples(st.just("shift_date"), st.integers(0, 10**6), st.integers(-6, 6)),
    st.tuples(st.just("kpi_outlier"), st.integers(0, 10**6)),
    st.tuples(st.just("drop_column"), st.integers(0, 10)),
    st.tuples(st.just("text_column"), st.integers(0, 10)),
    st.tuples(st.just("rename_geo"), st.integers(0, 10**6)),
)


def corrupt(frame: pl.DataFrame, edits) -> pl.DataFrame:
    """Apply each edit; text enters a numeric column by turning the column into text."""
    rows = frame.height
    for edit in edits:
        kind, cols = edit[0], frame.columns
        if rows == 0:
            break
        if kind == "cell":
            _, row, col, value = edit
            name = cols[col % len(cols)]
            column = pl.col(name)
            if isinstance(value, str) or frame[name].dtype == pl.String:
                column, value = column.cast(pl.String), None if value is None else str(value)
            elif frame[name].dtype == pl.Date:
                continue
            frame = frame.with_columns(
                pl.when(pl.int_range(pl.len()) == row % rows).then(pl.lit(value))
                .otherwise(column).alias(name)
            )
        elif kind == "drop_row":
            frame = frame.filter(pl.int_range(pl.len()) != edit[1] % rows)
        elif kind == "duplicate_row":
            frame = pl.concat([frame, frame[edit[1] % rows]])
        elif kind == "constant_kpi" and "sales" in cols and frame["sales"].dtype.is_numeric():
            if "geo" not in cols:
                continue
            geo = frame["geo"].unique().sort()[edit[1] % frame["geo"].n_unique()]
            frame = frame.with_columns(
                pl.when(pl.col("geo") == geo).then(edit[2]).otherwise(pl.col("sales"))
                .alias("sales")
            )
        elif kind in ("zero_channel", "one_week_channel"):
            name = f"ch{edit[1]}_spend"
            if name not in cols or not frame[name].dtype.is_numeric() or (
                "week" not in cols or frame["week"].dtype != pl.Date
            ):
                continue
            keep = pl.lit(False) if kind == "zero_channel" else pl.col("week") == START
            frame = frame.with_columns(
                pl.when(keep).then(pl.col(name)).otherwise(0.0).alias(name)
            )
        elif kind == "shift_date" and "week" in cols and frame["week"].dtype == pl.Date:
            frame = frame.with_columns(
                pl.when(pl.int_range(pl.len()) == edit[1] % rows)
                .then(pl.col("week") + pl.duration(days=edit[2])).otherwise(pl.col("week"))
            )
        elif kind == "kpi_outlier" and "sales" in cols and frame["sales"].dtype.is_numeric():
            frame = frame.with_columns(
                pl.when(pl.int_range(pl.len()) == edit[1] % rows).then(pl.col("sales") * 30)
                .otherwise(pl.col("sales"))
            )
        elif kind == "drop_column":
            frame = frame.drop(cols[edit[1] % len(cols)])
        elif kind == "text_column":
            name = cols[edit[1] % len(cols)]
            frame = frame.with_columns(pl.col(name).cast(pl.String))
        elif kind == "rename_geo" and "geo" in cols:
            frame = frame.with_columns(
                pl.when(pl.int_range(pl.len()) == edit[1] % rows).then(pl.lit("099"))
                .otherwise(pl.col("geo")).alias("geo")
            )
    return frame


def source_of(frame: pl.DataFrame, how: str):
    if how == "polars":
        return frame
    if how == "pandas":
        return frame.to_pandas()
    buffer = io.BytesIO()
    frame.write_csv(buffer)
    return buffer.getvalue()


_PRIOR_DRAWS: dict[int, az.InferenceData] = {}


def prior_as_posterior(model: gm.GeoMMM) -> az.InferenceData:
    """Prior draws of a model of this shape (geos x channels), computed once per shape."""
    key = model.data.n_channels
    if key not in _PRIOR_DRAWS:
        prior = model.sample_prior_predictive(draws=8, seed=0).prior
        _PRIOR_DRAWS[key] = az.InferenceData(posterior=prior)
    return _PRIOR_DRAWS[key]


def mentions_something(message: str, frame: pl.DataFrame, codes: list[str]) -> bool:
    names = [*frame.columns, "sales", "price", "ch0", "ch1", "geo", "week", *codes, "099"]
    return any(name in message for name in names) or "formula" in message


def run_path(frame: pl.DataFrame, how: str, n_channels: int, tmp_path_factory):
    """read_panel -> GeoMMM; returns (model, error)."""
    source = source_of(frame, how)
    if how == "csv":
        path = tmp_path_factory.mktemp("fuzz") / "panel.csv"
        path.write_bytes(source)
        source = path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            panel = gm.read_panel(source, geo="geo", time="week")
            return panel, gm.GeoMMM(formula(n_channels), panel), None
        except GeoMMMError as exc:
            return None, None, exc


CASE = dict(
    seed=st.integers(0, 10**6),
    n_weeks=st.integers(20, 36),
    n_channels=st.integers(1, 2),
    codes=st.sampled_from([["007", "012", "100"], ["north", "south", "west"], ["1", "2", "3"]]),
    edits=st.lists(CORRUPTION, max_size=3),
    how=st.sampled_from(["polars", "pandas", "csv"]),
)


@settings(max_examples=200, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(**CASE)
def test_fuzzed_panels_fail_by_name_or_give_finite_roi(
    seed, n_weeks, n_channels, codes, edits, how, tmp_path_factory
):
    clean = make_panel(seed, n_weeks, n_channels, codes)
    frame = corrupt(clean, edits)
    panel, model, error = run_path(frame, how, n_channels, tmp_path_factory)
    event("refused" if error is not None else "accepted")
    if error is not None:
        assert mentions_something(str(error), frame, codes), str(error)
        return
    # accepted whole: every row, every geo code as written, every KPI value
    assert len(panel) == frame.height == panel.n_geos * panel.n_times
    assert set(panel.geos) == set(frame["geo"].cast(pl.String))
    assert np.isclose(panel.frame["sales"].cast(pl.Float64).sum(),
                      frame["sales"].cast(pl.Float64).sum())
    fit = Fit(prior_as_posterior(model), model.spec, model.panel, SamplerSettings(method="map"),
              model.priors, data=model.data)
    for by in ("geo", "channel"):
        roi = fit.roi(by=by)
        assert roi.height > 0 and roi["roi_mean"].is_finite().all(), roi


@pytest.mark.slow
@settings(max_examples=3, deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(**CASE)
def test_fuzzed_panels_that_are_accepted_fit_by_map(
    seed, n_weeks, n_channels, codes, edits, how, tmp_path_factory
):
    frame = corrupt(make_panel(seed, n_weeks, n_channels, codes), edits)
    _, model, error = run_path(frame, how, n_channels, tmp_path_factory)
    if error is not None:
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(method="map", seed=0, progressbar=False)
    assert fit.roi(by="channel")["roi_mean"].is_finite().all()
