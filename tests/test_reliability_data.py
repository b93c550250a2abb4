"""Issue #21: data the model cannot use is refused with the geo, column or term named.

One test (or a small group) per numbered item of the issue about data and formulas.
"""

from __future__ import annotations

import warnings

import polars as pl
import pytest

import geommm as gm
from geommm import sim
from geommm.errors import DataError

pytestmark = pytest.mark.bad_input


@pytest.fixture(scope="module")
def small():
    return sim.simulate(n_geos=3, n_weeks=40, n_channels=2, seed=1, n_lift_tests=0)


def _set(panel: pl.DataFrame, column: str, value, geo: str | None = None) -> pl.DataFrame:
    where = pl.lit(True) if geo is None else pl.col("geo") == geo
    return panel.with_columns(pl.when(where).then(value).otherwise(pl.col(column)).alias(column))


# --- item 2: a KPI that is constant (e.g. 0) in every week of a geo ----------------------


@pytest.mark.parametrize("population", [None, "population"])
@pytest.mark.parametrize(("geo", "value"), [("geo_00", 0.0), ("geo_01", 5.0), (None, 0.0)])
def test_constant_kpi_in_a_geo_is_refused_naming_the_geo(small, population, geo, value):
    panel = _set(small.panel, "revenue", pl.lit(value), geo)
    with pytest.raises(DataError, match="revenue") as info:
        gm.GeoMMM(small.formula, data=panel, geo="geo", time="week", population=population)
    assert (geo or "geo_02") in str(info.value)
    read = gm.read_panel(panel, geo="geo", time="week", kpi="revenue")  # fine to predict on
    with pytest.raises(DataError, match=geo or "geo_00"):
        read.require_variation("revenue")  # not to fit on


def test_negative_total_kpi_with_population_scaling_is_a_data_error(small):
    panel = small.panel.with_columns(-pl.col("revenue"))
    with pytest.raises(DataError, match="revenue.*total KPI must be positive"):
        gm.GeoMMM(small.formula, data=panel, geo="geo", time="week", population="population")


# --- item 4: geo identifiers are text end to end ------------------------------------------


def test_geo_codes_keep_their_leading_zeros(tmp_path):
    result = sim.simulate(n_geos=3, n_weeks=30, n_channels=1, seed=2, n_lift_tests=2)
    codes = {"geo_00": "007", "geo_01": "012", "geo_02": "100"}
    panel = result.panel.with_columns(pl.col("geo").replace(codes))
    lifts = result.lift_tests.with_columns(  # one test in geo '012' alone: a number in CSV
        pl.col("geos").str.split(";").list.eval(pl.element().replace(codes)).list.join(";")
    )
    assert "012" in lifts["geos"].to_list()
    panel.write_csv(tmp_path / "panel.csv")
    lifts.write_csv(tmp_path / "lifts.csv")
    read = gm.read_panel(tmp_path / "panel.csv", geo="geo", time="week")
    assert read.geos == ("007", "012", "100")
    tests = gm.read_lift_tests(tmp_path / "lifts.csv")
    assert tests["geos"].to_list() == lifts["geos"].to_list()
    model = gm.GeoMMM(result.formula, data=read, lift_tests=tmp_path / "lifts.csv")
    assert model.data.geos == ("007", "012", "100")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = model.fit(method="map", progressbar=False)
    fit.save(tmp_path / "fit.nc")
    again = gm.load_fit(tmp_path / "fit.nc")
    assert again.roi(by="geo")["geo"].unique().sort().to_list() == ["007", "012", "100"]
    assert again.lift_test_check()["geos"].to_list() == tests["geos"].to_list()


# --- item 5: read_panel without roles refuses unusable numbers at once --------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [(None, "missing"), (float("nan"), "missing"), (float("inf"), "infinite"),
     ("n/a", "holds text")],
)
def test_read_panel_without_roles_refuses_unusable_numbers(small, value, problem):
    column = pl.col("tv_spend")
    if isinstance(value, str):
        column = column.cast(pl.String)
    bad = small.panel.with_columns(
        pl.when(pl.int_range(pl.len()) == 41).then(pl.lit(value)).otherwise(column)
        .alias("tv_spend")
    )
    with pytest.raises(DataError, match=f"column 'tv_spend'.*{problem}.*geo_01"):
        gm.read_panel(bad, geo="geo", time="week")


