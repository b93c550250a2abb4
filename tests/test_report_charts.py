"""Charts build valid Vega-Lite from the Fit table contracts; the report is offline and safe."""

from __future__ import annotations

import json
import re

import altair as alt
import polars as pl
import pytest
import vl_convert as vlc

import report_fixtures as fx
from geommm.analysis.tables import NATIONAL
from geommm.errors import SchemaError
from geommm.report import charts
from geommm.report.export import chart_spec, save_chart
from geommm.report.from_fit import FitTables, fit_header, fit_headline, fit_sections
from geommm.report.html import build_report, render_report, write_report
from geommm.report.sections import Section
from geommm.report.tables import format_number, html_table

EVIL = "<script>alert('x')</script>"


def _with_national_roi() -> pl.DataFrame:
    national = fx.roi("channel").with_columns(pl.lit(NATIONAL).alias("geo"))
    return pl.concat([fx.roi("geo"), national], how="diagonal_relaxed")


CHARTS = {
    "fit": lambda: charts.fit_chart(fx.fitted()),
    "fit_small_multiples": lambda: charts.fit_chart(fx.fitted(), small_multiples=True),
    "contribution_area": lambda: charts.contribution_area_chart(fx.contributions_geo_time()),
    "waterfall_total": lambda: charts.waterfall_chart(fx.contributions_total()),
    "waterfall_geo_time": lambda: charts.waterfall_chart(fx.contributions_geo_time(), geo="east"),
    "roi_forest": lambda: charts.roi_forest_chart(fx.roi("channel")),
    "roi_forest_marginal": lambda: charts.roi_forest_chart(
        fx.roi("channel"), fx.roi("channel", marginal=True)
    ),
    "roi_heatmap": lambda: charts.roi_heatmap(fx.roi("geo")),
    "geo_ranking": lambda: charts.geo_ranking_chart(_with_national_roi()),
    "response_curves": lambda: charts.response_curve_chart(fx.response_curves()),
    "response_curves_raw": lambda: charts.response_curve_chart(
        fx.response_curves(), per_current_spend=False
    ),
    "adstock_decay": lambda: charts.adstock_decay_chart(fx.adstock_decay()),
    "lift_check": lambda: charts.lift_check_chart(fx.lift_checks()),
    "budget_geo": lambda: charts.budget_chart(fx.allocation_table(), fx.allocation_summary()),
    "budget_national": lambda: charts.budget_chart(fx.allocation_table(by="channel")),
    "diagnostics": lambda: charts.diagnostics_chart(fx.summary(), worst=8),
    "diagnostics_one_chain": lambda: charts.diagnostics_chart(
        fx.summary().with_columns(pl.lit(float("nan")).alias("r_hat"))
    ),
    "diagnostics_map_fit": lambda: charts.diagnostics_chart(
        fx.summary().with_columns(
            pl.lit(None, pl.Float64).alias(c) for c in ("r_hat", "ess_bulk", "ess_tail")
        )
    ),
    "prior_posterior": lambda: charts.prior_posterior_chart(fx.prior_posterior()),
    "spend_effect": lambda: charts.spend_effect_chart(fx.roi("channel"), fx.contributions_total()),
}


@pytest.mark.parametrize("name", list(CHARTS))
def test_chart_builds_valid_vegalite(name):
    chart = CHARTS[name]()
    assert isinstance(chart, alt.TopLevelMixin)
    spec = chart.to_dict()  # validates against the Vega-Lite schema
    # compile and run the dataflow headlessly: catches errors the schema cannot
    svg = vlc.vegalite_to_svg(chart_spec(chart))
    assert svg.startswith("<svg") and "<path" in svg
    json.dumps(spec)


def test_fit_chart_has_a_geo_dropdown_and_national_view():
    spec = charts.fit_chart(fx.fitted()).to_dict()
    (param,) = spec["params"]
    assert param["bind"]["input"] == "select"
    assert param["bind"]["options"][0] == "national"
    assert param["value"] == "national"


