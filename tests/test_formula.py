"""Formula strings -> ModelSpec, and the FormulaError a typo gets."""

from __future__ import annotations

import pytest

from geommm.errors import FormulaError
from geommm.formula import parse_formula

COLUMNS = ["revenue", "price_index", "promo", "region", "tv_impressions", "tv_spend", "search_spend", "geo", "week"]
FULL = (
    "revenue ~ price_index + promo + C(region) + fourier(52, 2) + trend() + (1 | geo)"
    " + (price_index | geo) + media(tv_impressions, spend=tv_spend, name='tv')"
    " + media(search_spend, name='search', adstock='delayed', saturation='logistic', max_lag=6)"
)


def test_full_formula_parses_every_term():
    spec = parse_formula(FULL, COLUMNS)
    assert spec.response == "revenue"
    assert spec.controls == ("price_index", "promo", "C(region)")
    assert spec.geo_varying == ("price_index",)
    assert spec.geo_intercept
    assert spec.trend is not None
    assert [(f.period, f.order) for f in spec.fourier] == [(52.0, 2)]
    tv, search = spec.media
    assert (tv.input, tv.spend, tv.name, tv.adstock, tv.saturation) == (
        "tv_impressions", "tv_spend", "tv", "geometric", "hill")
    assert (search.input, search.spend, search.adstock, search.saturation, search.max_lag) == (
        "search_spend", "search_spend", "delayed", "logistic", 6)


def test_spec_round_trips_through_dict():
    from geommm.formula import ModelSpec

    spec = parse_formula(FULL, COLUMNS)
    assert ModelSpec.from_dict(spec.to_dict()) == spec


def test_default_media_name_strips_suffix():
    spec = parse_formula("revenue ~ media(tv_spend)", COLUMNS)
    assert spec.channels == ("tv",)
    assert not spec.geo_intercept


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "formula, fragment",
    [
        ("revenue ~ price_indx + media(tv_spend)", "price_indx"),
        ("revenue ~ media(tv_spnd)", "tv_spnd"),
        ("revenue ~ media(tv_spend, spend=tv_cost)", "tv_cost"),
        ("revenue ~ media(tv_spend, colour='red')", "colour"),
        ("revenue ~ media(tv_spend, adstock='exponential')", "exponential"),
        ("revenue ~ media(tv_spend, saturation='sigmoid')", "sigmoid"),
        ("revenue ~ media(tv_spend, max_lag=0)", "max_lag"),
        ("revenue ~ foo(price_index) + media(tv_spend)", "foo"),
        ("revenue ~ (1 | region) + media(tv_spend)", "region"),
        ("revenue ~ price_index", "media"),
        ("revenue ~ media(tv_spend) + media(tv_impressions, name='tv')", "tv"),
        ("revenue ~ fourier(52, 2, 3) + media(tv_spend)", "fourier"),
        ("revenue ~ trend(3) + media(tv_spend)", "trend"),
        ("revenue ~ (1 |", "parse"),
        ("price_index + media(tv_spend)", "~"),
        ("sales ~ media(tv_spend)", "sales"),
    ],
)
def test_bad_formula_names_the_offending_token(formula, fragment):
    with pytest.raises(FormulaError, match=fragment):
        parse_formula(formula, COLUMNS)


@pytest.mark.bad_input
def test_typo_gets_a_suggestion():
    with pytest.raises(FormulaError, match="did you mean 'price_index'"):
        parse_formula("revenue ~ price_idx + media(tv_spend)", COLUMNS)
