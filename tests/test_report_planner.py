"""What a planner reads in the report: heat maps with their intervals, one geo order,
response curves in spend with today's and the recommended spend, readable tables and
a parameter table without the sampler's internals (issue #17)."""

from __future__ import annotations

from types import SimpleNamespace

import arviz as az
import numpy as np
import polars as pl
import pytest
import report_fixtures as fx
import vl_convert as vlc

from geommm.analysis.diagnostics import is_internal, parameter_summary
from geommm.analysis.tables import NATIONAL, SUMMARY
from geommm.report import charts
from geommm.report.charts._common import geos_national_first
from geommm.report.charts.curves import curve_marks
from geommm.report.charts.roi import in_geo_order, with_stand_out
from geommm.report.export import chart_spec
from geommm.report.from_fit import FitTables, fit_sections
from geommm.report.page import CSS
from geommm.report.sections import resolve
from geommm.report.tables import html_table

GEO_ORDER = geos_national_first(fx.GEOS)  # alphabetical: east, north, south, west


def _layers(spec: dict) -> list[dict]:
    return spec.get("layer") or spec["spec"]["layer"]


def _rows(spec: dict) -> list[dict]:
    (values,) = spec["datasets"].values()
    return values


# --- heat maps ------------------------------------------------------------------------


def _roi_table() -> pl.DataFrame:
    """Geo ROI for one channel: north's interval excludes the national 2.0, south's does not."""
    return pl.DataFrame(
        {
            "geo": ["south", "north", NATIONAL],
            "channel": ["tv", "tv", "tv"],
            "spend": [10.0, 20.0, 30.0],
            "roi_mean": [1.9, 3.0, 2.0],
            "roi_median": [1.9, 3.0, 2.0],
            "roi_hdi_low": [1.2, 2.5, 1.6],
            "roi_hdi_high": [2.6, 3.6, 2.4],
        }
    )


def test_stand_out_compares_each_geo_interval_with_the_national_value():
    table = with_stand_out(_roi_table())
    assert table["geo"].to_list() == [NATIONAL, "north", "south"]  # national first, then a-z
    flags = dict(zip(table["geo"], table["stands_out"], strict=True))
    assert flags == {NATIONAL: None, "north": True, "south": False}
    assert table["national_roi"].to_list() == [2.0, 2.0, 2.0]


def test_stand_out_takes_the_national_table_when_the_geo_table_has_none():
    geo_only = _roi_table().filter(pl.col("geo") != NATIONAL)
    national = _roi_table().filter(pl.col("geo") == NATIONAL).drop("geo")
    table = with_stand_out(geo_only, national)
    assert table.filter(pl.col("geo") == "north")["stands_out"].item() is True
    without = with_stand_out(geo_only)
    assert without["stands_out"].null_count() == without.height  # nothing to compare with


def test_heatmap_prints_the_interval_and_greys_out_geos_like_national():
    chart = charts.roi_heatmap(fx.roi("geo"), fx.roi("channel"))
    spec = chart.to_dict()
    cells, mean_text, interval_text = _layers(spec)
    # uncertainty without hover: the interval is a text mark in every cell
    (calc,) = interval_text["transform"]
    assert "roi_hdi_low" in calc["calculate"] and "roi_hdi_high" in calc["calculate"]
    assert interval_text["encoding"]["text"]["field"] == calc["as"]
    assert mean_text["encoding"]["text"]["field"] == "roi_mean"
    # cells whose interval includes the national value are filled grey
    condition = cells["encoding"]["color"]["condition"]
    assert "stands_out === false" in condition["test"]
    # ...and the subtitle says what grey means
    assert any("grey cells" in line for line in spec["title"]["subtitle"])
    rows = _rows(spec)
    assert any(r["stands_out"] is False for r in rows) and any(r["stands_out"] for r in rows)
    # the national row is shown first, then the geos alphabetically
    assert {tuple(layer["encoding"]["y"]["sort"]) for layer in _layers(spec)} == {
        (NATIONAL, *GEO_ORDER)
    }
    assert "<text" in vlc.vegalite_to_svg(chart_spec(chart))


def test_heatmap_without_a_national_value_does_not_promise_grey_cells():
    spec = charts.roi_heatmap(fx.roi("geo")).to_dict()
    assert not any("grey" in line for line in spec["title"]["subtitle"])
    assert all(r["stands_out"] is None for r in _rows(spec))


def test_roi_and_marginal_roi_heatmaps_list_geos_in_the_same_order():
    roi = charts.roi_heatmap(fx.roi("geo"), fx.roi("channel")).to_dict()
    marginal = charts.roi_heatmap(
        fx.roi("geo", marginal=True), fx.roi("channel", marginal=True)
    ).to_dict()
    assert _layers(roi)[0]["encoding"]["y"] == _layers(marginal)[0]["encoding"]["y"]


