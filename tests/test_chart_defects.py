"""One test per chart defect of issue 17, on the Vega-Lite spec and on what Vega logs running it.

"What Vega logs" is the console of a browser showing the chart: the report's own
JavaScript bundle runs each spec under Node (tests/vega_check.py), so a layer
that feeds a scale no valid value ("Infinite extent") fails here, not in a
reader's console.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math

import numpy as np
import polars as pl
import pytest
import report_fixtures as fx
from vega_check import vega_messages

from geommm.analysis.tables import FITTED, NATIONAL
from geommm.report import charts
from geommm.report.charts._common import facet_columns, facet_has_gaps
from geommm.report.charts.contributions import stacked_contributions
from geommm.report.charts.diagnostics import log_ticks
from geommm.report.charts.priors import REACH, density_table
from geommm.report.export import chart_spec
from geommm.report.from_fit import fit_sections, kpi_name
from geommm.report.sections import Skip, resolve

# --------------------------------------------------------------------------- helpers


def _walk(node):
    """Every dict inside a spec."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _marks(spec) -> list[str]:
    out = []
    for d in _walk(spec):
        mark = d.get("mark")
        if mark is not None:
            out.append(mark["type"] if isinstance(mark, dict) else mark)
    return out


def _encodings(spec, channel: str) -> list[dict]:
    return [d["encoding"][channel] for d in _walk(spec) if channel in d.get("encoding", {})]


def _subtitle(spec) -> str:
    sub = spec["title"].get("subtitle", "")
    return " ".join(sub) if isinstance(sub, list) else sub


def two_year_fitted(*, holdout: bool = True, band: bool = True, geos=fx.GEOS) -> pl.DataFrame:
    """A fitted table over 104 weeks (2023-2024), like ``fit.fitted()``."""
    start = dt.date(2023, 1, 2)
    rows = []
    for g_i, geo in enumerate(geos):
        for t in range(104):
            mean = 1000.0 * (g_i + 1) * (1 + 0.2 * math.sin(t / 5))
            half = 50.0 * (g_i + 1) if band else 0.0
            rows.append((geo, start + dt.timedelta(weeks=t), mean * 1.01, mean, mean - half,
                         mean + half, holdout and t >= 96))
    return pl.DataFrame(rows, schema=FITTED, orient="row")


# --------------------------------------------------------------------------- 1. fit chart