def test_charts_are_not_limited_to_5000_rows():
    big = pl.concat([fx.contributions_geo_time()] * 7)  # > 5,000 rows
    assert big.height > 5000
    charts.contribution_area_chart(big).to_dict()


def test_missing_column_names_the_table_and_column():
    with pytest.raises(SchemaError, match=r"roi.*roi_hdi_high"):
        charts.roi_heatmap(fx.roi("geo").drop("roi_hdi_high"))


def test_waterfall_steps_add_up_and_summed_hdis_are_dropped():
    table = charts.waterfall_table(fx.contributions_total())
    total = table.filter(pl.col("component") == "Total KPI")["end"][0]
    assert total == pytest.approx(fx.contributions_total()["mean"].sum())
    assert table["component_type"].to_list()[0] == "baseline"
    assert table.filter(pl.col("component_type") == "media")["hdi_low"].null_count() == 0
    summed = charts.waterfall_table(fx.contributions_geo_time())
    assert summed["hdi_low"].null_count() == summed.height


def test_lift_table_flags_disagreeing_tests():
    table = charts.lift_agreement_table(fx.lift_checks())
    assert table["overlap"].to_list() == ["yes", "yes", "no"]
    assert table["geos"][1] == "south, east"


def test_number_formatting_is_readable():
    assert format_number(12345.678) == "12,346"
    assert format_number(2.3456) == "2.35"
    assert format_number(1.0034, "r_hat") == "1.003"
    assert format_number(310.4, "min_ess_bulk") == "310"
    assert format_number(float("nan")) == "–"
    assert format_number(0.123, "share") == "12.3%"


def _report(**kwargs):
    fit = fx.FakeFit()
    tables = FitTables(fit, kwargs.get("allocation"))
    return render_report(
        fit_sections(fit, tables=tables),
        title="t",
        header=fit_header(fit),
        headline=fit_headline(fit, tables),
    )