# --- one geo order ---------------------------------------------------------------------


def test_geo_ranking_budget_and_tables_share_the_geo_order():
    national = fx.roi("channel").with_columns(pl.lit(NATIONAL).alias("geo"))
    ranking = charts.geo_ranking_chart(pl.concat([fx.roi("geo"), national], how="diagonal"))
    ranking_sort = {
        tuple(layer["encoding"]["y"]["sort"])
        for layer in _layers(ranking.to_dict())
        if "y" in layer.get("encoding", {})
    }
    assert ranking_sort == {tuple(GEO_ORDER)}
    budget = charts.budget_chart(fx.allocation_table(), fx.allocation_summary()).to_dict()
    grid = budget["vconcat"][1]
    geo_sorts = {tuple(layer["encoding"]["y"]["sort"]) for layer in grid["spec"]["layer"]}
    assert geo_sorts == {tuple(GEO_ORDER)}
    shuffled = fx.allocation_table().sample(fraction=1.0, shuffle=True, seed=3)
    assert in_geo_order(shuffled)["geo"].unique(maintain_order=True).to_list() == GEO_ORDER


def test_report_tables_list_geos_in_the_shared_order():
    sections = {s.title: s for s in fit_sections(fx.FakeFit())}
    roi_table = resolve(sections["Return on investment"].tables["ROI by geo and channel"])
    plan = resolve(sections["Budget"].tables["Recommended allocation"])
    for table in (roi_table, plan):
        assert table["geo"].unique(maintain_order=True).to_list() == GEO_ORDER


# --- response curves --------------------------------------------------------------------


def test_curve_marks_put_current_and_recommended_spend_on_each_curve():
    curves, plan = fx.response_curves(), fx.allocation_table()
    marks = curve_marks(curves, plan)
    north_tv = plan.filter((pl.col("geo") == "north") & (pl.col("channel") == "tv")).row(
        0, named=True
    )
    cell = marks.filter((pl.col("geo") == "north") & (pl.col("channel") == "tv"))
    current = cell.filter(pl.col("mark") == "current").row(0, named=True)
    recommended = cell.filter(pl.col("mark") == "recommended").row(0, named=True)
    on_curve = curves.filter(
        (pl.col("geo") == "north") & (pl.col("channel") == "tv") & (pl.col("spend_multiplier") == 1)
    ).row(0, named=True)
    assert current["spend"] == pytest.approx(on_curve["spend"])
    assert current["incremental_kpi_mean"] == pytest.approx(on_curve["incremental_kpi_mean"])
    ratio = north_tv["optimal_spend"] / north_tv["current_spend"]
    assert recommended["spend"] == pytest.approx(ratio * on_curve["spend"])
    # national curve: the plan's total change of the channel over all geos
    tv = plan.filter(pl.col("channel") == "tv")
    national = marks.filter(
        (pl.col("geo") == NATIONAL)
        & (pl.col("channel") == "tv")
        & (pl.col("mark") == "recommended")
    )
    assert national["spend_multiplier"].item() == pytest.approx(
        tv["optimal_spend"].sum() / tv["current_spend"].sum()
    )
    assert set(curve_marks(curves)["mark"]) == {"current"}  # no plan, no recommended spend


def test_response_curves_are_drawn_in_spend_with_both_spends_marked():
    chart = charts.response_curve_chart(
        fx.response_curves(), fx.allocation_table(), period="the 30 analysed weeks"
    )
    spec = chart.to_dict()
    layers = spec["spec"]["layer"]
    x_fields = {layer["encoding"]["x"]["field"] for layer in layers}
    assert x_fields == {"spend"}
    titles = {layer["encoding"]["x"].get("title") for layer in layers} - {None}
    assert titles == {"spend over the 30 analysed weeks"}
    assert "multiplier" not in str(titles)
    tests = " ".join(str(layer.get("transform")) for layer in layers)
    assert "'current'" in tests and "'recommended'" in tests
    assert {r["mark"] for r in _rows(spec)} == {"curve", "current", "recommended"}
    (param,) = spec["params"]
    assert param["bind"]["options"] == [NATIONAL, *GEO_ORDER]
    assert vlc.vegalite_to_svg(chart_spec(chart)).startswith("<svg")


def test_the_report_marks_the_plan_on_the_curves():
    sections = {s.title: s for s in fit_sections(fx.FakeFit())}
    curves = resolve(sections["Response curves and carryover"].charts[0]).to_dict()
    assert "recommended" in {r["mark"] for r in _rows(curves)}
    x = curves["spec"]["layer"][0]["encoding"]["x"]
    assert x["field"] == "spend" and x["title"] == f"spend over the {fx.WEEKS} analysed weeks"