def test_fit_chart_month_ticks_carry_the_year_once_per_month():
    for small in (False, True):
        spec = chart_spec(charts.fit_chart(two_year_fitted(), small_multiples=small))
        axes = [e["axis"] for e in _encodings(spec, "x") if "axis" in e]
        assert axes
        for axis in axes:
            assert "%Y" in axis["format"]
            # ticks on month starts, so a weekly axis cannot print "Jan 2023" twice
            assert axis["tickCount"]["interval"] == "month"
        (step,) = {a["tickCount"]["step"] for a in axes}
        width = spec.get("spec", spec)["width"]
        # 24 months, at most one label per 60 px, the densest such step of 1, 2, 3, 6, 12
        ladder = [1, 2, 3, 6, 12, 24]
        assert 24 / step <= max(2, width // 60)
        assert step == 1 or 24 / ladder[ladder.index(step) - 1] > max(2, width // 60)


def test_fit_chart_y_axis_is_titled_with_the_kpi_name():
    spec = chart_spec(charts.fit_chart(fx.fitted(), kpi_name="revenue"))
    titles = {e.get("title") for e in _encodings(spec, "y")}
    assert titles == {"revenue"}
    assert "revenue" in spec["title"]["text"]
    # the report takes the name from the fit's formula
    assert kpi_name(fx.FakeFit()) == "revenue"
    model_fit = next(s for s in fit_sections(fx.FakeFit()) if s.title == "Model fit")
    for chart in model_fit.charts:
        spec = chart_spec(resolve(chart))
        assert {e.get("title") for e in _encodings(spec, "y")} == {"revenue"}


@pytest.mark.parametrize(
    ("holdout", "band"), [(True, True), (False, True), (True, False), (False, False)]
)
def test_fit_chart_draws_exactly_what_its_subtitle_promises(holdout, band):
    table = two_year_fitted(holdout=holdout, band=band)
    for small in (False, True):
        spec = chart_spec(charts.fit_chart(table, small_multiples=small))
        marks, subtitle = _marks(spec), _subtitle(spec)
        assert ("rect" in marks) == holdout == ("holdout" in subtitle)
        assert ("area" in marks) == band == subtitle.startswith("band: 90% ")
        assert band != ("no band" in subtitle)


def test_fit_chart_subtitle_says_the_national_sum_has_no_band():
    """National rows are derived sums with no HDI; the default (national) view says so."""
    spec = chart_spec(charts.fit_chart(fx.fitted()))
    assert "none for the national sum" in _subtitle(spec)
    with_national = pl.concat(
        [fx.fitted(), fx.fitted().filter(pl.col("geo") == "north").with_columns(
            pl.lit(NATIONAL).alias("geo"))]
    )
    assert "national" not in _subtitle(chart_spec(charts.fit_chart(with_national)))


def test_fit_chart_runs_without_vega_warnings_in_every_view():
    """The defect: Vega logged 'Infinite extent' (national rows have no HDI; a real fit has
    no holdout weeks, so the holdout layer had no rows)."""
    no_holdout_in_east = fx.fitted().with_columns(pl.col("holdout") & (pl.col("geo") != "east"))
    variants = [
        charts.fit_chart(fx.fitted()),  # national view, band only per geo
        charts.fit_chart(fx.fitted(), geo="north"),
        charts.fit_chart(no_holdout_in_east, geo="east"),  # this geo's holdout layer is empty
        charts.fit_chart(two_year_fitted(holdout=False, band=False)),  # like a MAP fit
        charts.fit_chart(two_year_fitted(holdout=False, band=False), small_multiples=True),
        charts.fit_chart(fx.fitted(), small_multiples=True),
    ]
    assert vega_messages(variants) == [[]] * len(variants)


# --------------------------------------------------------------------------- 2. decomposition


def _sign_switching_contributions() -> pl.DataFrame:
    """Contributions with a control that changes sign, a missing row and shuffled rows."""
    df = fx.contributions_geo_time()
    weeks = df["time"].unique().sort()
    flip = (
        pl.when(pl.col("time").is_in(weeks[::3].implode()))
        .then(-pl.col("mean").abs())
        .otherwise(pl.col("mean").abs())
    )
    df = df.with_columns(
        pl.when(pl.col("component") == "price_index").then(flip).otherwise(pl.col("mean"))
        .alias("mean")
    )
    missing = (pl.col("geo") == "east") & (pl.col("component") == "tv") & (
        pl.col("time") == weeks[5])
    return df.filter(~missing).sample(fraction=1.0, shuffle=True, seed=3)


def test_decomposition_is_stacked_on_aligned_weeks_with_negatives_below_zero():
    data = stacked_contributions(_sign_switching_contributions())
    n_weeks = data["time"].n_unique()
    # every area has a row in every week: no area skips a week (the spike source)
    runs = data.group_by("geo", "component", "part").agg(pl.col("time").n_unique().alias("n"),
                                                        pl.len().alias("rows"))
    assert (runs["n"] == n_weeks).all() and (runs["rows"] == n_weeks).all()
    above, below = data.filter(pl.col("part") == "above"), data.filter(pl.col("part") == "below")
    assert (above["lower"] >= 0).all() and (above["upper"] >= above["lower"]).all()
    assert (below["upper"] <= 0).all() and (below["lower"] <= below["upper"]).all()
    # the sign-switching control has an area on each side of zero
    parts = set(data.filter(pl.col("component") == "price_index")["part"])
    assert parts == {"above", "below"}
    # bands touch: in each week the next component starts where the previous one ends
    for _, cell in data.group_by("geo", "time", "part"):
        cell = cell.sort("stack_order")
        edges = cell["upper"] if cell["part"][0] == "above" else cell["lower"]
        starts = cell["lower"] if cell["part"][0] == "above" else cell["upper"]
        assert np.allclose(starts[1:].to_numpy(), edges[:-1].to_numpy())
    # heights add up to each week's total contribution (the missing row counts as 0)
    height = data.group_by("geo", "time").agg(
        (pl.col("upper") - pl.col("lower")).sum().alias("h"),
        pl.col("mean").filter(pl.col("part") == "above").fill_null(0).sum().alias("m"),
    )
    signed = data.group_by("geo", "time").agg(
        pl.when(pl.col("part") == "above").then(pl.col("upper") - pl.col("lower"))
        .otherwise(pl.col("lower") - pl.col("upper")).sum().alias("net")
    )
    joined = height.join(signed, on=["geo", "time"])
    assert np.allclose(joined["net"].to_numpy(), joined["m"].to_numpy())
    # one stacking order in every week
    orders = data.group_by("component").agg(pl.col("stack_order").n_unique().alias("k"))
    assert (orders["k"] == 1).all()


def test_decomposition_spec_draws_given_edges_not_vega_stacking():
    chart = charts.contribution_area_chart(_sign_switching_contributions(), kpi_name="revenue")
    spec = chart_spec(chart)
    (area,) = [d for d in _walk(spec) if d.get("mark", {}) in ("area",) or
               (isinstance(d.get("mark"), dict) and d["mark"].get("type") == "area")]
    enc = area["encoding"]
    assert enc["y"]["field"] == "lower" and enc["y2"]["field"] == "upper"
    assert enc["y"]["stack"] is None and "order" not in enc
    assert enc["detail"]["field"] == "part"  # a component's two sides are separate areas
    assert area["mark"]["interpolate"] == "linear"
    assert "revenue" in enc["y"]["title"]
    assert "%Y" in enc["x"]["axis"]["format"]
    assert "line" in _marks(spec)  # the sum of the components
    assert vega_messages([chart, charts.contribution_area_chart(fx.contributions_geo_time(),
                                                                geo="east")]) == [[], []]


# --------------------------------------------------------------------------- 3. facets


def test_facet_columns_leave_no_empty_cell_when_a_layout_exists():
    for n in range(1, 41):
        columns = facet_columns(n, 4)
        assert 1 <= columns <= 4
        has_layout = n <= 4 or any(n % c == 0 for c in (2, 3, 4))
        assert (n % columns == 0 or n < columns) if has_layout else facet_has_gaps(n, columns)
    assert facet_columns(10, 3) == 2  # the 10 geos: 2 x 5, not 3 + 3 + 3 + 1


def _facet_panels(spec) -> int:
    field = spec["facet"]["field"]
    values = spec["data"]["values"] if "values" in spec.get("data", {}) else [
        row for ds in spec["datasets"].values() for row in ds]
    return len({row[field] for row in values if field in row})


def _check_facets(spec) -> int:
    """Assert a wrapped facet has no empty cell, or gives every panel its own axes."""
    if "facet" not in spec or "columns" not in spec:
        return 0
    n, columns = _facet_panels(spec), spec["columns"]
    if n % columns and n > columns:
        resolve = spec.get("resolve", {})
        x_own = resolve.get("axis", {}).get("x") == "independent" or resolve.get(
            "scale", {}).get("x") == "independent"
        assert x_own, f"{n} panels in {columns} columns leave empty cells under a shared axis"
    return 1


def test_no_facet_leaves_an_empty_panel():
    ten = [f"geo_{i:02d}" for i in range(10)]
    seven = [f"geo_{i:02d}" for i in range(7)]
    checked = 0
    for geos in (ten, seven):
        spec = chart_spec(charts.fit_chart(two_year_fitted(geos=geos), small_multiples=True))
        checked += _check_facets(spec)
    assert chart_spec(charts.fit_chart(two_year_fitted(geos=ten), small_multiples=True))[
        "columns"] == 2
    rng = np.random.default_rng(0)
    for n in (5, 6, 10):
        draws = pl.concat(
            pl.DataFrame({"parameter": f"p{i}", "source": src, "value": rng.normal(0, 1, 50)})
            for i in range(n) for src in ("prior", "posterior")
        )
        spec = chart_spec(charts.prior_posterior_chart(draws))
        checked += _check_facets(spec)
        assert n % spec["columns"] == 0 or spec["resolve"]["scale"]["x"] == "independent"
    # and every facet of the standard report
    for section in fit_sections(fx.FakeFit()):
        for item in section.charts:
            checked += _check_facets(chart_spec(resolve(item)))
    assert checked >= 7


# --------------------------------------------------------------------------- 4. ESS axis


def test_log_ticks_are_a_1_2_5_ladder_that_spans_the_values():
    assert log_ticks([250, 3000], include=400) == [200, 500, 1000, 2000, 5000]
    ticks = log_ticks([7.5, 120_000], include=400)
    assert ticks[0] <= 7.5 and ticks[-1] >= 120_000
    assert all(b / a >= 2 for a, b in itertools.pairwise(ticks))


def test_ess_axis_labels_cannot_collide():
    """The defect: Vega's log ticks printed 300 and 400 side by side ("300400")."""
    spec = chart_spec(charts.diagnostics_chart(fx.summary(), worst=25))
    (ess,) = [e for e in _encodings(spec, "x") if e.get("field") == "ess"]
    values = ess["axis"]["values"]
    assert all(b / a >= 2 for a, b in itertools.pairwise(values))  # >= 0.3 decades
    assert 300 not in values and 400 not in values
    assert ess["axis"]["format"] == ",d" and ess["axis"]["labelSeparation"] > 0
    assert ess["scale"]["domain"] == [values[0], values[-1]] and ess["scale"]["nice"] is False
    ess_min = fx.summary().select(pl.min_horizontal("ess_bulk", "ess_tail").min()).item()
    assert values[0] <= ess_min


# --------------------------------------------------------------------------- 5. prior vs posterior


def _wide_prior_draws() -> pl.DataFrame:
    """An ROI whose lognormal prior reaches past 20 while the posterior is 2.6 +/- 0.25."""
    rng = np.random.default_rng(1)
    prior = rng.lognormal(1.2, 0.9, 4000)
    assert np.quantile(prior, 0.99) > 20
    return pl.DataFrame({
        "parameter": "roi[tv]",
        "source": ["prior"] * 4000 + ["posterior"] * 2000,
        "value": np.r_[prior, rng.normal(2.6, 0.25, 2000)],
    })


def test_prior_posterior_panel_is_zoomed_on_the_posterior():
    draws = _wide_prior_draws()
    table = density_table(draws)
    lo, hi = table["value"].min(), table["value"].max()
    post = draws.filter(pl.col("source") == "posterior")["value"]
    p_lo, p_hi = post.quantile(0.005), post.quantile(0.995)
    width = p_hi - p_lo
    assert lo <= p_lo and hi >= p_hi  # the posterior is all there
    assert hi < 10 and (hi - lo) <= (1 + 2 * REACH) * width * 1.01  # not out to 20-25
    assert set(table["source"]) == {"prior", "posterior"}
    spec = chart_spec(charts.prior_posterior_chart(draws))
    assert spec["resolve"]["scale"] == {"x": "independent", "y": "independent"}
    x = next(e for e in _encodings(spec, "x") if e.get("field") == "value")
    assert x["scale"] == {"zero": False, "nice": False}  # the panel is the window, not 0..25


def test_prior_posterior_of_a_point_fit_draws_the_point_as_a_line():
    draws = _wide_prior_draws().filter(pl.col("source") == "prior")
    draws = pl.concat([draws, pl.DataFrame({"parameter": ["roi[tv]"], "source": ["posterior"],
                                            "value": [2.6]})])
    table = density_table(draws)
    point = table.filter(pl.col("kind") == "point")
    assert point["value"].to_list() == [2.6] and point["source"].to_list() == ["posterior"]
    prior = table.filter(pl.col("source") == "prior")
    q05, q95 = np.quantile(draws.filter(pl.col("source") == "prior")["value"], [0.05, 0.95])
    assert prior["value"].min() < q05 and q95 < prior["value"].max() < 1.1 * q95
    chart = charts.prior_posterior_chart(draws)
    assert "rule" in _marks(chart_spec(chart))
    assert vega_messages([chart, charts.prior_posterior_chart(_wide_prior_draws())]) == [[], []]


# --------------------------------------------------------------------------- 6. no Vega warnings


class _MapLikeFit(fx.FakeFit):
    """Tables shaped like a real MAP fit's: no holdout, 'HDI' equal to the mean, one posterior
    draw per parameter, components that change sign."""

    def fitted(self, national: bool = False):
        return fx.fitted().with_columns(
            pl.lit(False).alias("holdout"), pl.col("mean").alias("hdi_low"),
            pl.col("mean").alias("hdi_high"),
        )

    def contributions(self, by=("geo", "time")):
        if list(by) == ["geo", "time"]:
            return _sign_switching_contributions()
        return super().contributions(by)

    def prior_posterior(self):
        draws = fx.prior_posterior()
        point = draws.filter(pl.col("source") == "posterior").group_by(
            "parameter", maintain_order=True).agg(pl.col("value").mean()).with_columns(
            pl.lit("posterior").alias("source"))
        return pl.concat([draws.filter(pl.col("source") == "prior"),
                          point.select(draws.columns)])


#: Charts with a known, accepted warning: (section title, chart index) -> message part. None.
KNOWN: dict[tuple[str, int], str] = {}


def _report_charts(fit) -> list[tuple[str, int, object]]:
    out = []
    for section in fit_sections(fit):
        for i, item in enumerate(section.charts):
            try:
                out.append((section.title, i, resolve(item)))
            except Skip:
                continue
    return out


@pytest.mark.parametrize("fit", [fx.FakeFit(), _MapLikeFit()], ids=["sampled", "map_like"])
def test_every_report_chart_runs_without_vega_warnings(fit):
    built = _report_charts(fit)
    assert len(built) >= 15
    messages = vega_messages([c for _, _, c in built])
    found = {}
    for (title, i, _), said in zip(built, messages, strict=True):
        known = KNOWN.get((title, i))
        left = [m for m in said if not (known and known in m)]
        if left:
            found[f"{title} #{i}"] = left
    assert not found, json.dumps(found, indent=1)


@pytest.mark.slow
def test_every_chart_of_a_real_map_fit_runs_without_vega_warnings(map_fit):
    built = _report_charts(map_fit)
    messages = vega_messages([c for _, _, c in built])
    found = {f"{t} #{i}": [m for m in said if not (KNOWN.get((t, i)) and KNOWN[(t, i)] in m)]
             for (t, i, _), said in zip(built, messages, strict=True)}
    assert not {k: v for k, v in found.items() if v}, found
