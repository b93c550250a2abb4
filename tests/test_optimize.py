"""Budget optimiser: better than any random plan, feasible, honest about what it cannot do.

The posterior is stood in for by draws scattered around a simulated truth, so the
tests need no model fit and run in seconds; the optimiser only ever sees a
ForwardModel, exactly as it does behind ``fit.optimize_budget``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from geommm.analysis.optimize.allocation import Allocation, planning_units
from geommm.analysis.tables import ALLOCATION
from geommm.analysis.forward import ForwardModel
from geommm.analysis.optimize import BudgetProblem, Objective, optimize_budget
from geommm.analysis.roi import incremental_kpi
from geommm.errors import OptimizationError

N_DRAWS = 120


def _draws_around_truth(truth, n_draws: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    G, C = truth.alpha.shape
    logit = np.log(truth.alpha) - np.log1p(-truth.alpha)
    spread = lambda x, sd: x * np.exp(sd * rng.standard_normal((n_draws, *np.shape(x))))  # noqa: E731
    return {
        "retention": 1 / (1 + np.exp(-(logit + 0.2 * rng.standard_normal((n_draws, G, C))))),
        "half_saturation": spread(truth.half_saturation, 0.15),
        "slope": spread(truth.slope, 0.1),
        "media_effect": spread(truth.beta, 0.25),
        "baseline_geo": np.tile(truth.intercept, (n_draws, 1)),
        "noise_sd": np.tile(truth.noise_sd, (n_draws, 1)),
    }


@pytest.fixture(scope="module")
def forward(tiny_panel, tiny_mmm) -> ForwardModel:
    panel = {"n_geos": 4, "n_weeks": 52, "n_channels": 3, "seed": 3, "n_lift_tests": 0}
    model, truth = tiny_mmm(**panel), tiny_panel(**panel).truth
    return ForwardModel(model.spec, model.data, _draws_around_truth(truth, N_DRAWS))


@pytest.fixture(scope="module")
def per_geo(forward) -> Allocation:
    return optimize_budget(forward, by="geo", bounds=(0.5, 1.5))


def _mean_kpi(forward: ForwardModel, multipliers: np.ndarray) -> float:
    """Posterior-mean total incremental KPI the slow way (ForwardModel, not the optimiser)."""
    return float(incremental_kpi(forward, multipliers[:, None, :]).sum(axis=(1, 2)).mean())


def _random_feasible(rng, current: np.ndarray, lo: float, hi: float, budget: float) -> np.ndarray:
    """Multipliers in [lo, hi] whose spend adds up to ``budget`` (rejection of the rare misses)."""
    while True:
        m = rng.uniform(lo, hi, current.shape)
        for _ in range(50):
            gap = budget - float((m * current).sum())
            room = (hi - m) if gap > 0 else (m - lo)
            m = np.clip(
                m + np.sign(gap) * room * min(1.0, abs(gap) / float((room * current).sum())), lo, hi
            )
        if abs(float((m * current).sum()) - budget) <= 1e-9 * budget:
            return m


def _multipliers(allocation: Allocation, forward: ForwardModel) -> np.ndarray:
    t = allocation.table
    if allocation.by == "channel":
        ratio = (t["optimal_spend"] / t["current_spend"]).to_numpy()
        return np.tile(ratio, (forward.data.n_geos, 1))
    ratio = (t["optimal_spend"] / t["current_spend"]).to_numpy()
    return ratio.reshape(forward.data.n_geos, forward.data.n_channels)


# --------------------------------------------------------------------- optimality
@pytest.mark.parametrize("by", ["geo", "channel"])
def test_optimum_beats_random_feasible_allocations(forward, per_geo, by):
    alloc = per_geo if by == "geo" else optimize_budget(forward, by="channel", bounds=(0.5, 1.5))
    best = _mean_kpi(forward, _multipliers(alloc, forward))
    assert best == pytest.approx(alloc.summary["optimal_kpi_mean"], rel=1e-4)
    spend = forward.data.spend.sum(axis=1)
    current = spend if by == "geo" else spend.sum(axis=0)
    budget = float(current.sum())
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = _random_feasible(rng, current, 0.5, 1.5, budget)
        m = m if by == "geo" else np.tile(m, (forward.data.n_geos, 1))
        assert _mean_kpi(forward, m) <= best * (1 + 1e-9)
    assert alloc.summary["expected_lift_mean"] > 0


def test_optimum_respects_bounds_and_budget(forward):
    budget = 1.1 * float(forward.data.spend.sum())
    alloc = optimize_budget(forward, budget, by="geo", bounds=(0.7, 1.4))
    t = alloc.table
    assert t["optimal_spend"].sum() == pytest.approx(budget, rel=1e-6)
    assert (t["optimal_spend"] >= t["lower_spend"] * (1 - 1e-9)).all()
    assert (t["optimal_spend"] <= t["upper_spend"] * (1 + 1e-9)).all()
    np.testing.assert_allclose(t["lower_spend"], 0.7 * t["current_spend"].to_numpy())
    assert alloc.summary["budget"] == pytest.approx(budget)


def test_bounds_one_one_return_the_current_plan(forward):
    alloc = optimize_budget(forward, by="geo", bounds=(1, 1))
    t = alloc.table
    np.testing.assert_allclose(t["optimal_spend"], t["current_spend"], rtol=1e-12)
    assert alloc.summary["expected_lift_mean"] == pytest.approx(0.0, abs=1e-6)


def test_table_bounds_relative_and_absolute(forward):
    data = forward.data
    tv_geo0 = float(data.spend[0, :, 0].sum())
    bounds = pl.DataFrame(
        {
            "geo": [None, None, None, data.geos[0]],
            "channel": list(data.channels) + [data.channels[0]],
            "lower": [0.9, 0.6, 0.6, 0.5 * tv_geo0],
            "upper": [1.1, 1.6, 1.6, 0.6 * tv_geo0],
            "kind": ["relative"] * 3 + ["absolute"],
        }
    )
    alloc = optimize_budget(forward, by="geo", bounds=bounds)
    t = alloc.table
    cell = t.filter((pl.col("geo") == data.geos[0]) & (pl.col("channel") == data.channels[0]))
    assert 0.5 * tv_geo0 * (1 - 1e-9) <= cell["optimal_spend"][0] <= 0.6 * tv_geo0 * (1 + 1e-9)
    tv_other = t.filter((pl.col("geo") != data.geos[0]) & (pl.col("channel") == data.channels[0]))
    ratio = tv_other["optimal_spend"] / tv_other["current_spend"]
    assert ((ratio >= 0.9 - 1e-9) & (ratio <= 1.1 + 1e-9)).all()
    assert t["optimal_spend"].sum() == pytest.approx(t["current_spend"].sum(), rel=1e-6)


def test_fixed_cells_stay_at_current_spend(forward):
    data = forward.data
    alloc = optimize_budget(
        forward,
        by="geo",
        bounds=(0.5, 1.5),
        fixed=[data.channels[1], (data.geos[2], data.channels[0])],
    )
    t = alloc.table
    held = t.filter(
        (pl.col("channel") == data.channels[1])
        | ((pl.col("geo") == data.geos[2]) & (pl.col("channel") == data.channels[0]))
    )
    assert held.height == data.n_geos + 1
    np.testing.assert_allclose(held["optimal_spend"], held["current_spend"], rtol=1e-12)
    assert held["note"].str.contains("held").all()


def test_planning_weeks_use_the_last_weeks(forward):
    alloc = optimize_budget(forward, by="channel", weeks=13)
    expected = forward.data.spend[:, -13:, :].sum(axis=(0, 1))
    np.testing.assert_allclose(alloc.table["current_spend"], expected)
    assert alloc.summary["weeks"] == 13
    assert alloc.table["optimal_spend"].sum() == pytest.approx(expected.sum(), rel=1e-6)


# ---------------------------------------------------------------------- mistakes
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bounds": (1.2, 0.8)}, "lower 1.2 is above upper 0.8"),
        ({"bounds": (-0.1, 1.2)}, "negative"),
        ({"budget": 1e15}, "feasible budget range"),
        ({"budget": 1.0}, "feasible budget range"),
        ({"budget": -5.0}, ">= 0"),
        ({"by": "region"}, "by='region'"),
        ({"weeks": 0}, "weeks=0"),
        ({"objective": "max"}, "objective='max'"),
        ({"fixed": ["radio"]}, "unknown channel 'radio'"),
        (
            {"bounds": pl.DataFrame({"channel": ["tv"], "lower": [0.9]})},
            "lacks column(s) ['upper']",
        ),
        (
            {
                "bounds": pl.DataFrame(
                    {"geo": ["geo_00"], "channel": ["tv"], "lower": [0.9], "upper": [1.1]}
                ),
                "by": "channel",
            },
            "by='geo'",
        ),
        (
            {
                "bounds": pl.DataFrame(
                    {"channel": ["tv"], "lower": [0.9], "upper": [1.1], "kind": ["share"]}
                )
            },
            "kind 'share'",
        ),
    ],
)
def test_mistakes_raise_optimization_error(forward, kwargs, message):
    with pytest.raises(OptimizationError, match=_literal(message)):
        optimize_budget(forward, **kwargs)


def _literal(text: str) -> str:
    import re

    return re.escape(text)


def test_budget_error_states_the_feasible_range(forward):
    total = float(forward.data.spend.sum())
    with pytest.raises(OptimizationError) as err:
        optimize_budget(forward, 2 * total, by="channel", bounds=(0.8, 1.2))
    assert f"{0.8 * total:,.2f}" in str(err.value) and f"{1.2 * total:,.2f}" in str(err.value)


# ------------------------------------------------------------- zero-spend cells
@pytest.fixture(scope="module")
def forward_with_dark_cell(forward) -> ForwardModel:
    """geo 1 never bought channel 2."""
    data = forward.data
    media, spend = data.media_input.copy(), data.spend.copy()
    media[1, :, 2] = 0.0
    spend[1, :, 2] = 0.0
    return ForwardModel(
        forward.spec, dataclasses.replace(data, media_input=media, spend=spend), forward.draws
    )


def _no_nan(table: pl.DataFrame) -> bool:
    floats = [c for c, t in table.schema.items() if t == pl.Float64]
    return not any(table[c].is_nan().any() for c in floats)


def test_zero_spend_cells_stay_at_zero_with_a_note(forward_with_dark_cell):
    fw = forward_with_dark_cell
    alloc = optimize_budget(fw, by="geo", bounds=(0.5, 1.5))
    t = alloc.table
    dark = t.filter((pl.col("geo") == fw.data.geos[1]) & (pl.col("channel") == fw.data.channels[2]))
    assert dark["optimal_spend"][0] == 0.0 and dark["change_pct"][0] is None
    assert "kept at 0" in dark["note"][0]
    assert _no_nan(t) and all(
        np.isfinite(v) for v in alloc.summary.values() if isinstance(v, float)
    )
    assert t["optimal_spend"].sum() == pytest.approx(t["current_spend"].sum(), rel=1e-6)
    national = optimize_budget(fw, by="channel", bounds=(0.5, 1.5))
    assert "not bought in 1 geo(s)" in national.table["note"][2]
    assert _no_nan(national.table)


def test_absolute_bounds_open_a_zero_spend_cell(forward_with_dark_cell):
    fw = forward_with_dark_cell
    geo, channel = fw.data.geos[1], fw.data.channels[2]
    bounds = pl.DataFrame(
        {
            "geo": [None, None, None, geo],
            "channel": [*fw.data.channels, channel],
            "lower": [0.8, 0.8, 0.8, 0.0],
            "upper": [1.2, 1.2, 1.2, 50_000.0],
            "kind": ["relative"] * 3 + ["absolute"],
        }
    )
    alloc = optimize_budget(fw, by="geo", bounds=bounds)
    cell = alloc.table.filter((pl.col("geo") == geo) & (pl.col("channel") == channel))
    assert 0.0 <= cell["optimal_spend"][0] <= 50_000.0 * (1 + 1e-9)
    assert "spread evenly" in cell["note"][0]
    assert _no_nan(alloc.table)


# ------------------------------------------------------------ other objectives
def test_risk_adjusted_plan_is_feasible_and_guards_the_downside(forward, per_geo):
    alloc = optimize_budget(
        forward, by="geo", bounds=(0.5, 1.5), objective="risk_adjusted", risk_quantile=0.1
    )
    s = alloc.summary
    assert alloc.table["optimal_spend"].sum() == pytest.approx(s["budget"], rel=1e-6)
    assert s["optimal_kpi_quantile"] >= s["current_kpi_quantile"]
    assert s["optimal_kpi_mean"] <= per_geo.summary["optimal_kpi_mean"] * (1 + 1e-6)


def test_target_marginal_roi_finds_the_largest_budget(forward):
    low = optimize_budget(forward, by="channel", bounds=(0.5, 2.0), target_marginal_roi=0.5)
    high = optimize_budget(forward, by="channel", bounds=(0.5, 2.0), target_marginal_roi=1.0)
    assert high.summary["budget"] < low.summary["budget"]
    for alloc, target in [(low, 0.5), (high, 1.0)]:
        s = alloc.summary
        assert s["marginal_roi"] == pytest.approx(target, rel=0.02)
        assert alloc.table["optimal_spend"].sum() == pytest.approx(s["budget"], rel=1e-6)
    with pytest.raises(OptimizationError, match="reaches a marginal ROI"):
        optimize_budget(forward, by="channel", bounds=(0.5, 2.0), target_marginal_roi=1e6)


# ------------------------------------------------------------------ internals
@pytest.mark.parametrize("kind", ["mean", "risk_adjusted"])
def test_objective_gradient_and_hessian_match_finite_differences(forward, kind):
    data = forward.data
    units = planning_units(
        data.geos, data.channels, data.spend.sum(axis=1), by="geo", bounds=(0.5, 1.5)
    )
    problem = BudgetProblem(forward, units, data.n_times, max_draws=None)
    objective = Objective(problem, kind, 0.1)
    v = np.random.default_rng(1).uniform(0.6, 1.4, units.n_units)
    value, grad, hess = objective.evaluate(v)
    hess = hess if hess.ndim == 2 else np.diag(hess)
    for u in (0, 4, 11):
        step = np.zeros_like(v)
        step[u] = 1e-5
        assert (objective.value(v + step) - objective.value(v - step)) / 2e-5 == pytest.approx(
            grad[u], rel=1e-4
        )
        g_plus, g_minus = objective.evaluate(v + step)[1], objective.evaluate(v - step)[1]
        np.testing.assert_allclose(
            (g_plus - g_minus) / 2e-5, hess[:, u], rtol=1e-3, atol=1e-6 * np.abs(hess).max()
        )


def test_allocation_repr_and_table_columns(per_geo):
    assert per_geo.table.columns == list(ALLOCATION)
    text = repr(per_geo)
    assert "Allocation(by='geo'" in text and "expected lift" in text
    for key in (
        "budget",
        "current_kpi_mean",
        "optimal_kpi_mean",
        "expected_lift_mean",
        "expected_lift_hdi_low",
        "expected_lift_hdi_high",
    ):
        assert np.isfinite(per_geo.summary[key])
    assert per_geo.summary["expected_lift_hdi_low"] <= per_geo.summary["expected_lift_mean"]


# ------------------------------------------------------------ national channels, weekly plan
def test_national_channel_keeps_its_geo_split_while_its_total_moves(forward):
    data = forward.data
    tv = data.channels[0]
    alloc = optimize_budget(forward, by="geo", bounds=(0.5, 1.5), national_channels=[tv])
    t = alloc.table
    national = t.filter(pl.col("geo") == "national")
    assert national["channel"].to_list() == [tv]
    assert national["note"][0].startswith("bought nationally")
    assert t.height == 1 + data.n_geos * (data.n_channels - 1)
    weekly = alloc.weekly_plan()
    by_geo = weekly.filter(pl.col("channel") == tv).group_by("geo").agg(
        pl.col("current_spend").sum(), pl.col("spend").sum()
    )
    now = by_geo["current_spend"] / by_geo["current_spend"].sum()
    new = by_geo["spend"] / by_geo["spend"].sum()
    np.testing.assert_allclose(new.to_numpy(), now.to_numpy(), rtol=0, atol=1e-9)
    assert by_geo["spend"].sum() == pytest.approx(national["optimal_spend"][0], rel=1e-9)


@pytest.mark.parametrize("kwargs", [{"by": "channel", "weeks": 13}, {"by": "geo"}])
def test_weekly_plan_adds_up_to_the_budget_and_the_table(forward, kwargs):
    alloc = optimize_budget(forward, bounds=(0.5, 1.5), **kwargs)
    weekly = alloc.weekly_plan()
    data = forward.data
    weeks = kwargs.get("weeks", data.n_times)
    assert weekly.columns == ["geo", "channel", "time", "current_spend", "spend"]
    assert weekly.height == data.n_geos * weeks * data.n_channels
    assert weekly["spend"].sum() == pytest.approx(alloc.summary["budget"], rel=1e-9)
    assert weekly["time"].n_unique() == weeks
    per_channel = weekly.group_by("channel").agg(pl.col("spend").sum())
    table = alloc.table.group_by("channel").agg(pl.col("optimal_spend").sum())
    joined = per_channel.join(table, on="channel")
    np.testing.assert_allclose(joined["spend"], joined["optimal_spend"], rtol=1e-9)
    if kwargs["by"] == "geo":
        cells = weekly.group_by("geo", "channel").agg(pl.col("spend").sum())
        joined = cells.join(alloc.table, on=["geo", "channel"])
        np.testing.assert_allclose(joined["spend"], joined["optimal_spend"], rtol=1e-9)
    # flighting keeps its shape: each cell's weeks scale by one factor
    ratio = weekly.filter(pl.col("current_spend") > 0).with_columns(
        (pl.col("spend") / pl.col("current_spend")).alias("r")
    ).group_by("geo", "channel").agg((pl.col("r").max() - pl.col("r").min()).alias("spread"))
    assert ratio["spread"].max() < 1e-9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "channel", "national_channels": ["tv"]}, "needs by='geo'"),
        ({"by": "geo", "national_channels": ["radio"]}, "radio"),
    ],
)
def test_national_channel_mistakes(forward, kwargs, message):
    with pytest.raises(OptimizationError, match=message):
        optimize_budget(forward, **kwargs)


# ------------------------------------------------------------------ move probability
def _forward_with_spread(tiny_panel, tiny_mmm, effect_sd: float) -> ForwardModel:
    panel = {"n_geos": 4, "n_weeks": 52, "n_channels": 3, "seed": 3, "n_lift_tests": 0}
    model, truth = tiny_mmm(**panel), tiny_panel(**panel).truth
    draws = _draws_around_truth(truth, N_DRAWS)
    if effect_sd == 0:
        draws = {k: np.repeat(np.asarray(v)[:1], N_DRAWS, axis=0) for k, v in draws.items()}
        draws["media_effect"] = np.tile(truth.beta, (N_DRAWS, 1, 1))
    else:
        rng = np.random.default_rng(11)
        draws["media_effect"] = truth.beta * np.exp(effect_sd * rng.standard_normal((N_DRAWS, *truth.beta.shape)))
    return ForwardModel(model.spec, model.data, draws)


def test_a_certain_posterior_makes_every_move_certain(tiny_panel, tiny_mmm):
    # one point: every unit that moves does so because its next dollar beats the plan's
    allocation = optimize_budget(_forward_with_spread(tiny_panel, tiny_mmm, 0.0), by="geo", bounds=(0.5, 1.5))
    moved = allocation.table.filter(pl.col("change").abs() > 1e-3 * pl.col("current_spend"))
    assert moved.height >= 3
    assert moved["move_probability"].to_list() == pytest.approx([1.0] * moved.height)
    still = allocation.table.filter(pl.col("change") == 0)
    assert still["move_probability"].null_count() == still.height


def test_uncertain_effects_leave_moves_within_their_own_uncertainty(tiny_panel, tiny_mmm):
    tight = optimize_budget(_forward_with_spread(tiny_panel, tiny_mmm, 0.1), by="geo", bounds=(0.5, 1.5))
    loose = optimize_budget(_forward_with_spread(tiny_panel, tiny_mmm, 1.5), by="geo", bounds=(0.5, 1.5))
    p_tight = tight.table["move_probability"].drop_nulls()
    p_loose = loose.table["move_probability"].drop_nulls()
    assert ((p_loose >= 0) & (p_loose <= 1)).all()
    assert p_tight.mean() > p_loose.mean() + 0.15
    uncertain = loose.table.filter(pl.col("move_probability") < 0.8)
    assert uncertain.height > 0
    assert uncertain["note"].str.contains("within its own uncertainty").all()
    assert "P(right direction)" in repr(loose)


def test_an_allocation_csv_written_before_move_probability_still_reads(tmp_path, per_geo):
    from geommm.cli.plan import read_allocation

    per_geo.table.drop("move_probability").write_csv(tmp_path / "allocation_geo.csv")
    saved = read_allocation(tmp_path)
    assert list(saved.table.columns) == list(ALLOCATION)
    assert saved.table["move_probability"].null_count() == saved.table.height
