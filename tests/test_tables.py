"""Column contracts: the real Fit tables and the report's fake ones both have exactly them.

``geommm.analysis.tables`` is the one list of what each result table holds; the
report's charts are tested on the fakes in ``report_fixtures``, so both sides are
held to the contract here and neither can drift on its own.
"""

from __future__ import annotations

import dataclasses

import pytest

import report_fixtures as fx
from geommm.analysis import tables as t
from geommm.fit import Diagnostics

FAKES = {
    "fitted": (fx.fitted, t.FITTED),
    "fit_metrics": (fx.fit_metrics, t.FIT_METRICS),
    "contributions by geo and time": (fx.contributions_geo_time, t.CONTRIBUTIONS_BY_GEO_TIME),
    "contributions total": (fx.contributions_total, t.CONTRIBUTIONS_TOTAL),
    "roi by geo": (lambda: fx.roi("geo"), t.ROI_BY_GEO),
    "roi by channel": (lambda: fx.roi("channel"), t.ROI_BY_CHANNEL),
    "marginal roi by geo": (lambda: fx.roi("geo", marginal=True), t.MARGINAL_ROI_BY_GEO),
    "marginal roi by channel": (
        lambda: fx.roi("channel", marginal=True),
        t.MARGINAL_ROI_BY_CHANNEL,
    ),
    "response_curves": (fx.response_curves, t.RESPONSE_CURVES),
    "adstock_decay": (fx.adstock_decay, t.ADSTOCK_DECAY),
    "effectiveness": (fx.effectiveness, t.EFFECTIVENESS),
    "lift_test_check": (fx.lift_checks, t.LIFT_TEST_CHECK),
    "prior_posterior": (fx.prior_posterior, t.PRIOR_POSTERIOR),
    "summary": (fx.summary, t.SUMMARY),
    "allocation by geo": (fx.allocation_table, t.ALLOCATION),
    "allocation by channel": (lambda: fx.allocation_table(by="channel"), t.ALLOCATION),
}


@pytest.mark.parametrize("name", list(FAKES))
def test_fake_tables_have_exactly_the_contract_columns(name):
    make, columns = FAKES[name]
    assert make().columns == list(columns)


def test_fake_mappings_have_exactly_the_contract_keys():
    assert list(fx.allocation_summary()) == list(t.ALLOCATION_SUMMARY)
    assert list(fx.diagnostics().to_dict()) == list(t.DIAGNOSTICS)


def test_the_fake_fit_serves_the_fake_tables():
    fake = fx.FakeFit()
    assert fake.roi(by="channel").columns == list(t.ROI_BY_CHANNEL)
    assert fake.contributions(by=[]).columns == list(t.CONTRIBUTIONS_TOTAL)
    assert isinstance(fake.diagnostics(), Diagnostics)


def test_contribution_columns_follow_the_grouping():
    assert t.contributions_columns(("time", "geo")) == t.CONTRIBUTIONS_BY_GEO_TIME
    assert t.contributions_columns([]) == t.CONTRIBUTIONS_TOTAL
    assert t.contributions_columns("geo") == ("geo", *t.CONTRIBUTION_VALUES)


@pytest.fixture(scope="module")
def real(map_fit):
    """Every table of a tiny real fit (MAP, with lift tests)."""
    f = map_fit
    allocation = f.optimize_budget(by="channel", bounds=(0.8, 1.2))
    return {
        "fitted": (f.fitted(), t.FITTED),
        "fit_metrics": (f.fit_metrics(), t.FIT_METRICS),
        "contributions by geo and time": (f.contributions(), t.CONTRIBUTIONS_BY_GEO_TIME),
        "contributions total": (f.contributions(by=[]), t.CONTRIBUTIONS_TOTAL),
        "contributions by time": (f.contributions(by="time"), t.contributions_columns("time")),
        "roi by geo": (f.roi(by="geo"), t.ROI_BY_GEO),
        "roi by channel": (f.roi(by="channel"), t.ROI_BY_CHANNEL),
        "marginal roi by geo": (f.marginal_roi(by="geo"), t.MARGINAL_ROI_BY_GEO),
        "marginal roi by channel": (f.marginal_roi(by="channel"), t.MARGINAL_ROI_BY_CHANNEL),
        "response_curves": (f.response_curves(), t.RESPONSE_CURVES),
        "adstock_decay": (f.adstock_decay(), t.ADSTOCK_DECAY),
        "effectiveness (static fit: empty)": (f.effectiveness(), t.EFFECTIVENESS),
        "lift_test_check": (f.lift_test_check(), t.LIFT_TEST_CHECK),
        "prior_posterior": (f.prior_posterior(draws=50), t.PRIOR_POSTERIOR),
        "summary": (f.summary(), t.SUMMARY),
        "scenario": (f.scenario({"tv": 1.1}), t.SCENARIO),
        "prediction": (f.predict(f.panel), t.PREDICTION),
        "allocation": (allocation.table, t.ALLOCATION),
        "allocation summary": (list(allocation.summary), t.ALLOCATION_SUMMARY),
        "diagnostics": (list(f.diagnostics().to_dict()), t.DIAGNOSTICS),
    }


def test_real_fit_tables_have_exactly_the_contract_columns(real):
    wrong = {}
    for name, (table, columns) in real.items():
        got = table if isinstance(table, list) else table.columns
        if got != list(columns):
            wrong[name] = got
    assert not wrong, f"tables off their contract in geommm.analysis.tables: {wrong}"
    assert real["lift_test_check"][0].height > 0  # the check ran on real tests, not the empty table


def test_national_rows_use_the_shared_label(real):
    for name in ("adstock_decay", "response_curves", "fit_metrics"):
        assert t.NATIONAL in set(real[name][0]["geo"]), name
    assert set(real["allocation"][0]["geo"]) == {t.NATIONAL}


def test_diagnostics_fields_are_the_contract():
    assert [f.name for f in dataclasses.fields(Diagnostics)] == list(t.DIAGNOSTICS)