def test_report_is_offline_and_has_one_container_per_chart():
    page, n_charts = _report()
    assert n_charts == 16
    assert len(re.findall(r'<div class="chart" id="chart-\d+"', page)) == n_charts
    assert len(re.findall(r'<script type="application/json"', page)) == n_charts
    tags = re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", page, flags=re.IGNORECASE)
    assert not [t for t in tags if re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", t)]
    assert "vegaEmbed" in page and 'class="error"' not in page
    assert "Sampler diagnostics: WARNING" in page  # fixture verdict is "warning"


def test_report_escapes_user_strings(tmp_path):
    fitted = fx.fitted().with_columns(pl.col("geo").replace("north", EVIL))
    section = Section(
        EVIL, charts=[charts.fit_chart(fitted)], tables={EVIL: fitted.head(3)}, intro=EVIL
    )
    path = build_report(
        [section],
        tmp_path / "r.html",
        title=EVIL,
        header={"Formula": EVIL, "diagnostics": {"verdict": "fail", "messages": [EVIL]}},
    )
    page = path.read_text()
    assert EVIL not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "\\u003cscript\\u003e" in page  # inside the JSON spec


def test_failing_chart_becomes_an_error_box_and_the_rest_survives():
    def broken():
        raise RuntimeError("boom <b>")

    sections = [
        Section(
            "A", charts=[broken, charts.roi_heatmap(fx.roi("geo"))], tables={"bad": lambda: 1 / 0}
        )
    ]
    page, n = render_report(sections, title="t")
    assert n == 1
    assert page.count('class="error"') == 2
    assert "boom &lt;b&gt;" in page and "ZeroDivisionError" in page


def test_no_lift_tests_drops_the_section_and_a_failing_table_shows_its_error(tmp_path):
    class PartialFit(fx.FakeFit):
        def lift_test_check(self):
            return fx.lift_checks().head(0)  # a fit without lift tests

        def roi(self, by="geo"):
            raise ValueError("no ROI today")

    path = write_report(PartialFit(), tmp_path / "partial.html")
    page = path.read_text()
    assert "Lift tests" not in page
    assert "no ROI today" in page  # a real error is shown, not hidden
    assert "Model fit" in page and 'class="error"' in page


def test_ok_verdict_has_no_red_banner(tmp_path):
    class GoodFit(fx.FakeFit):
        def diagnostics(self):
            return fx.diagnostics("ok")

    page = write_report(GoodFit(), tmp_path / "ok.html").read_text()
    assert "banner ok" in page and "banner bad" not in page


def test_budget_is_in_every_report_given_or_the_default_plan():
    class Allocation:
        table = fx.allocation_table(by="channel")
        summary = dict(fx.allocation_summary(), by="channel", budget=123_456.0)

    page, n = _report(allocation=Allocation())
    assert n == 16 and "Recommended allocation" in page and "123,456" in page
    page, _ = _report()  # no allocation: the fit's default plan
    assert "Recommended allocation" in page and "240,000" in page


def test_report_opens_with_the_answer_and_ends_with_settings():
    page, _ = _report()
    card = page.index('class="headline"')
    assert card < page.index("<section id=\"s-summary\"") < page.index("Model fit</h2>")
    assert page.index("Settings and diagnostics</h2>") > page.index("Diagnostics</h2>")
    assert page.index("Sampler diagnostics: WARNING") > page.index("Model fit</h2>")
    head = page[card : page.index("</section>", card)]
    for words in ("Budget.", "Expected extra KPI", "90% HDI", "Next unit of spend.", "Geos.",
                  "Sampler diagnostics.", "WARNING"):
        assert words in head
    assert "mass_matrix" not in page[:card]  # sampler settings are not on the first screen


def test_headline_budget_line_names_moves_and_interval():
    from geommm.report.headline import budget_line

    class Allocation:
        table = fx.allocation_table(by="channel").with_columns(
            pl.when(pl.col("channel") == "social")
            .then(pl.col(c) * f)
            .otherwise(pl.col(c))
            .alias(c)
            for c, f in (("optimal_spend", 1.1), ("change", 1.0), ("change_pct", 1.0))
        ).with_columns(
            (pl.col("optimal_spend") - pl.col("current_spend")).alias("change"),
            (pl.col("optimal_spend") / pl.col("current_spend") - 1).alias("change_pct"),
            pl.when(pl.col("channel") == "social").then(0.62).otherwise(0.97).alias("move_probability"),
        )
        summary = dict(fx.allocation_summary(), by="channel")

    line = budget_line(Allocation())
    assert "raise" in line.text and "cut" in line.text and "+5,400" in line.text
    assert "90% HDI +2,100 to +8,800" in line.text and line.tone == "good"
    assert "0.8–1.2×" in line.text
    shaky = Allocation.table.filter(pl.col("move_probability") < 0.8)["channel"].to_list()
    assert shaky == ["social"] and "social (P 0.62)" in line.text
    assert "Within their own uncertainty" in line.text
    sure = Allocation.table.with_columns(pl.col("move_probability").clip(0.9, 1.0))
    assert "uncertainty" not in budget_line(type("A", (), {"table": sure, "summary": Allocation.summary})()).text


def test_headline_standout_geos_and_marginal_roi():
    from geommm.report.headline import marginal_roi_line, standout_geos_line

    national = fx.roi("channel")
    per_geo = fx.roi("geo").with_columns(
        pl.when((pl.col("geo") == "north") & (pl.col("channel") == "tv"))
        .then(pl.col(c) + 10)
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("roi_mean", "roi_hdi_low", "roi_hdi_high")
    )
    text = standout_geos_line(per_geo, national).text
    assert "north tv" in text and "above national" in text
    text = marginal_roi_line(fx.roi("channel", marginal=True)).text
    assert text.startswith("Earns most in social") and "least in tv" in text


def test_headline_line_that_fails_says_so_and_the_rest_stand():
    from geommm.report.from_fit import FitTables
    from geommm.report.headline import headline

    class NoBudget(fx.FakeFit):
        def optimize_budget(self, budget=None, **kwargs):
            raise RuntimeError("no plan")

    fit = NoBudget()
    lines = headline(FitTables(fit), fit)
    assert lines[0].topic == "Budget" and "no plan" in lines[0].text
    assert [line.topic for line in lines[1:]] == [
        "Next unit of spend", "Geos", "What the data can tell", "Sampler diagnostics"]
    told = lines[3].text
    assert "social (prior-driven" in told and "search (weak" in told and "tv" not in told


def test_spend_effect_shares_add_up():
    table = charts.spend_effect_table(fx.roi("channel"), fx.contributions_total())
    assert abs(table["spend_share"].sum() - 1) < 1e-12
    assert abs(table["effect_share"].sum() - 1) < 1e-12


@pytest.mark.parametrize("suffix", [".png", ".svg", ".html"])
def test_save_chart_by_suffix(tmp_path, suffix):
    path = save_chart(charts.roi_forest_chart(fx.roi("channel")), tmp_path / f"roi{suffix}")
    data = path.read_bytes()
    assert len(data) > 1000
    if suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    if suffix == ".html":
        assert not re.search(rb"<script[^>]*src=[\"']?https?:", data)


def test_save_chart_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="unsupported"):
        save_chart(charts.roi_forest_chart(fx.roi("channel")), tmp_path / "roi.pdf")


