"""Lift-test reading, validation against a panel, and the GeoLift adapter."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from geommm.data import LiftSignWarning, check_lift_tests, from_geolift, read_lift_tests, read_panel
from geommm.errors import DataError, LiftTestError

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "geolift_results_example.csv"
Z90 = 1.6448536269514722


def lift_table(**overrides) -> pl.DataFrame:
    """Two valid tests: a heavy-up with a CI and a two-geo go-dark with a standard error."""
    data = {
        "test_id": ["t1", "t2"],
        "channel": ["tv", "search"],
        "geos": ["g0", "g1; g2"],
        "start": ["2024-01-08", "2024-01-15"],
        "end": ["2024-01-22", "2024-01-22"],
        "spend_delta": [100.0, -50.0],
        "lift": [40.0, -12.0],
        "lift_se": [None, 4.0],
        "ci_low": [20.0, None],
        "ci_high": [60.0, None],
        "confidence": [0.9, None],
    }
    data.update(overrides)
    return pl.DataFrame(data)


def make_panel(n_geos: int = 3, n_weeks: int = 8, spend: float = 100.0):
    weeks = [dt.date(2024, 1, 1) + dt.timedelta(weeks=w) for w in range(n_weeks)]
    frame = pl.DataFrame(
        {
            "geo": [f"g{g}" for g in range(n_geos) for _ in weeks],
            "time": weeks * n_geos,
            "sales": [1000.0] * (n_geos * n_weeks),
            "tv_spend": [spend] * (n_geos * n_weeks),
            "search_spend": [0.0] * (n_geos * n_weeks),
        }
    )
    return read_panel(frame, kpi="sales", spend=["tv_spend", "search_spend"])


CHANNELS = {"tv": "tv_spend", "search": "search_spend"}


# --- reading ---------------------------------------------------------------------------


def test_read_valid_lift_tests():
    lifts = read_lift_tests(lift_table())
    assert lifts.columns[:10] == [
        "test_id", "channel", "geos", "geo_list", "start", "end", "measure_end",
        "spend_delta", "lift", "lift_se",
    ]
    assert lifts["geo_list"].to_list() == [["g0"], ["g1", "g2"]]
    assert lifts["start"].dtype == pl.Date
    assert lifts["measure_end"].to_list() == lifts["end"].to_list()
    assert lifts["lift_se"][0] == pytest.approx(40.0 / (2 * Z90))
    assert lifts["lift_se"][1] == 4.0


def test_ci_only_table_and_measure_end(tmp_path):
    table = lift_table(
        lift_se=[None, None], ci_low=[20.0, -20.0], ci_high=[60.0, -4.0], confidence=[0.95, 0.8]
    ).drop("lift_se").with_columns(pl.Series("measure_end", ["2024-02-05", None]))
    path = tmp_path / "lifts.csv"
    table.write_csv(path)
    lifts = read_lift_tests(path)
    assert lifts["lift_se"][0] == pytest.approx(40.0 / (2 * 1.959963984540054))
    assert lifts["lift_se"][1] == pytest.approx(16.0 / (2 * 1.2815515655446004))
    assert lifts["measure_end"].to_list() == [dt.date(2024, 2, 5), dt.date(2024, 1, 22)]


def test_pandas_and_parquet_sources(tmp_path):
    table = lift_table(test_id=[1, 2])
    lifts = read_lift_tests(table.to_pandas())
    assert lifts["test_id"].to_list() == ["1", "2"]
    table.write_parquet(tmp_path / "lifts.parquet")
    assert read_lift_tests(tmp_path / "lifts.parquet").height == 2


def test_validated_table_reads_again():
    lifts = read_lift_tests(lift_table())
    again = read_lift_tests(lifts)
    assert again.equals(lifts)


def test_sign_contradiction_warns_naming_test():
    with pytest.warns(LiftSignWarning, match=r"test 't2' \(row 1\) = lift=12"):
        read_lift_tests(lift_table(lift=[40.0, 12.0]))


def test_consistent_signs_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_lift_tests(lift_table())


# --- bad rows ----------------------------------------------------------------------------

bad = pytest.mark.bad_input


@bad
def test_missing_required_column_is_named():
    with pytest.raises(LiftTestError, match=r"lift-test column\(s\) \['lift'\] not found\. Did you mean 'lift_se'"):
        read_lift_tests(lift_table().drop("lift"))


@bad
def test_missing_uncertainty_columns():
    with pytest.raises(LiftTestError, match=r"give column\(s\) lift_se or ci_low\+ci_high\+confidence"):
        read_lift_tests(lift_table().drop("lift_se", "ci_low"))


@bad
def test_row_without_any_uncertainty():
    with pytest.raises(LiftTestError, match=r"test 't1' \(row 0\) lack\(s\) the lift's uncertainty"):
        read_lift_tests(lift_table(ci_high=[None, None]))


@bad
def test_end_before_start():
    with pytest.raises(LiftTestError, match=r"column 'end' must be on or after 'start'.*test 't2' \(row 1\) = 2024-01-10 vs start=2024-01-15"):
        read_lift_tests(lift_table(end=["2024-01-22", "2024-01-10"]))


@bad
def test_measure_end_before_end():
    table = lift_table().with_columns(pl.Series("measure_end", ["2024-01-15", None]))
    with pytest.raises(LiftTestError, match=r"column 'measure_end'.*'end'.*test 't1'"):
        read_lift_tests(table)


@bad
def test_non_positive_standard_error():
    with pytest.raises(LiftTestError, match=r"column 'lift_se' has 1 value\(s\) not above 0: test 't2' \(row 1\) = 0\.0"):
        read_lift_tests(lift_table(lift_se=[None, 0.0]))


@bad
def test_inverted_interval():
    with pytest.raises(LiftTestError, match=r"column 'ci_high'.*greater than 'ci_low'.*test 't1'"):
        read_lift_tests(lift_table(ci_low=[60.0, None], ci_high=[20.0, None]))


@bad
@pytest.mark.parametrize("confidence", [0.0, 1.0, 90.0])
def test_confidence_outside_unit_interval(confidence):
    with pytest.raises(LiftTestError, match=r"column 'confidence'.*test 't1' \(row 0\)"):
        read_lift_tests(lift_table(confidence=[confidence, None]))


@bad
def test_duplicate_test_id():
    with pytest.raises(LiftTestError, match=r"column 'test_id' must be unique but repeats at test 't1' \(row 0\).*test 't1' \(row 1\)"):
        read_lift_tests(lift_table(test_id=["t1", "t1"]))


@bad
def test_zero_spend_delta():
    with pytest.raises(LiftTestError, match=r"column 'spend_delta' has 1 value\(s\) equal to 0: test 't2'"):
        read_lift_tests(lift_table(spend_delta=[100.0, 0.0]))


@bad
def test_unparseable_start_names_test():
    with pytest.raises(LiftTestError, match=r"column 'start'.*test 't1' \(row 0\) = 'soon'"):
        read_lift_tests(lift_table(start=["soon", "2024-01-15"]))


@bad
def test_text_in_lift_column():
    with pytest.raises(LiftTestError, match=r"column 'lift' must be numeric.*test 't2' \(row 1\) = 'big'"):
        read_lift_tests(lift_table(lift=["40", "big"]))


@bad
def test_empty_and_repeated_geo_names():
    with pytest.raises(LiftTestError, match=r"empty geo name at test 't2' \(row 1\) = 'g1;;g2'"):
        read_lift_tests(lift_table(geos=["g0", "g1;;g2"]))
    with pytest.raises(LiftTestError, match=r"names a geo twice at test 't2'"):
        read_lift_tests(lift_table(geos=["g0", "g1;g1"]))


@bad
def test_empty_lift_table():
    with pytest.raises(LiftTestError, match="empty"):
        read_lift_tests(lift_table().head(0))


# --- against a panel -----------------------------------------------------------------------


def test_check_against_panel_passes():
    check_lift_tests(read_lift_tests(lift_table()), make_panel(), CHANNELS)


@bad
def test_unknown_channel_lists_known_ones():
    with pytest.raises(LiftTestError, match=r"unknown channel\(s\) \['Search'\].*Did you mean 'search'.*Known channels: \['search', 'tv'\]"):
        check_lift_tests(lift_table(channel=["tv", "Search"]), make_panel(), CHANNELS)


@bad
def test_geo_not_in_panel():
    with pytest.raises(LiftTestError, match=r"not in the panel.*test 't2' \(row 1\) = 'g7'"):
        check_lift_tests(lift_table(geos=["g0", "g1;g7"]), make_panel(), CHANNELS)


@bad
def test_window_outside_panel_weeks():
    table = lift_table(start=["2023-06-05", "2024-01-15"], end=["2023-06-26", "2024-01-22"])
    with pytest.raises(LiftTestError, match=r"outside the panel's weeks \(2024-01-01 .. 2024-02-19\).*test 't1'.*2023-06-05 .. 2023-06-26"):
        check_lift_tests(table, make_panel(), CHANNELS)


@bad
def test_measure_window_past_panel_end():
    table = lift_table().with_columns(pl.Series("measure_end", ["2024-06-01", None]))
    with pytest.raises(LiftTestError, match=r"outside the panel's weeks.*test 't1'"):
        check_lift_tests(table, make_panel(), CHANNELS)


@bad
def test_window_between_week_dates():
    table = lift_table(start=["2024-01-09", "2024-01-15"], end=["2024-01-12", "2024-01-22"])
    with pytest.raises(LiftTestError, match=r"contain no panel week date: test 't1' \(row 0\) = 2024-01-09 .. 2024-01-12"):
        check_lift_tests(table, make_panel(), CHANNELS)


@bad
def test_heavy_up_larger_than_observed_spend():
    # t1: 3 weeks x 100 observed in g0, so a 301 heavy-up cannot have happened inside the panel.
    with pytest.raises(LiftTestError, match=r"\['tv_spend'\].*test 't1'.*spend_delta 301.0 > observed tv spend 300.0"):
        check_lift_tests(lift_table(spend_delta=[301.0, -50.0]), make_panel(), CHANNELS)
    check_lift_tests(lift_table(spend_delta=[300.0, -50.0]), make_panel(), CHANNELS)


@bad
def test_spend_column_missing_from_panel():
    with pytest.raises(DataError, match=r"spend column\(s\) \['radio_spend'\] not found"):
        check_lift_tests(lift_table(), make_panel(), {**CHANNELS, "tv": "radio_spend"})


def test_go_dark_on_zero_spend_is_allowed():
    check_lift_tests(lift_table(spend_delta=[100.0, -500.0]), make_panel(), CHANNELS)


# --- GeoLift adapter -----------------------------------------------------------------------


def test_geolift_example_converts_and_reads_back():
    lifts = from_geolift(EXAMPLE)
    assert lifts.height == 3
    assert set(lifts["channel"]) == {"tv", "search"}
    assert lifts["geo_list"].to_list()[0] == ["geo_00", "geo_03"]
    # Row 2 reports an ATT per location-week: 1 location x 4 weeks.
    assert lifts["lift"][1] == pytest.approx(310.5 * 4)
    assert lifts["ci_low"][1] == pytest.approx(480.0) and lifts["ci_high"][1] == pytest.approx(2004.0)
    assert lifts["lift_se"][1] == pytest.approx((2004.0 - 480.0) / (2 * Z90))
    assert read_lift_tests(lifts).equals(lifts)


def test_geolift_case_insensitive_columns_and_keywords():
    table = pl.DataFrame(
        {
            "Locations": ["geo_01,geo_02"],
            "Treatment_Start": ["2024-03-04"],
            "Treatment_End": ["2024-03-17"],
            "ATT": [10.0],
            "Lower": [4.0],
            "Upper": [16.0],
        }
    )
    lifts = from_geolift(table, channel="tv", spend_delta=1000.0, test_id="cell_a", measure_end="2024-03-31", confidence=0.8)
    row = lifts.row(0, named=True)
    assert row["test_id"] == "cell_a" and row["geos"] == "geo_01;geo_02"
    assert row["lift"] == pytest.approx(10.0 * 2 * 2)
    assert row["measure_end"] == dt.date(2024, 3, 31) and row["confidence"] == 0.8


@bad
def test_geolift_missing_columns():
    table = pl.DataFrame({"locations": ["geo_00"], "treatment_start": ["2024-01-01"], "lower": [1.0]})
    with pytest.raises(LiftTestError, match=r"\['treatment_end', 'upper', 'incremental or att'\] not found"):
        from_geolift(table, channel="tv", spend_delta=1.0)


@bad
def test_geolift_needs_channel_and_matching_lengths():
    with pytest.raises(LiftTestError, match=r"no 'spend_delta' given"):
        from_geolift(pl.read_csv(EXAMPLE).drop("spend_delta"))
    with pytest.raises(LiftTestError, match=r"channel= has 2 values for 3 GeoLift row"):
        from_geolift(EXAMPLE, channel=["tv", "search"])


@bad
def test_geolift_text_estimate():
    table = pl.read_csv(EXAMPLE).with_columns(pl.col("incremental").cast(pl.String))
    with pytest.raises(LiftTestError, match=r"column 'incremental' must be numeric"):
        from_geolift(table)


def test_geolift_tests_fit_a_demo_panel():
    weeks = [dt.date(2024, 1, 1) + dt.timedelta(weeks=w) for w in range(52)]
    geos = [f"geo_{i:02d}" for i in range(10)]
    frame = pl.DataFrame(
        {
            "geo": np.repeat(geos, len(weeks)),
            "time": weeks * len(geos),
            "tv_spend": np.full(len(geos) * len(weeks), 5000.0),
            "search_spend": np.full(len(geos) * len(weeks), 3000.0),
        }
    )
    panel = read_panel(frame, spend=["tv_spend", "search_spend"])
    check_lift_tests(from_geolift(EXAMPLE), panel, CHANNELS)