# --- tables -----------------------------------------------------------------------------


def test_long_notes_wrap_and_shares_read_as_percentages():
    note = "held at its upper bound: the plan wants more than 1.2x the current spend here"
    plan = fx.allocation_table().with_columns(pl.lit(note).alias("note"))
    html = html_table(plan)
    assert '<th class="txt wrap">note</th>' in html
    assert f'<td class="txt wrap">{note}</td>' in html
    assert '<td class="txt">north</td>' in html  # short text stays on one line
    assert "td.wrap" in CSS and "white-space: normal" in CSS.split("td.wrap", 1)[1].split("}")[0]
    assert '<td class="num">-20.0%</td>' in html and ">-0.20<" not in html
    metrics = html_table(fx.fit_metrics())
    assert '<td class="num">5.0%</td>' in metrics and ">0.05<" not in metrics


# --- parameter table --------------------------------------------------------------------


def _sampled_idata() -> az.InferenceData:
    """A posterior shaped like a NUTS fit's: named parameters next to the sampler's internals."""
    rng = np.random.default_rng(0)
    channels, geos = ["tv", "search"], ["north", "south", "west"]
    draws = {
        "roi": (rng.normal(2, 0.1, (2, 50, 2)), ["channel"]),
        "roi_log__": (rng.normal(0.7, 0.05, (2, 50, 2)), None),
        "media_effect_geo_u_zerosum__": (rng.normal(0, 1, (2, 50, 2, 2)), None),
        "media_effect_geo_u": (rng.normal(0, 1, (2, 50, 2, 3)), ["channel", "geo"]),
        "retention_z": (rng.normal(0, 1, (2, 50, 3, 2)), ["geo", "channel"]),
        "retention": (rng.uniform(0, 1, (2, 50, 3, 2)), ["geo", "channel"]),
        "noise_sd": (rng.uniform(1, 2, (2, 50)), []),
    }
    return az.from_dict(
        posterior={k: v for k, (v, _) in draws.items()},
        coords={"channel": channels, "geo": geos},
        dims={k: d for k, (_, d) in draws.items() if d is not None},
    )


def test_parameter_table_names_the_model_parameters_by_their_labels():
    idata = _sampled_idata()
    fit = SimpleNamespace(idata=idata, posterior=idata.posterior, _once=lambda key, make: make())
    table = parameter_summary(fit)
    names = table["parameter"].to_list()
    assert table.columns == list(SUMMARY)
    assert "roi[tv]" in names and "retention[north, search]" in names and "noise_sd" in names
    assert not any(is_internal(n) for n in names)
    assert not any("__" in n or "_z[" in n or "_u[" in n for n in names)
    assert not any(ch.isdigit() for n in names for ch in n.split("[", 1)[-1] if "[" in n)
    everything = parameter_summary(fit, all=True)["parameter"].to_list()
    assert "roi_log__[0]" in everything and "media_effect_geo_u_zerosum__[1, 1]" in everything
    assert set(names) < set(everything)


def test_fit_summary_default_and_all(map_fit):
    named = map_fit.summary()
    everything = map_fit.summary(all=True)
    assert named.height < everything.height
    assert not any(is_internal(n) for n in named["parameter"])
    assert any(n.startswith("media_effect_geo_u[") for n in everything["parameter"])
    assert any(n.startswith("roi[") for n in named["parameter"])
    assert map_fit.summary(all=True) is not everything  # a fresh copy each call
    geos = set(map_fit.panel.geos)
    labelled = [n for n in named["parameter"] if n.startswith("media_effect[")]
    assert labelled and all(n[len("media_effect[") :].split(",")[0] in geos for n in labelled)


def test_report_parameter_table_has_no_internal_names():
    summary = fx.summary().vstack(
        fx.summary().head(2).with_columns(pl.Series("parameter", ["roi_log__[0]", "x_z[1]"]))
    )
    fake = fx.FakeFit()
    fake.summary = lambda: summary
    sections = {s.title: s for s in fit_sections(fake, tables=FitTables(fake))}
    table = resolve(sections["Diagnostics"].tables["Parameters (highest R-hat first)"])
    assert table.height == fx.summary().height
    assert not any(is_internal(n) for n in table["parameter"])


def test_the_older_multiplier_view_is_still_available():
    chart = charts.response_curve_chart(fx.response_curves(), per_current_spend=True)
    spec = chart.to_dict()
    assert {
        layer["encoding"]["x"]["field"]
        for layer in spec["spec"]["layer"]
        if "encoding" in layer and "field" in layer["encoding"].get("x", {})
    } == {"spend_multiplier"}
    assert vlc.vegalite_to_svg(chart_spec(chart)).startswith("<svg")