def test_read_panel_without_roles_keeps_text_columns_and_waits_for_roles(small):
    panel = small.panel.with_columns(
        pl.lit("north").alias("region"),
        pl.when(pl.int_range(pl.len()) == 3).then(-1.0).otherwise(pl.col("tv_spend"))
        .alias("tv_spend"),
    )
    read = gm.read_panel(panel, geo="geo", time="week")  # -1 may be a fine control value
    assert len(read) == panel.height
    with pytest.raises(DataError, match="tv_spend.*below 0"):
        gm.GeoMMM(small.formula, data=read)


# --- item 8: one column, one role in the formula -------------------------------------------


@pytest.mark.parametrize(
    "terms",
    [
        "promo + media(promo)",
        "np.log(price_index) + media(price_index)",
        "(promo | geo) + media(promo)",
        "media(revenue)",
        "media(tv_impressions, spend=tv_spend) + media(tv_impressions, name='tv2')",
        "promo + media(tv_impressions, spend=promo)",
    ],
)
def test_a_column_in_two_roles_is_refused(small, terms):
    from geommm.errors import FormulaError

    column = next(c for c in ("promo", "price_index", "revenue", "tv_impressions") if c in terms)
    with pytest.raises(FormulaError, match=f"column '{column}' is used as .* and as"):
        gm.GeoMMM(f"revenue ~ {terms}", data=small.panel, geo="geo", time="week")


def test_one_column_in_several_control_terms_is_fine():
    from geommm.formula import parse_formula

    spec = parse_formula("revenue ~ promo + (promo | geo) + promo:price + media(tv)",
                         ["revenue", "promo", "price", "tv", "geo"])
    assert spec.controls == ("promo", "promo:price")


# --- item 11: accepted but suspicious data is flagged -------------------------------------


def _warnings(formula, panel) -> list[str]:
    from geommm.errors import DataWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm.GeoMMM(formula, data=panel, geo="geo", time="week")
    return [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def test_plain_simulated_panel_raises_no_data_warning(small):
    assert _warnings(small.formula, small.panel) == []


def test_carryover_longer_than_the_panel_is_flagged(small):
    short = small.panel.filter(pl.col("week") < small.panel["week"].unique().sort()[8])
    formula = "revenue ~ trend() + (1 | geo) + media(search_spend, name='search', max_lag=13)"
    messages = _warnings(formula, short)
    assert any("'search'" in m and "max_lag=13" in m and "8 weeks" in m for m in messages)


def test_channel_spending_in_a_single_week_is_flagged(small):
    first = small.panel.filter(pl.col("search_spend") > 0)["week"].min()
    panel = small.panel.with_columns(
        pl.when(pl.col("week") == first).then(pl.col("search_spend")).otherwise(0.0)
        .alias("search_spend")
    )
    messages = _warnings(small.formula, panel)
    assert any("'search'" in m and "single week" in m and str(first) in m for m in messages)


def test_kpi_outlier_ten_times_the_geo_median_is_flagged(small):
    panel = small.panel.with_columns(
        pl.when(pl.int_range(pl.len()) == 45).then(pl.col("revenue") * 30)
        .otherwise(pl.col("revenue")).alias("revenue")
    )
    messages = _warnings(small.formula, panel)
    assert any("'revenue'" in m and "geo_01" in m and "10x" in m for m in messages)


def test_validate_prints_data_warnings_on_one_line(small, tmp_path):
    from cli_helpers import run

    panel = small.panel.with_columns(
        pl.when(pl.int_range(pl.len()) == 45).then(pl.col("revenue") * 30)
        .otherwise(pl.col("revenue")).alias("revenue")
    )
    panel.write_csv(tmp_path / "panel.csv")
    code, _, err = run("validate", tmp_path / "panel.csv", "--time", "week", "--kpi", "revenue",
                       "--spend", "tv_spend")
    assert code == 0, err
    lines = [line for line in err.splitlines() if "10x" in line]
    assert len(lines) == 1 and lines[0].startswith("warning: ")