def test_html_table_cuts_long_tables():
    out = html_table(pl.DataFrame({"x": list(range(300))}), max_rows=10)
    assert out.count("<tr>") == 11 and "first 10 of 300" in out


def test_report_of_a_real_map_fit_has_every_section_and_no_error(map_fit, tmp_path):
    """A MAP fit has no R-hat or ESS: the report says so instead of failing."""
    page = write_report(map_fit, tmp_path / "map.html").read_text()
    assert 'class="error"' not in page
    for title in ("Model fit", "Return on investment", "Lift tests", "Diagnostics"):
        assert f"<h2>{title}</h2>" in page
    assert "APPROXIMATE" in page  # the diagnostics verdict of an approximation


def test_date_axes_show_the_year():
    for chart in (charts.fit_chart(fx.fitted()), charts.contribution_area_chart(fx.contributions_geo_time())):
        spec = json.dumps(chart_spec(chart))
        assert '"format": "%b %Y"' in spec or '"format":"%b %Y"' in spec


def test_parameter_table_leaves_out_internal_names():
    from geommm.report.from_fit import _worst_first

    names = ["roi[tv]", "roi_log__[0]", "media_effect_geo_u_zerosum__[1, 3]", "kpi_level_z[2]",
             "effect_u[1]", "noise_sd"]
    table = fx.summary().head(len(names)).with_columns(pl.Series("parameter", names))
    assert _worst_first(table)["parameter"].sort().to_list() == ["noise_sd", "roi[tv]"]


def test_mape_is_shown_as_a_percent():
    assert format_number(0.05, "mape") == "5.0%"


def test_inline_rows_are_shared_not_copied_by_altair():
    """Altair deep-copies a chart on layer/properties/add_params; the rows made by
    inline_data are shared instead (they were copied dozens of times per report), and
    the finished spec still holds every row."""
    from geommm.report.charts._common import inline_data

    data = inline_data(pl.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["x", "y", "z"]}))
    base = alt.Chart(data).mark_point().encode(x="a:Q", y="b:N")
    chart = alt.layer(base, base.mark_line()).properties(width=100).add_params(
        alt.param(name="p", value=1)
    )
    held = [d for d in (chart.data, *(layer.data for layer in chart.layer)) if isinstance(d, alt.InlineData)]
    assert held and all(d is data for d in held)
    assert data.copy() is data and data.values is data.values
    spec = chart_spec(chart)
    (rows,) = spec["datasets"].values()
    assert rows == [{"a": 1.0, "b": "x"}, {"a": 2.0, "b": "y"}, {"a": 3.0, "b": "z"}]
