"""Every way a panel can be wrong gets a precise error naming source, column and rows."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geommm.data import read_panel
from geommm.errors import DataError, GeoMMMError, SchemaError

pytestmark = pytest.mark.bad_input

START = dt.date(2024, 1, 1)


def make_frame(n_geos: int = 3, n_weeks: int = 5) -> pl.DataFrame:
    """A small valid panel: geos g0.., Monday weeks from 2024-01-01, sorted rows."""
    rows = []
    for g in range(n_geos):
        for w in range(n_weeks):
            rows.append(
                {
                    "geo": f"g{g}",
                    "time": START + dt.timedelta(weeks=w),
                    "sales": 100.0 + 10 * g + w,
                    "tv": float(w),
                    "tv_spend": 10.0 * w,
                    "price": 1.0 - 0.1 * w,
                    "population": 1000.0 * (g + 1),
                }
            )
    return pl.DataFrame(rows)


def set_cell(frame: pl.DataFrame, row: int, column: str, value) -> pl.DataFrame:
    values = frame[column].to_list()
    values[row] = value
    return frame.with_columns(pl.Series(column, values, strict=False))


def as_text_dates(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("time").cast(pl.String))


# --- table and keys -------------------------------------------------------------------


def test_empty_dataframe():
    with pytest.raises(DataError, match=r"<DataFrame>: the table is empty \(0 rows"):
        read_panel(make_frame().head(0))


def test_empty_csv_names_the_file(tmp_path):
    path = tmp_path / "weekly.csv"
    path.write_text("geo,time,sales\n")
    with pytest.raises(DataError, match=r"weekly\.csv: the table is empty"):
        read_panel(path)


def test_missing_geo_column_lists_columns_and_suggests():
    frame = make_frame().rename({"geo": "Geo"})
    with pytest.raises(SchemaError) as info:
        read_panel(frame)
    message = str(info.value)
    assert "['geo'] not found" in message and "Did you mean 'Geo'" in message
    assert "Available columns: ['Geo', 'time'" in message


def test_missing_time_column_suggests_close_match():
    frame = make_frame().rename({"time": "weeks"})
    with pytest.raises(SchemaError, match=r"\['week'\] not found\. Did you mean 'weeks'"):
        read_panel(frame, time="week")


def test_missing_geo_values_name_rows():
    frame = set_cell(make_frame(), 7, "geo", None)
    with pytest.raises(DataError, match=r"column 'geo' \(geo\) has 1 missing value.*row 7"):
        read_panel(frame)


def test_unparseable_dates_show_values_and_rows():
    frame = set_cell(as_text_dates(make_frame()), 4, "time", "last monday")
    with pytest.raises(DataError) as info:
        read_panel(frame)
    assert "column 'time'" in str(info.value)
    assert "row 4 = 'last monday'" in str(info.value)


def test_impossible_iso_date():
    frame = set_cell(as_text_dates(make_frame()), 2, "time", "2024-02-30")
    with pytest.raises(DataError, match=r"impossible date.*row 2 = '2024-02-30'"):
        read_panel(frame)


def test_mixed_date_formats():
    frame = set_cell(as_text_dates(make_frame()), 6, "time", "08/01/2024")
    with pytest.raises(DataError) as info:
        read_panel(frame)
    message = str(info.value)
    assert "column 'time' mixes date formats" in message
    assert "YYYY-MM-DD" in message and "row 6 = '08/01/2024'" in message


def test_ambiguous_slash_dates_need_date_format():
    frame = make_frame().with_columns(pl.col("time").dt.strftime("%d/%m/%Y"))
    with pytest.raises(DataError, match=r"column 'time'.*date_format='%d/%m/%Y'"):
        read_panel(frame)


def test_values_not_matching_date_format():
    frame = set_cell(make_frame().with_columns(pl.col("time").dt.strftime("%d/%m/%Y")), 3, "time", "2024-01-22")
    with pytest.raises(DataError, match=r"do not match date_format '%d/%m/%Y'.*row 3 = '2024-01-22'"):
        read_panel(frame, date_format="%d/%m/%Y")


def test_missing_date_names_row():
    frame = set_cell(as_text_dates(make_frame()), 9, "time", None)
    with pytest.raises(DataError, match=r"column 'time' has missing dates at row 9"):
        read_panel(frame)


def test_datetime_with_time_of_day():
    frame = make_frame().with_columns(pl.col("time").cast(pl.Datetime("us")) + pl.duration(hours=3))
    with pytest.raises(DataError, match=r"column 'time' holds times of day.*row 0"):
        read_panel(frame)


def test_integer_time_column_suggests_format():
    frame = make_frame().with_columns(pl.col("time").dt.strftime("%Y%m%d").cast(pl.Int64))
    with pytest.raises(SchemaError, match=r"column 'time' holds Int64 values \(e\.g\. 20240101\).*date_format"):
        read_panel(frame)


# --- the grid -------------------------------------------------------------------------


def test_duplicate_geo_time_rows():
    frame = make_frame()
    frame = pl.concat([frame, frame[7]])
    with pytest.raises(DataError) as info:
        read_panel(frame)
    message = str(info.value)
    assert "duplicate ('geo', 'time')" in message
    assert "(g1, 2024-01-15) at row 7, row 15" in message


def test_daily_step_is_not_weekly():
    frame = set_cell(make_frame(), 4, "time", dt.date(2024, 1, 23))
    with pytest.raises(DataError) as info:
        read_panel(frame)
    message = str(info.value)
    assert "column 'time' is not a weekly series" in message
    assert "geo 'g0': 2024-01-22 -> 2024-01-23 (1 day(s))" in message


def test_two_week_gap_in_every_geo():
    frame = make_frame().filter(pl.col("time") != dt.date(2024, 1, 15))
    with pytest.raises(DataError, match=r"no rows for any geo: 2024-01-08 -> 2024-01-22 \(1 week\(s\) missing\)"):
        read_panel(frame)


def test_geo_missing_a_week_is_named():
    frame = make_frame().filter(~((pl.col("geo") == "g1") & (pl.col("time") == dt.date(2024, 1, 22))))
    with pytest.raises(DataError, match=r"grid has gaps.*geo 'g1' lacks 1 week\(s\): 2024-01-22"):
        read_panel(frame)


def test_geo_starting_late_lists_missing_weeks():
    frame = make_frame().filter(~((pl.col("geo") == "g2") & (pl.col("time") < dt.date(2024, 1, 15))))
    with pytest.raises(DataError, match=r"geo 'g2' lacks 2 week\(s\): 2024-01-01, 2024-01-08"):
        read_panel(frame)


def test_geo_with_a_single_row():
    frame = pl.concat([make_frame(), make_frame(1, 1).with_columns(pl.lit("g9").alias("geo"))])
    with pytest.raises(DataError, match=r"fewer than 2 weeks: 'g9' \(1 row\)"):
        read_panel(frame)


def test_geos_on_different_weekdays():
    frame = make_frame().with_columns(
        pl.when(pl.col("geo") == "g2").then(pl.col("time") - pl.duration(days=1)).otherwise(pl.col("time")).alias("time")
    )
    with pytest.raises(DataError, match=r"different weekdays.*'g0' on Mondays.*'g2' on Sundays"):
        read_panel(frame)


# --- files and sources ---------------------------------------------------------------


def test_semicolon_csv_is_detected(tmp_path):
    path = tmp_path / "euro.csv"
    path.write_text("geo;time;sales\ng0;2024-01-01;1\ng0;2024-01-08;2\n")
    with pytest.raises(DataError, match=r"euro\.csv: .*single column named 'geo;time;sales'.*';'-separated"):
        read_panel(path)


def test_semicolon_csv_with_decimal_commas(tmp_path):
    path = tmp_path / "euro.csv"
    path.write_text("geo;time;sales\ng0;2024-01-01;1,5\ng0;2024-01-08;2,5,7\n")
    with pytest.raises(DataError, match=r"euro\.csv: .*';'-separated"):
        read_panel(path)


def test_tab_separated_text_named_csv(tmp_path):
    path = tmp_path / "tabs.csv"
    path.write_text("geo\ttime\tsales\ng0\t2024-01-01\t1\n")
    with pytest.raises(DataError, match="tab-separated"):
        read_panel(path)


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: file not found"):
        read_panel(tmp_path / "nope.csv")
    path = tmp_path / "panel.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(DataError, match=r"unknown file type '\.xlsx'"):
        read_panel(path)


def test_unsupported_source_type():
    with pytest.raises(DataError, match="Cannot read a table from a dict"):
        read_panel({"geo": ["a"]})


def test_pandas_object_column_mixing_numbers_and_text():
    frame = make_frame().to_pandas()
    frame["tv"] = frame["tv"].astype(object)
    frame.loc[3, "tv"] = "abc"
    with pytest.raises(SchemaError, match=r"column 'tv' \(media\) must be numeric but holds text.*\(g0, 2024-01-22\) = 'abc'"):
        read_panel(frame, media=["tv"])


# --- roles ---------------------------------------------------------------------------


def test_unknown_media_column_suggests():
    with pytest.raises(SchemaError, match=r"media column\(s\) \['tv_spnd'\] not found\. Did you mean 'tv_spend'"):
        read_panel(make_frame(), media=["tv_spnd"])


def test_text_media_column_is_named():
    frame = make_frame().with_columns(pl.col("tv").cast(pl.String))
    frame = set_cell(frame, 2, "tv", "n/a")
    with pytest.raises(SchemaError, match=r"column 'tv' \(media\) must be numeric.*\(g0, 2024-01-15\) = 'n/a'"):
        read_panel(frame, media=["tv"])


def test_numbers_stored_as_text():
    frame = make_frame().with_columns(pl.col("tv").cast(pl.String))
    with pytest.raises(SchemaError, match=r"column 'tv' \(media\).*stored as text.*cast\(pl\.Float64\)"):
        read_panel(frame, media=["tv"])


def test_missing_media_value_names_cell():
    frame = set_cell(make_frame(), 8, "tv", None)
    with pytest.raises(DataError, match=r"column 'tv' \(media\) has 1 missing value.*\(g1, 2024-01-22\)"):
        read_panel(frame, media=["tv"])


def test_nan_kpi_names_cell():
    frame = set_cell(make_frame(), 0, "sales", float("nan"))
    with pytest.raises(DataError, match=r"column 'sales' \(kpi\) has 1 missing value.*\(g0, 2024-01-01\)"):
        read_panel(frame, kpi="sales")


def test_negative_spend():
    frame = set_cell(make_frame(), 11, "tv_spend", -5.0)
    with pytest.raises(DataError, match=r"column 'tv_spend' \(spend\) has 1 value\(s\) below 0: \(g2, 2024-01-08\) = -5\.0"):
        read_panel(frame, spend=["tv_spend"])


def test_infinite_control():
    frame = set_cell(make_frame(), 1, "price", float("inf"))
    with pytest.raises(DataError, match=r"column 'price' \(control\) has 1 infinite value"):
        read_panel(frame, controls=["price"])


def test_negative_control_and_kpi_are_fine():
    frame = set_cell(set_cell(make_frame(), 1, "price", -3.0), 2, "sales", -1.0)
    read_panel(frame, controls=["price"], kpi="sales")


def test_population_varying_within_geo():
    frame = set_cell(make_frame(), 6, "population", 5.0)
    with pytest.raises(DataError, match=r"column 'population' \(population\) must be constant within each 'geo'.*'g1' has 2 values"):
        read_panel(frame, population="population")


def test_population_must_be_positive():
    frame = make_frame().with_columns(
        pl.when(pl.col("geo") == "g0").then(0.0).otherwise(pl.col("population")).alias("population")
    )
    with pytest.raises(DataError, match=r"column 'population' \(population\) has 5 value\(s\) not above 0"):
        read_panel(frame, population="population")


def test_require_later_and_bad_roles():
    panel = read_panel(make_frame())
    with pytest.raises(DataError, match=r"role 'kpi' takes one column"):
        panel.require(["sales", "tv"], "kpi")
    with pytest.raises(DataError, match="Unknown role 'budget'"):
        panel.require(["tv"], "budget")
    with pytest.raises(DataError, match=r"\['geo'\] is the geo/time key"):
        panel.require(["geo"], "media")
    with pytest.raises(SchemaError, match=r"<DataFrame>: media column\(s\) \['radio'\] not found"):
        panel.require(["radio"], "media")
    assert panel.roles == {}


def test_geo_values_refuses_varying_column():
    panel = read_panel(make_frame())
    with pytest.raises(DataError, match=r"column 'tv' \(per-geo value\) must be constant"):
        panel.geo_values("tv")


def test_values_refuses_text_and_key_columns():
    panel = read_panel(make_frame().with_columns(pl.lit("north").alias("region")))
    with pytest.raises(SchemaError, match=r"column 'region' \(values\) must be numeric.*= 'north'"):
        panel.values(["region"])
    with pytest.raises(DataError, match=r"\['geo'\] is the geo/time key"):
        panel.values(["geo"])


# --- fuzzing -------------------------------------------------------------------------

_BASE = make_frame(3, 5).with_columns(pl.col("time").cast(pl.String))
_COLUMNS = _BASE.columns
_JUNK = st.sampled_from(["", "abc", "NaN", "-1", "-7.5", "inf", "2024-13-01", "01/02/2024", "1e400", "n/a", " "])

_edit = st.one_of(
    st.tuples(st.just("drop"), st.integers(0, _BASE.height - 1)),
    st.tuples(st.just("duplicate"), st.integers(0, _BASE.height - 1)),
    st.tuples(st.just("set"), st.integers(0, _BASE.height - 1), st.sampled_from(_COLUMNS), _JUNK),
    st.tuples(st.just("shift_date"), st.integers(0, _BASE.height - 1), st.integers(-10, 10)),
)


def _corrupt(edits) -> list[dict]:
    rows = [dict(r) for r in _BASE.iter_rows(named=True)]
    for edit in edits:
        if not rows:
            break
        index = edit[1] % len(rows)
        if edit[0] == "drop":
            rows.pop(index)
        elif edit[0] == "duplicate":
            rows.append(dict(rows[index]))
        elif edit[0] == "set":
            rows[index][edit[2]] = edit[3]
        else:
            try:
                day = dt.date.fromisoformat(str(rows[index]["time"]))
                rows[index]["time"] = str(day + dt.timedelta(days=edit[2]))
            except ValueError:
                pass
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(_edit, min_size=1, max_size=4), via_csv=st.booleans())
def test_fuzzed_panels_succeed_or_raise_geommm_errors(edits, via_csv):
    rows = _corrupt(edits)
    with tempfile.TemporaryDirectory() as folder:
        if via_csv:
            source = Path(folder) / "fuzz.csv"
            with source.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=_COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
        else:
            source = pd.DataFrame(rows, columns=_COLUMNS)
        try:
            panel = read_panel(source, kpi="sales", media=["tv"], spend=["tv_spend"], population="population")
        except GeoMMMError:
            return
    cube = panel.values(["sales", "tv", "tv_spend"])
    assert cube.shape == (panel.n_geos, panel.n_times, 3)
    assert np.isfinite(cube).all() and (cube[..., 1:] >= 0).all()
