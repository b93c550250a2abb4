"""Reading panels from every supported source, reshaping, and round trips."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from geommm.data import Panel, load_schema, read_panel
from geommm.data.schema import schema_dir
from geommm.errors import DataError, SchemaError

REAL_PANEL = Path("/work/shared/data/meridian_geo_media.csv")
MEDIA = ["tv", "search"]
SPEND = ["tv_spend", "search_spend"]


def make_frame(n_geos: int = 3, n_weeks: int = 6, seed: int = 0) -> pl.DataFrame:
    """A valid panel with geo names g0.., Monday weeks from 2024-01-01, shuffled rows."""
    rng = np.random.default_rng(seed)
    geos = [f"g{i}" for i in range(n_geos)]
    weeks = pl.date_range(dt.date(2024, 1, 1), dt.date(2024, 1, 1) + dt.timedelta(weeks=n_weeks - 1), "1w", eager=True)
    n = n_geos * n_weeks
    frame = pl.DataFrame(
        {
            "geo": np.repeat(geos, n_weeks),
            "time": np.tile(weeks.to_numpy(), n_geos),
            "sales": rng.gamma(5.0, 100.0, n),
            "tv": rng.uniform(0, 50, n),
            "search": rng.uniform(0, 20, n),
            "tv_spend": rng.uniform(0, 500, n),
            "search_spend": rng.uniform(0, 200, n),
            "price": rng.normal(0, 1, n),
            "promo": rng.integers(0, 2, n).astype(bool),
            "population": np.repeat(np.arange(1, n_geos + 1) * 1000.0, n_weeks),
        }
    ).with_columns(pl.col("time").cast(pl.Date))
    return frame.sample(fraction=1.0, shuffle=True, seed=seed)


def full_panel(frame: pl.DataFrame | None = None) -> Panel:
    return read_panel(
        make_frame() if frame is None else frame,
        kpi="sales",
        media=MEDIA,
        spend=SPEND,
        controls=["price", "promo"],
        population="population",
    )


def test_polars_input_is_sorted_and_typed():
    panel = full_panel()
    assert panel.geos == ("g0", "g1", "g2")
    assert panel.n_geos == 3 and panel.n_times == 6 and len(panel) == 18
    assert panel.times.dtype == np.dtype("datetime64[D]")
    assert str(panel.times[0]) == "2024-01-01"
    assert panel.frame.schema["time"] == pl.Date and panel.frame.schema["geo"] == pl.String
    assert panel.frame.select("geo", "time").rows() == sorted(panel.frame.select("geo", "time").rows())
    assert panel.geo_col == "geo" and panel.time_col == "time" and panel.source == "<DataFrame>"
    assert panel.roles == {
        "kpi": "sales",
        "media": ("tv", "search"),
        "spend": ("tv_spend", "search_spend"),
        "control": ("price", "promo"),
        "population": "population",
    }
    assert "population" in panel.columns


def test_values_follow_geo_time_order():
    frame = make_frame()
    panel = full_panel(frame)
    cube = panel.values(["tv", "sales"])
    assert cube.shape == (3, 6, 2) and cube.dtype == np.float64
    expected = frame.filter((pl.col("geo") == "g1") & (pl.col("time") == dt.date(2024, 1, 15)))
    assert cube[1, 2, 0] == pytest.approx(expected["tv"][0])
    assert cube[1, 2, 1] == pytest.approx(expected["sales"][0])
    np.testing.assert_allclose(panel.geo_values("population"), [1000.0, 2000.0, 3000.0])
    assert panel.values("promo").shape == (3, 6, 1)


def test_xarray_round_trip_keeps_values_coords_and_names():
    panel = full_panel()
    ds = panel.to_xarray(channel_names=["TV", "Search"])
    assert dict(ds.sizes) == {"geo": 3, "time": 6, "channel": 2, "control": 2}
    assert list(ds["channel"].values) == ["TV", "Search"]
    assert list(ds["control"].values) == ["price", "promo"]
    assert ds["media"].dims == ("geo", "time", "channel")
    assert ds["controls"].dims == ("geo", "time", "control")
    assert ds["kpi"].shape == (3, 6) and ds["population"].dims == ("geo",)
    np.testing.assert_allclose(ds["spend"].values, panel.values(SPEND))

    back = Panel.from_xarray(ds)
    assert back.geos == panel.geos
    np.testing.assert_array_equal(back.times, panel.times)
    assert back.roles == panel.roles
    for column in ["sales", *MEDIA, *SPEND, "price", "population"]:
        np.testing.assert_allclose(back.values([column]), panel.values([column]))
    assert back.frame.select("geo", "time").equals(panel.frame.select("geo", "time"))


def test_from_xarray_without_metadata_names_columns_by_coords():
    ds = full_panel().to_xarray()
    ds.attrs = {}
    back = Panel.from_xarray(ds)
    assert back.roles["media"] == ("media_tv", "media_search")
    assert back.roles["kpi"] == "kpi"


def test_to_xarray_uses_given_columns_only():
    panel = read_panel(make_frame())
    ds = panel.to_xarray(kpi="sales", media=["tv"])
    assert set(ds.data_vars) == {"kpi", "media"}
    assert ds.sizes["control"] == 0 and list(ds["channel"].values) == ["tv"]


@pytest.mark.bad_input
def test_to_xarray_media_spend_mismatch():
    panel = read_panel(make_frame())
    with pytest.raises(DataError, match=r"2 media columns.*1 spend"):
        panel.to_xarray(media=MEDIA, spend=["tv_spend"])


def test_pandas_input_with_named_index():
    frame = make_frame().to_pandas().set_index(["geo", "time"])
    panel = read_panel(frame, kpi="sales", media=MEDIA)
    assert panel.n_geos == 3 and panel.n_times == 6
    assert panel.source == "<DataFrame>"


def test_pandas_input_with_string_dates_and_int_geos():
    frame = make_frame().with_columns(
        pl.col("geo").str.slice(1).cast(pl.Int64), pl.col("time").cast(pl.String)
    ).to_pandas()
    panel = read_panel(frame, media=MEDIA)
    assert panel.geos == ("0", "1", "2")


def test_parquet_and_csv_files(tmp_path):
    frame = make_frame()
    frame.write_parquet(tmp_path / "panel.parquet")
    frame.write_csv(tmp_path / "panel.csv")
    from_parquet = read_panel(tmp_path / "panel.parquet", kpi="sales", media=MEDIA)
    from_csv = read_panel(str(tmp_path / "panel.csv"), kpi="sales", media=MEDIA)
    assert from_parquet.source == "panel.parquet" and from_csv.source == "panel.csv"
    np.testing.assert_allclose(from_parquet.values(MEDIA), from_csv.values(MEDIA))


def test_custom_key_names_and_date_format():
    frame = make_frame().rename({"geo": "region", "time": "week"}).with_columns(
        pl.col("week").dt.strftime("%d/%m/%Y")
    )
    panel = read_panel(frame, geo="region", time="week", date_format="%d/%m/%Y")
    assert panel.geo_col == "region" and str(panel.times[-1]) == "2024-02-05"


def test_datetime_time_column_is_accepted():
    frame = make_frame().with_columns(pl.col("time").cast(pl.Datetime("us")))
    assert read_panel(frame).frame.schema["time"] == pl.Date


def test_iso_datetime_text_at_midnight_is_accepted():
    frame = make_frame().with_columns(pl.col("time").dt.strftime("%Y-%m-%dT00:00:00"))
    assert read_panel(frame).n_times == 6


def test_single_geo_panel():
    panel = read_panel(make_frame(n_geos=1), kpi="sales", media=MEDIA, population="population")
    assert panel.n_geos == 1 and panel.values(MEDIA).shape == (1, 6, 2)
    assert panel.summary().startswith("1 geo x 6 weeks (2024-01-01 .. 2024-02-05)")
    assert panel.to_xarray()["media"].shape == (1, 6, 2)


def test_three_hundred_geos_validate_quickly():
    frame = make_frame(n_geos=300, n_weeks=104)
    started = time.perf_counter()
    panel = read_panel(frame, kpi="sales", media=MEDIA, spend=SPEND, controls=["price"], population="population")
    panel.values(MEDIA)
    panel.to_xarray()
    assert time.perf_counter() - started < 5.0
    assert panel.n_geos == 300


def test_select_times_is_inclusive_and_keeps_roles():
    panel = full_panel()
    part = panel.select_times("2024-01-08", dt.date(2024, 1, 22))
    assert part.n_times == 3 and part.roles == panel.roles
    assert str(part.times[0]) == "2024-01-08" and str(part.times[-1]) == "2024-01-22"
    assert panel.select_times(end=np.datetime64("2024-01-08")).n_times == 2


@pytest.mark.bad_input
def test_select_times_outside_panel():
    with pytest.raises(DataError, match=r"no weeks between 2030-01-01.*2024-01-01 .. 2024-02-05"):
        full_panel().select_times(start="2030-01-01")


@pytest.mark.bad_input
def test_select_times_leaving_one_week_fails_grid_check():
    with pytest.raises(DataError, match="fewer than 2 weeks"):
        full_panel().select_times("2024-01-01", "2024-01-01")


def test_summary_and_repr():
    panel = full_panel()
    text = panel.summary()
    assert text.startswith("3 geos x 6 weeks (2024-01-01 .. 2024-02-05)")
    assert "media: tv, search" in text and "kpi: sales" in text
    assert repr(panel).startswith("Panel('<DataFrame>': 3 geos")


def test_require_adds_roles_later():
    panel = read_panel(make_frame())
    assert panel.roles == {}
    panel.require(["tv"], "media")
    panel.require("search", "media")
    panel.require(["price"], "controls")
    assert panel.roles == {"media": ("tv", "search"), "control": ("price",)}
    panel.check(["tv_spend"], "spend")
    assert "spend" not in panel.roles


def test_schema_files_are_found_and_self_documented():
    assert schema_dir().parts[-3:] == ("geommm", "data", "schemas") and schema_dir().is_dir()
    for name in ("panel", "lift_tests"):
        schema = load_schema(name)
        assert schema.description
        rules = {**schema.keys, **schema.roles, **schema.columns}
        assert rules and all(rule.description for rule in rules.values())
    assert load_schema("panel").roles["media"].min == 0


@pytest.mark.bad_input
def test_unknown_schema_name():
    with pytest.raises(SchemaError, match="known schemas"):
        load_schema("nope")


@pytest.mark.skipif(not REAL_PANEL.exists(), reason="shared demo data not available")
def test_real_meridian_panel():
    channels = [f"Channel{i}" for i in range(4)]
    panel = read_panel(
        REAL_PANEL,
        kpi="conversions",
        media=[f"{c}_impression" for c in channels],
        spend=[f"{c}_spend" for c in channels],
        controls=["competitor_activity_score_control", "sentiment_score_control"],
        population="population",
    )
    assert (panel.n_geos, panel.n_times) == (20, 156)
    assert panel.summary().startswith("20 geos x 156 weeks (2021-01-25 .. 2024-01-15)")
    ds = panel.to_xarray(channel_names=channels)
    assert ds["media"].shape == (20, 156, 4)
