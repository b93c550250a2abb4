"""The simulator is the yardstick of every recovery test, so its truth is checked here
against brute-force re-implementations (plain Python loops, no geommm maths)."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
import pytest

import geommm.sim as sim
from geommm.errors import DataError

LOG_FLOOR = 1e-9  # the model's Hill curve adds this before taking logs; part of the definition


@pytest.fixture(scope="module")
def small() -> sim.SimulatedPanel:
    return sim.simulate(n_geos=5, n_weeks=60, n_channels=4, seed=11)


@pytest.fixture(scope="module")
def default() -> sim.SimulatedPanel:
    return sim.simulate(seed=0)


# ------------------------------------------------------------------ brute force helpers
def _series(panel: pl.DataFrame, geo: str, column: str) -> list[float]:
    return panel.filter(pl.col("geo") == geo).sort("week")[column].to_list()


def _scale(x: list[float]) -> float:
    active = [v for v in x if v > 0]
    return sum(active) / len(active) if active else 1.0


def _response(x: list[float], m: float, alpha: float, k: float, n: float, lags: int,
              horizon: int) -> list[float]:
    """hill(adstock(x / m)) week by week, weeks outside the panel counting as zero spend."""
    norm = sum(alpha**lag for lag in range(lags))
    out = []
    for t in range(horizon):
        a = sum(alpha**lag / norm * x[t - lag] / m for lag in range(lags) if 0 <= t - lag < len(x))
        a += LOG_FLOOR
        out.append(a**n / (a**n + k**n))
    return out


def _brute_roi(result: sim.SimulatedPanel, factor_low: float, factor_high: float):
    """(geo, channel) -> (incremental KPI, spend) with a Python loop over geos and weeks."""
    truth, panel = result.truth, result.panel
    out = {}
    for g, geo in enumerate(truth.geos):
        for c, ch in enumerate(truth.channels):
            x = _series(panel, geo, truth.channel_inputs[ch])
            spend = sum(_series(panel, geo, truth.channel_spend[ch]))
            m = _scale(x)
            args = (m, truth.alpha[g, c], truth.half_saturation[g, c], truth.slope[c],
                    truth.max_lag, len(x) + truth.max_lag - 1)
            hi = _response([v * factor_high for v in x], *args)
            lo = _response([v * factor_low for v in x], *args)
            gain = truth.kpi_scale[g] * truth.beta[g, c] * sum(h - l for h, l in zip(hi, lo))
            out[geo, ch] = (gain, spend * (factor_high - factor_low))
    return out


def _close(a: float, b: float, rel: float = 1e-8) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=0.0)


def _assert_same(a: sim.SimulatedPanel, b: sim.SimulatedPanel, rel: float = 0.0) -> None:
    """Same panel, lift tests, formula and truth; ``rel`` > 0: floats agree to that
    relative tolerance instead of bit for bit (a panel regenerated on another CPU can
    differ in the last bit: numpy's vectorised exp and sin are not bit-identical across
    instruction sets)."""

    def same_frame(x: pl.DataFrame, y: pl.DataFrame, name: str) -> None:
        if rel == 0:
            assert x.equals(y), name
            return
        assert x.schema == y.schema and x.height == y.height, name
        for col in x.columns:
            if x[col].dtype.is_float():
                np.testing.assert_allclose(x[col].to_numpy(), y[col].to_numpy(), rtol=rel, atol=0.0,
                                           err_msg=f"{name}.{col}")
            else:
                assert x[col].equals(y[col]), f"{name}.{col}"

    def same_array(x, y, name: str) -> None:
        if rel > 0:
            np.testing.assert_allclose(x, y, rtol=rel, atol=0.0, err_msg=name)
        else:
            np.testing.assert_array_equal(x, y, err_msg=name)

    same_frame(a.panel, b.panel, "panel")
    same_frame(a.lift_tests, b.lift_tests, "lift_tests")
    assert a.formula == b.formula
    for name, value in vars(a.truth).items():
        other = getattr(b.truth, name)
        if isinstance(value, pl.DataFrame):
            same_frame(value, other, name)
        elif isinstance(value, np.ndarray):
            same_array(value, other, name)
        elif name == "control_coef":
            assert value.keys() == other.keys()
            for k in value:
                same_array(value[k], other[k], f"{name}[{k}]")
        elif rel > 0 and isinstance(value, float):
            assert _close(value, other, rel), name
        else:
            assert value == other, name


# ------------------------------------------------------------------------- basics
def test_deterministic_by_seed():
    a = sim.simulate(n_geos=3, n_weeks=40, seed=5)
    _assert_same(a, sim.simulate(n_geos=3, n_weeks=40, seed=5))
    c = sim.simulate(n_geos=3, n_weeks=40, seed=6)
    assert not a.panel.equals(c.panel)
    assert not np.array_equal(a.truth.beta, c.truth.beta)


def test_shapes_and_columns(default):
    panel, truth = default.panel, default.truth
    assert panel.columns == [
        "geo", "week", "revenue", "price_index", "promo", "population",
        "tv_impressions", "tv_spend", "search_spend", "social_spend", "display_spend",
    ]
    assert panel.height == 10 * 104
    assert panel.schema["week"] == pl.Date and panel.schema["geo"] == pl.String
    weeks = panel["week"].unique().sort()
    assert weeks[0] == dt.date(2022, 1, 3) and weeks.len() == 104
    assert set(weeks.diff().drop_nulls().to_list()) == {dt.timedelta(days=7)}
    assert all(w.weekday() == 0 for w in weeks)
    assert sorted(panel["geo"].unique()) == [f"geo_{g:02d}" for g in range(10)]
    assert panel.group_by("geo").agg(pl.col("population").n_unique())["population"].max() == 1
    assert set(panel["promo"].unique()) == {0, 1}

    assert truth.channels == ["tv", "search", "social", "display"]
    assert truth.channel_inputs["tv"] == "tv_impressions"
    assert truth.channel_inputs["search"] == "search_spend"
    for name in ("media_scale", "alpha", "half_saturation", "beta"):
        assert getattr(truth, name).shape == (10, 4), name
    assert truth.slope.shape == (4,) and truth.kpi_scale.shape == (10,)
    assert (truth.slope < 1).any() and (truth.slope >= 1).any()
    assert truth.roi.columns == ["geo", "channel", "spend", "roi"]
    assert truth.roi_national.columns == ["channel", "spend", "roi"]
    assert truth.marginal_roi.columns == ["geo", "channel", "spend", "marginal_roi"]
    assert truth.marginal_roi_national.columns == ["channel", "spend", "marginal_roi"]
    assert truth.contributions.columns == ["geo", "week", "channel", "contribution"]
    assert truth.contributions.height == 10 * 104 * 4

    lifts = default.lift_tests
    assert lifts.columns == ["test_id", "channel", "geos", "start", "end", "measure_end",
                             "spend_delta", "lift", "lift_se", "true_lift"]
    assert lifts.height == 4
    assert all(lifts.schema[c] == pl.Date for c in ("start", "end", "measure_end"))

    for ch in truth.channels:
        assert f"name='{ch}'" in default.formula
    assert "media(tv_impressions, spend=tv_spend, name='tv')" in default.formula
    assert default.formula.startswith("revenue ~ price_index + promo + fourier(")


def test_spend_is_flighted_non_negative_and_collinear(default):
    panel, truth = default.panel, default.truth
    media = [truth.channel_spend[c] for c in truth.channels] + ["tv_impressions"]
    assert panel.select(pl.min_horizontal(media).min()).item() >= 0
    assert (panel["tv_impressions"] == 0).equals(panel["tv_spend"] == 0)

    longest = 0
    for geo in truth.geos:
        for ch in truth.channels:
            run = 0
            for v in _series(panel, geo, truth.channel_spend[ch]):
                run = run + 1 if v == 0 else 0
                longest = max(longest, run)
    assert longest >= 8  # long dark stretches

    totals = panel.group_by(pl.col("geo")).agg(
        [pl.col(truth.channel_spend[c]).mean() for c in truth.channels]
    ).drop("geo").sum().row(0)
    assert max(totals) / min(totals) > 5  # magnitudes differ, with a small channel

    national = panel.group_by("week").agg(pl.col("tv_spend", "search_spend").sum())
    assert np.corrcoef(national["tv_spend"], national["search_spend"])[0, 1] > 0.6
    loose = sim.simulate(seed=0, collinear=False).panel.group_by("week").agg(
        pl.col("tv_spend", "search_spend").sum()
    )
    assert abs(np.corrcoef(loose["tv_spend"], loose["search_spend"])[0, 1]) < 0.5


def test_scales_and_revenue_follow_the_model(default):
    panel, truth = default.panel, default.truth
    weeks = panel["week"].unique().sort()
    t = np.arange(weeks.len(), dtype="float64")
    angle = 2 * np.pi * t / truth.season_period
    fourier = np.stack([np.sin(angle), np.cos(angle), np.sin(2 * angle), np.cos(2 * angle)])
    for g, geo in enumerate(truth.geos):
        rows = panel.filter(pl.col("geo") == geo).sort("week")
        for c, ch in enumerate(truth.channels):
            x = rows[truth.channel_inputs[ch]].to_list()
            assert _close(_scale(x), truth.media_scale[g, c], 1e-12)
        y = rows["revenue"].to_numpy() / truth.kpi_scale[g]
        media = (
            truth.contributions.filter(pl.col("geo") == geo)
            .group_by("week").agg(pl.col("contribution").sum()).sort("week")["contribution"]
            .to_numpy() / truth.kpi_scale[g]
        )
        mean = (truth.intercept[g] + truth.season_coef[g] @ fourier
                + truth.trend_slope[g] * (t - t.mean()) / truth.season_period
                + truth.control_coef["price_index"][g] * rows["price_index"].to_numpy()
                + truth.control_coef["promo"][g] * rows["promo"].to_numpy() + media)
        resid = y - mean
        assert abs(mean.mean() - 1.0) < 1e-9  # noise-free mean KPI = s_g
        assert 0.7 < resid.std() / truth.noise_sd[g] < 1.3
    assert 0.15 <= truth.media_share.sum() <= 0.35
    assert truth.kpi_scale.max() / truth.kpi_scale.min() == pytest.approx(10, rel=0.01)


# ---------------------------------------------------------------------------- truth
def test_true_roi_matches_brute_force(small):
    truth = small.truth
    brute = _brute_roi(small, 0.0, 1.0)
    for geo, ch, roi in truth.roi.select("geo", "channel", "roi").iter_rows():
        gain, spend = brute[geo, ch]
        assert _close(roi, gain / spend), (geo, ch)
    for ch, spend, roi in truth.roi_national.iter_rows():
        gain = sum(brute[geo, ch][0] for geo in truth.geos)
        total = sum(brute[geo, ch][1] for geo in truth.geos)
        assert _close(spend, total, 1e-12) and _close(roi, gain / total), ch


def test_marginal_roi_matches_brute_force_and_is_below_roi(small, default):
    brute = _brute_roi(small, 1.0, 1.01)
    table = small.truth.marginal_roi.select("geo", "channel", "marginal_roi")
    for geo, ch, mroi in table.iter_rows():
        gain, spend = brute[geo, ch]
        assert _close(mroi, gain / spend, 1e-7), (geo, ch)
    for result in (small, default):
        truth = result.truth
        both = truth.roi.join(truth.marginal_roi, on=["geo", "channel"])
        steep = [c for c, n in zip(truth.channels, truth.slope) if n >= 1]
        both = both.filter(pl.col("channel").is_in(steep))
        assert (both["marginal_roi"] < both["roi"]).all()
        nat = truth.roi_national.join(truth.marginal_roi_national, on="channel")
        assert (nat["marginal_roi"] < nat["roi"]).all()


def test_true_roi_function_reuses_truth(small):
    truth, panel = small.truth, small.panel.sort("geo", "week")
    cube = lambda cols: np.stack(  # noqa: E731
        [panel[c].to_numpy().reshape(len(truth.geos), -1) for c in cols], axis=-1)
    inputs = cube([truth.channel_inputs[c] for c in truth.channels])
    spend = cube([truth.channel_spend[c] for c in truth.channels])
    np.testing.assert_allclose(sim.media_scale(inputs), truth.media_scale, rtol=1e-14)
    roi = sim.true_roi(inputs, spend, truth.media_params)
    np.testing.assert_allclose(roi.ravel(), truth.roi["roi"].to_numpy(), rtol=1e-12)
    national = sim.true_roi(inputs, spend, truth.media_params, national=True)
    np.testing.assert_allclose(national, truth.roi_national["roi"].to_numpy(), rtol=1e-12)


@pytest.mark.parametrize("kind", ["heavy_up", "go_dark"])
def test_true_lift_matches_brute_force(default, kind):
    truth, panel = default.truth, default.panel
    lifts = default.lift_tests
    up = pl.col("spend_delta") > 0
    row = lifts.filter(up if kind == "heavy_up" else ~up).row(0, named=True)
    c = truth.channels.index(row["channel"])
    assert row["measure_end"] == row["end"] + dt.timedelta(weeks=4)
    bau = truth.lift_bau.filter(pl.col("test_id") == row["test_id"])
    weeks = panel["week"].unique().sort().to_list()
    first, last = weeks.index(row["start"]), weeks.index(row["measure_end"])
    total_lift, total_delta = 0.0, 0.0
    for geo in row["geos"].split(";"):
        g = truth.geos.index(geo)
        actual = _series(panel, geo, truth.channel_inputs[row["channel"]])
        spend = _series(panel, geo, truth.channel_spend[row["channel"]])
        base_x, base_spend = list(actual), list(spend)
        cells = bau.filter(pl.col("geo") == geo).select("week", "spend", "input")
        assert cells.height > 0
        for week, s, x in cells.iter_rows():
            i = weeks.index(week)
            base_x[i], base_spend[i] = x, s
            assert row["start"] <= week <= row["end"]
            if kind == "go_dark":
                assert spend[i] == 0.0
        m = _scale(actual)  # the model's scale comes from the actual panel
        args = (m, truth.alpha[g, c], truth.half_saturation[g, c], truth.slope[c],
                truth.max_lag, len(actual))
        with_test, without = _response(actual, *args), _response(base_x, *args)
        total_lift += truth.kpi_scale[g] * truth.beta[g, c] * sum(
            with_test[t] - without[t] for t in range(first, last + 1))
        total_delta += sum(spend) - sum(base_spend)
    assert _close(row["true_lift"], total_lift, 1e-8)
    assert _close(row["spend_delta"], total_delta, 1e-9)
    assert (row["spend_delta"] > 0) == (kind == "heavy_up") == (row["true_lift"] > 0)
    assert row["lift_se"] == pytest.approx(0.15 * abs(row["true_lift"]))


def test_lift_tests_cover_kinds_cells_and_channels(default):
    lifts = default.lift_tests
    n_geos = lifts["geos"].str.split(";").list.len()
    assert (n_geos == 1).any() and (n_geos > 1).any()
    assert (lifts["spend_delta"] > 0).any() and (lifts["spend_delta"] < 0).any()
    assert lifts["channel"].n_unique() >= 3
    assert lifts["test_id"].n_unique() == lifts.height
    last_week = default.panel["week"].max()
    assert (lifts["measure_end"] <= last_week).all()


# ------------------------------------------------------------------ io, demo, options
def test_save_load_round_trip(small, tmp_path):
    small.save(tmp_path / "sim")
    again = sim.load(tmp_path / "sim")
    _assert_same(small, again)
    assert again.settings == small.settings


def test_demo_matches_regenerator():
    from geommm.demo import load_demo
    from geommm.demo.make_demo import DEMO_SETTINGS, build_demo

    demo = load_demo()
    _assert_same(demo, build_demo(), rel=1e-12)  # the file was written on another CPU
    assert demo.settings == DEMO_SETTINGS
    from importlib import resources

    size = sum(f.stat().st_size for f in resources.files("geommm.demo").iterdir()
               if f.name.endswith((".parquet", ".csv", ".json")))
    assert size < 500_000


def test_options_and_bad_settings():
    plain = sim.simulate(n_geos=2, n_weeks=30, n_channels=1, seed=1, trend=False,
                         seasonality=False, n_lift_tests=0, max_lag=4)
    assert "fourier" not in plain.formula and "trend()" not in plain.formula
    assert "max_lag=4" in plain.formula
    assert plain.lift_tests.height == 0 and plain.truth.lift_bau.height == 0
    assert not plain.truth.season_coef.any() and not plain.truth.trend_slope.any()
    wide = sim.simulate(n_geos=3, n_weeks=40, n_channels=10, seed=2, n_lift_tests=2)
    assert wide.truth.channels[-1] == "channel_09" and "channel_09_spend" in wide.panel.columns
    with pytest.raises(DataError, match="n_geos"):
        sim.simulate(n_geos=0)
    with pytest.raises(DataError, match="lift tests"):
        sim.simulate(n_weeks=10, n_lift_tests=2)


_G = ["geo_00", "geo_01", "geo_02", "geo_03"]
_DESIGN = [
    {"channel": "tv", "geos": _G[:2], "start": 10, "weeks": 5, "multiplier": 2.0},
    {"channel": "search", "geos": _G[2:], "start": 10, "weeks": 5, "multiplier": 0.0, "post": 6},
]


def test_planned_lift_design_is_followed():
    r = sim.simulate(n_geos=4, n_weeks=60, n_channels=3, seed=5, lift_design=_DESIGN)
    t = r.lift_tests.sort("test_id")
    assert t["channel"].to_list() == ["tv", "search"]
    assert t["geos"].to_list() == ["geo_00;geo_01", "geo_02;geo_03"]
    weeks = r.panel["week"].unique().sort()
    assert t["start"][0] == weeks[10] and t["end"][0] == weeks[14]
    assert t["measure_end"][1] == weeks[14 + 6]
    assert t["spend_delta"][0] > 0 > t["spend_delta"][1]
    # the go-dark really switched the channel off in its window
    off = r.panel.filter(pl.col("geo").is_in(_G[2:]) & pl.col("week").is_between(weeks[10], weeks[14]))
    assert (off["search_spend"] == 0).all()
    assert r.settings["n_lift_tests"] == 2


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"channel": "radio"}, "channel 'radio'"),
        ({"geos": ["geo_09"]}, "not in the panel"),
        ({"start": 58}, "outside"),
        ({"multiplier": 1.0}, "multiplier"),
        ({"colour": "red"}, "unknown key"),
    ],
)
def test_bad_lift_design_is_rejected_with_its_index(change, fragment):
    design = [dict(_DESIGN[0], **change)]
    with pytest.raises(DataError, match=r"lift_design\[0\]") as err:
        sim.simulate(n_geos=4, n_weeks=60, n_channels=3, seed=5, lift_design=design)
    assert fragment in str(err.value)


def test_overlapping_planned_tests_are_rejected():
    design = [_DESIGN[0], dict(_DESIGN[0], start=12)]
    with pytest.raises(DataError, match="overlaps"):
        sim.simulate(n_geos=4, n_weeks=60, n_channels=3, seed=5, lift_design=design)


def _spend(panel: pl.DataFrame, column: str) -> np.ndarray:
    return panel.pivot(on="geo", index="week", values=column).sort("week").drop("week").to_numpy().T


def test_strictly_collinear_search_is_a_fixed_multiple_of_tv_in_every_geo():
    strict = sim.simulate(n_geos=4, n_weeks=60, n_channels=3, seed=5, collinear="strict", n_lift_tests=0)
    tv, search = _spend(strict.panel, "tv_spend"), _spend(strict.panel, "search_spend")
    ratio = np.divide(search, tv, out=np.full_like(tv, np.nan), where=tv > 0)
    assert ((tv > 0) == (search > 0)).all()
    np.testing.assert_allclose(np.nanmin(ratio, axis=1), np.nanmax(ratio, axis=1), rtol=1e-9)
    assert np.ptp(np.nanmean(ratio, axis=1)) > 0  # the geos' levels still differ
    loose = sim.simulate(n_geos=4, n_weeks=60, n_channels=3, seed=5, collinear=True, n_lift_tests=0)
    tv, search = _spend(loose.panel, "tv_spend"), _spend(loose.panel, "search_spend")
    assert min(np.corrcoef(t, s)[0, 1] for t, s in zip(tv, search)) < 0.99


@pytest.mark.bad_input
def test_bad_collinear_value_is_rejected():
    with pytest.raises(DataError, match="collinear"):
        sim.simulate(n_geos=4, n_weeks=60, n_channels=3, collinear="yes")


@pytest.mark.bad_input
def test_planned_test_in_a_pause_is_rejected():
    base = sim.simulate(n_geos=4, n_weeks=60, n_channels=3, seed=5, n_lift_tests=0)
    tv = _spend(base.panel, "tv_spend")
    week = int(np.flatnonzero((tv[:2] == 0).all(axis=0))[0])  # tv dark in geos 0-1
    design = [{"channel": "tv", "geos": _G[:2], "start": week, "weeks": 1, "multiplier": 0.0}]
    with pytest.raises(DataError, match="no spend"):
        sim.simulate(n_geos=4, n_weeks=60, n_channels=3, seed=5, lift_design=design)


def test_always_on_spend_never_goes_dark_and_alternates_levels():
    import numpy as np

    level = sim.always_on(np.random.default_rng(3), 5, 80, low=0.3, noise=0.0)
    assert level.shape == (5, 80) and (level > 0).all()
    assert abs(level.mean() - 1.0) < 1e-12
    high = level.max()
    assert set(np.round(np.unique(level / high), 6)) == {0.3, 1.0}  # two levels, no dark week
    assert len({tuple(row[:12] / high > 0.5) for row in level}) > 1  # geos on their own phases


# ------------------------------------------------------------- the same panel on every CPU
def _nudged_math(monkeypatch) -> None:
    """numpy's transcendental functions one ulp off, as another CPU's vector code can be,
    and the media response built on them off by 2^-45 relative (the few ulps a sum of
    such terms can differ by; one ulp of a contribution vanishes when it is added to
    a KPI ten times larger, so it could not show whether the KPI is rounded)."""
    import geommm.sim.experiment
    import geommm.sim.generate
    import geommm.sim.lift

    def nudge(f, relative=0.0):  # some values moved, picked by their own bits, as real differences are
        def nudged(*a, **k):
            r = np.asarray(f(*a, **k), dtype="float64")
            moved = r * (1 + relative) if relative else np.nextafter(r, np.inf)
            return np.where((r.view(np.int64) >> 1) & 1 == 1, moved, r)
        return nudged

    for name in ("exp", "log", "expm1", "log1p", "power"):
        monkeypatch.setattr(np, name, nudge(getattr(np, name)))
    for module in (geommm.sim.generate, geommm.sim.lift, geommm.sim.experiment):
        monkeypatch.setattr(module, "media_contributions", nudge(module.media_contributions, 2.0**-45))


@pytest.mark.parametrize("bits", [32, None])
def test_a_seed_gives_one_panel_whatever_the_last_bits_of_numpys_math(monkeypatch, bits):
    """Rounding (sim/precision.py) absorbs last-bit differences of exp/log/power: the panel,
    its lift tests and a designed test run come out bit for bit the same; without it they
    would not (so the test can fail)."""
    settings = {"n_geos": 4, "n_weeks": 60, "seed": 7, "n_lift_tests": 2,
                "channels": ["tv", "search", "email"], "significant_bits": bits}

    def run():
        market = sim.simulate(**settings)
        weeks = market.panel["week"].unique().sort()
        test = {"channel": "search", "geos": ["geo_01"], "start": weeks[50], "end": weeks[53],
                "measure_end": weeks[55], "spend_multiplier": 2.0, "lift_se": 100.0}
        return market, sim.run_designed_test(market, test, fit_weeks=48)

    plain, plain_run = run()
    with monkeypatch.context() as m:
        _nudged_math(m)
        nudged, nudged_run = run()
    same = [plain.panel.equals(nudged.panel), plain.lift_tests.equals(nudged.lift_tests),
            plain_run.panel.equals(nudged_run.panel), plain_run.lift_tests.equals(nudged_run.lift_tests)]
    if bits is None:
        assert not any(same)  # the raw floats do move
        return
    assert all(same)
    assert plain.settings["significant_bits"] == 32
    x = plain.panel["revenue"].to_numpy()
    mantissa, _ = np.frexp(x)
    assert np.array_equal(mantissa * 2.0**32, np.rint(mantissa * 2.0**32))  # 32 significant bits
    # the test's heavy-up doubles the rounded spend exactly; every other cell is untouched
    before = plain.panel.filter(pl.col("geo") == "geo_01").sort("week")["search_spend"].to_numpy()
    after = plain_run.panel.filter(pl.col("geo") == "geo_01").sort("week")["search_spend"].to_numpy()
    assert np.array_equal(after[50:54], 2.0 * before[50:54]) and np.array_equal(after[:50], before[:50])


def test_rounding_keeps_zeros_signs_and_gaps_and_is_idempotent():
    from geommm.sim.precision import round_bits, round_floats

    x = np.array([0.0, -0.0, 1.0, -2.5e-7, 1234567.891011121, np.nan, np.inf, -np.inf, 5e-324])
    r = round_bits(x)
    assert r[0] == 0 and np.signbit(r[1]) and r[2] == 1 and np.isnan(r[5]) and r[6] == np.inf
    assert r[7] == -np.inf and r[8] == x[8]
    assert np.all(np.abs(r[[3, 4]] / x[[3, 4]] - 1) <= 2.0**-32)
    np.testing.assert_array_equal(round_bits(r), r)
    assert round_bits(x, None) is x
    frame = pl.DataFrame({"a": [1.0 + 2.0**-40, None]})
    assert round_floats(frame)["a"].to_list() == [1.0, None]  # nulls stay nulls


@pytest.mark.bad_input
@pytest.mark.parametrize("bits", [0, 54, True, 2.5, "32"])
def test_significant_bits_out_of_range_is_refused_by_name(bits):
    with pytest.raises(DataError, match="significant_bits"):
        sim.simulate(n_geos=2, n_weeks=20, n_channels=1, n_lift_tests=0, significant_bits=bits)
