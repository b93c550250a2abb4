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
    with pytest.raises(DataError, match=geo or "geo_00"):
        gm.read_panel(panel, geo="geo", time="week", kpi="revenue")


def test_negative_total_kpi_with_population_scaling_is_a_data_error(small):
    panel = small.panel.with_columns(-pl.col("revenue"))
    with pytest.raises(DataError, match="revenue.*total KPI must be positive"):
        gm.GeoMMM(small.formula, data=panel, geo="geo", time="week", population="population")
