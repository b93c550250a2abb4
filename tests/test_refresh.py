"""Refresh: continuity checks, frozen scaling, lineage, effect_change, what_changed."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pymc as pm
import pytest

import geommm as gm
from geommm import sim
from geommm.data import read_panel
from geommm.errors import RefreshError, RestatedHistoryError
from geommm.model.build import build_pymc_model
from geommm.model.design import Scaling, build_model_data
from geommm.model.posterior_prior import fit_posterior_prior
from geommm.model.sampler_prior import fit_sampler_prior, unconstrained_draws
from geommm.model.window import build_window_model, window_data, window_mean
from geommm.model.window import weeks as weeks_of
from geommm.workflows.continuity import continue_panel

SMALL = {"n_geos": 3, "n_weeks": 40, "n_channels": 2, "seed": 1, "max_lag": 4, "n_lift_tests": 0}


@pytest.fixture(scope="module")
def frames():
    frame = sim.simulate(**SMALL).panel
    weeks = frame["week"].unique().sort()
    return frame, weeks


def _panel(frame):
    return read_panel(frame, geo="geo", time="week")


def test_new_weeks_alone_or_with_history_merge_alike(frames):
    frame, weeks = frames
    old = _panel(frame.filter(pl.col("week") <= weeks[29]))
    a = continue_panel(old, frame)
    b = continue_panel(old, frame.filter(pl.col("week") > weeks[29]))
    assert a.first_new == b.first_new == 30 and a.n_new_weeks == 10
    assert a.panel.frame.equals(b.panel.frame)


@pytest.mark.parametrize(
    "change, match",
    [
        (lambda f, w: f.filter(pl.col("week") > w[31]), "week 2022-08-01 is missing"),
        (lambda f, w: f.filter(pl.col("geo") != "geo_01"), "geo_01"),
        (lambda f, w: pl.concat([f, f.filter(pl.col("geo") == "geo_00").with_columns(pl.lit("geo_99").alias("geo"))]), "geo_99.*full refit"),
        (lambda f, w: f.drop("promo"), "promo"),
        (lambda f, w: f.filter(pl.col("week") <= w[29]), "nothing to refresh"),
    ],
)
def test_continuity_errors_name_geo_column_week(frames, change, match):
    frame, weeks = frames
    old = _panel(frame.filter(pl.col("week") <= weeks[29]))
    with pytest.raises(RefreshError, match=match):
        continue_panel(old, change(frame, weeks))


def test_sequential_refresh_needs_max_lag_new_weeks(map_fit):
    frame = map_fit.panel.frame
    last = frame.filter(pl.col(map_fit.panel.time_col) == frame[map_fit.panel.time_col].max())
    t = pl.col(map_fit.panel.time_col)
    two_weeks = pl.concat([last.with_columns(t + pl.duration(days=7 * k)) for k in (1, 2)])
    assert max(m.max_lag for m in map_fit.spec.media) > 2
    with pytest.raises(RefreshError, match=r"only 2 new week.*max_lag=\d+"):
        map_fit.refresh(two_weeks, method="sequential")
    with pytest.raises(RefreshError, match="NUTS"):
        map_fit.refresh(two_weeks, method="full")
    for bad in (-0.1, float("nan")):  # checked before anything is built
        with pytest.raises(RefreshError, match="effect_shift_sd"):
            map_fit.refresh(two_weeks, method="full", effect_shift_sd=bad)


def test_cli_refresh_takes_the_step_prior(tmp_path):
    from geommm.cli.parser import build_parser

    parser = build_parser()
    args = parser.parse_args(["refresh", str(tmp_path), "new.csv", "--out", str(tmp_path / "o"), "--effect-shift-sd", "0"])
    assert args.effect_shift_sd == 0.0
    with pytest.raises(SystemExit):
        parser.parse_args(["refresh", str(tmp_path), "new.csv", "--out", "o", "--effect-shift-sd", "-1"])


def test_restated_history_is_listed_or_accepted(frames):
    frame, weeks = frames
    old = _panel(frame.filter(pl.col("week") <= weeks[29]))
    restated = frame.with_columns(
        pl.when((pl.col("geo") == "geo_02") & (pl.col("week") == weeks[5]))
        .then(pl.col("revenue") * 1.1).otherwise(pl.col("revenue")).alias("revenue")
    )
    with pytest.raises(RestatedHistoryError, match="geo_02 2022-02-07 revenue") as info:
        continue_panel(old, restated)
    assert info.value.restated == [("geo_02", "2022-02-07", "revenue")]
    merged = continue_panel(old, restated, allow_restated=True)
    value = merged.panel.frame.filter((pl.col("geo") == "geo_02") & (pl.col("week") == weeks[5]))["revenue"][0]
    assert value == pytest.approx(restated.filter((pl.col("geo") == "geo_02") & (pl.col("week") == weeks[5]))["revenue"][0])


def test_frozen_scaling_keeps_scales_on_more_weeks(frames):
    frame, weeks = frames
    result = sim.simulate(**SMALL)
    spec = gm.GeoMMM(result.formula, data=frame.filter(pl.col("week") <= weeks[29]), geo="geo", time="week").spec
    first = build_model_data(spec, _panel(frame.filter(pl.col("week") <= weeks[29])))
    scaling = Scaling.from_dict(first.scaling.to_dict())
    longer = build_model_data(spec, _panel(frame), scaling=scaling)
    np.testing.assert_allclose(longer.kpi_scale, first.kpi_scale)
    np.testing.assert_allclose(longer.media_scale, first.media_scale)
    np.testing.assert_allclose(longer.controls[:, :30], first.controls)
    np.testing.assert_allclose(longer.trend[:30], first.trend)
    np.testing.assert_allclose(longer.fourier[:30], first.fourier)
    fresh = build_model_data(spec, _panel(frame))
    assert not np.allclose(fresh.kpi_scale, first.kpi_scale)


def test_window_model_equals_full_model_mean_on_new_weeks(frames):
    """Same geo-level values -> the window model's KPI mean (new weeks, carryover from the
    max_lag - 1 weeks before them) equals the full 40-week model's, to 1e-9. Shows the
    carryover and the panel-wide normalisers (ROI sums, geo level) are handled."""
    frame, weeks = frames
    result = sim.simulate(**SMALL)
    mmm = gm.GeoMMM(result.formula, data=frame, geo="geo", time="week")
    full = build_pymc_model(mmm.spec, mmm.data, mmm.priors, store_mean=True)
    prior_draws = pm.sample_prior_predictive(
        draws=20, model=full, random_seed=3, compile_kwargs={"mode": "FAST_COMPILE"}).prior
    prior = fit_posterior_prior(prior_draws)
    first_new = 30
    window, n_before = window_data(mmm.data, first_new)
    assert n_before == mmm.data.max_lag - 1 and window.n_times == 10 + n_before
    model = build_window_model(mmm.spec, window, n_before, prior, store_mean=True)
    (mean,) = model.replace_rvs_by_values([model["kpi_mean"]])
    mean_fn = model.compile_fn(mean, inputs=model.value_vars, on_unused_input="ignore", mode="FAST_COMPILE")
    stacked = {n: prior_draws[n].values[0] for n in prior.names}
    z = prior.whiten(prior.flatten(stacked))
    for k in (0, 7, 19):
        expect = prior_draws["kpi_mean"].values[0, k][:, first_new:]
        got = mean_fn({"posterior_z": z[k], "effect_shift": np.zeros(2)})
        np.testing.assert_allclose(got, expect, rtol=1e-9, atol=1e-12)
        numpy_mean = window_mean(mmm.spec, window, n_before, {n: v[k] for n, v in stacked.items()})
        np.testing.assert_allclose(numpy_mean, expect, rtol=1e-9, atol=1e-12)
    # the effect shift scales every geo's media effect on the new weeks only
    shifted = mean_fn({"posterior_z": z[0], "effect_shift": np.array([np.log(0.5), 0.0])})
    assert not np.allclose(shifted, prior_draws["kpi_mean"].values[0, 0][:, first_new:])


def test_sampler_prior_maps_unconstrained_draws_to_the_full_models_mean(frames):
    """The sampler-space prior: at a draw's own unconstrained values, the window model's
    KPI mean on the new weeks equals the full 40-week model's (1e-9), with the geo-level
    values built by the reference model's graph (here the full model on the 30 old
    weeks: its ROI normalisers are those weeks'). The unconstrained values are kept
    under the sampler's names for the next refresh."""
    frame, weeks = frames
    result = sim.simulate(**SMALL)
    mmm = gm.GeoMMM(result.formula, data=frame, geo="geo", time="week")
    full = build_pymc_model(mmm.spec, mmm.data, mmm.priors, store_mean=True)
    prior_draws = pm.sample_prior_predictive(
        draws=20, model=full, random_seed=3, compile_kwargs={"mode": "FAST_COMPILE"}).prior
    first_new = 30
    reference = build_pymc_model(mmm.spec, weeks_of(mmm.data, 0, first_new), mmm.priors)
    # the reference's normalisers differ from the full model's, so the full model's draws
    # of the geo-level values are recomputed through the reference graph before comparing
    prior = fit_sampler_prior(reference, prior_draws)
    assert prior.n_dim == sum(int(np.prod(s)) for s in prior.shapes)
    window, n_before = window_data(mmm.data, first_new)
    model = build_window_model(mmm.spec, window, n_before, prior, store_mean=True)
    assert "roi_log__" in model.named_vars and "media_effect" in model.named_vars
    outs = model.replace_rvs_by_values([model["kpi_mean"], model["media_effect"], model["baseline_geo"]])
    fn = model.compile_fn(outs, inputs=model.value_vars, on_unused_input="ignore", mode="FAST_COMPILE")
    flat, _, _ = unconstrained_draws(reference, prior_draws)
    from scipy.linalg import solve_triangular

    geo_level = reference.compile_fn(
        reference.replace_rvs_by_values([reference["media_effect"], reference["baseline_geo"]]),
        inputs=reference.value_vars, on_unused_input="ignore", mode="FAST_COMPILE",
    )
    for k in (0, 11):
        z = solve_triangular(prior.chol, flat[k] - prior.mean, lower=True)
        got, effect, level = fn({"posterior_z": z, "effect_shift": np.zeros(2)})
        point, start = {}, 0
        for var, shape in zip(prior.values, prior.shapes):
            size = int(np.prod(shape))
            point[var.name] = flat[k, start : start + size].reshape(shape)
            start += size
        want_effect, want_level = geo_level(point)
        np.testing.assert_allclose(effect, want_effect, rtol=1e-9)
        np.testing.assert_allclose(level, want_level, rtol=1e-9)
        params = {n: prior_draws[n].values[0, k] for n in ("season_geo", "trend_geo", "control_geo",
                  "retention", "half_saturation", "slope", "noise_sd") if n in prior_draws}
        params.update(media_effect=want_effect, baseline_geo=want_level)
        np.testing.assert_allclose(got, window_mean(mmm.spec, window, n_before, params), rtol=1e-9, atol=1e-12)


def test_posterior_prior_is_fast_and_round_trips():
    rng = np.random.default_rng(0)
    import xarray as xr

    n, G, C = 2000, 40, 6
    post = xr.Dataset({
        "media_effect": (("chain", "draw", "geo", "channel"), np.exp(rng.normal(size=(2, n // 2, G, C)))),
        "retention": (("chain", "draw", "geo", "channel"), rng.uniform(0.1, 0.9, size=(2, n // 2, G, C))),
        "baseline_geo": (("chain", "draw", "geo"), rng.normal(size=(2, n // 2, G))),
    })
    prior = fit_posterior_prior(post)
    assert prior.n_dim == 2 * G * C + G
    assert prior.names == ("baseline_geo", "retention", "media_effect")
    assert prior.links == ("identity", "logit", "log")
    values = {k: post[k].values[0, :3] for k in prior.names}
    back = prior.unpack(prior.flatten(values))
    for k in prior.names:
        np.testing.assert_allclose(back[k], values[k], rtol=1e-10)
    x = prior.flatten(values)
    np.testing.assert_allclose(prior.mean + prior.whiten(x) @ prior.chol.T, x, rtol=1e-9)


def test_saved_fit_keeps_scaling_and_id(map_fit, tmp_path):
    path = map_fit.save(tmp_path / "fit.nc")
    back = gm.load_fit(path)
    assert back.fit_id == map_fit.fit_id and back.lineage is None
    assert back.file_sha256 == map_fit.file_sha256 and len(back.file_sha256) == 64
    np.testing.assert_allclose(back.data.kpi_scale, map_fit.data.kpi_scale)
    assert back.default_roi == pytest.approx(map_fit.default_roi)


def test_effect_change_keeps_seeded_panels_and_lowers_true_roi():
    plain = sim.simulate(**SMALL)
    same = sim.simulate(**SMALL, effect_change=None)
    drop = sim.simulate(**SMALL, effect_change={"tv": (20, 0.6)})
    assert plain.panel.equals(same.panel)
    nat = lambda r: dict(zip(r.truth.roi_national["channel"], r.truth.roi_national["roi"]))  # noqa: E731
    assert nat(drop)["tv"] < 0.9 * nat(plain)["tv"]
    assert nat(drop)["search"] == pytest.approx(nat(plain)["search"])
    with pytest.raises(ValueError, match="radio"):
        sim.simulate(**SMALL, effect_change={"radio": (20, 0.6)})


@pytest.mark.slow
def test_full_model_step_change_matches_the_window_and_the_analysis(frames):
    """A ``full`` refresh's step change (``terms/effect_shift.py``): for the same draws the
    full model's KPI mean on the new weeks equals the window model's formula with the same
    shift (so ``media_effect`` is the effect before the step), with a zero step it is the
    plain model, and its ``roi`` is the national ROI over all weeks that the posterior analysis computes with the step (1e-9)."""
    from geommm.analysis.forward import ForwardModel

    frame, _ = frames
    result = sim.simulate(**SMALL)
    mmm = gm.GeoMMM(result.formula, data=frame, geo="geo", time="week")
    first_new = 30
    stepped = build_pymc_model(mmm.spec, mmm.data, mmm.priors, store_mean=True, effect_shift=(first_new, 0.25))
    plain = build_pymc_model(mmm.spec, mmm.data, mmm.priors, store_mean=True)
    assert "effect_shift" in stepped.named_vars and "effect_shift" not in plain.named_vars
    prior = pm.sample_prior_predictive(
        draws=20, model=stepped, random_seed=3, compile_kwargs={"mode": "FAST_COMPILE"}).prior
    draws = {n: np.asarray(prior[n].values[0]) for n in prior.data_vars}
    assert np.abs(draws["effect_shift"]).max() > 0.05
    window, n_before = window_data(mmm.data, first_new)
    for k in (0, 9, 19):
        params = {n: v[k] for n, v in draws.items()}
        want = window_mean(mmm.spec, window, n_before, params, shift=params["effect_shift"])
        np.testing.assert_allclose(params["kpi_mean"][:, first_new:], want, rtol=1e-9, atol=1e-12)
    # at the same free values: a zero step is the plain model everywhere, a step moves the new weeks
    mean_plain = plain.compile_fn(plain.replace_rvs_by_values([plain["kpi_mean"]])[0], inputs=plain.value_vars,
                                  on_unused_input="ignore", mode="FAST_COMPILE")
    mean_step = stepped.compile_fn(stepped.replace_rvs_by_values([stepped["kpi_mean"]])[0],
                                   inputs=stepped.value_vars, on_unused_input="ignore", mode="FAST_COMPILE")
    start = stepped.initial_point(random_seed=1)
    at = {**start, "effect_shift": np.array([np.log(0.6), 0.2])}
    before, after = mean_plain({k: v for k, v in at.items() if k in {x.name for x in plain.value_vars}}), mean_step(at)
    np.testing.assert_allclose(mean_step({**at, "effect_shift": np.zeros(2)}), before, rtol=1e-9, atol=1e-12)
    assert not np.allclose(after[:, first_new:], before[:, first_new:])
    forward = ForwardModel(mmm.spec, mmm.data, draws, shift_from=first_new)
    spend = mmm.data.spend.sum(axis=(0, 1))
    np.testing.assert_allclose(forward.media_kpi().sum(axis=1) / spend, draws["roi"], rtol=1e-9)


def test_refresh_twice_lineage_and_scaling_survive_save_load(frames, tmp_path):
    frame, weeks = frames
    result = sim.simulate(**SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # lineage and scaling plumbing, not statistics: 2 x (50 + 100) per fit (was up to
        # 2 x (100 + 200)), trees capped at 15 steps (the refreshes inherit the cap); five
        # short NUTS runs and their compiles are this test's cost
        first = gm.GeoMMM(result.formula, data=frame.filter(pl.col("week") <= weeks[23]), geo="geo", time="week").fit(
            draws=50, tune=100, chains=2, progressbar=False, max_treedepth=4  # plumbing: 15-step trees
        )
        first.save(tmp_path / "first.nc")
        second = first.refresh(frame.filter(pl.col("week") <= weeks[31]), method="sequential", tune=100)
        second.save(tmp_path / "second.nc")
        loaded = gm.load_fit(tmp_path / "second.nc")
        third = loaded.refresh(frame.filter(pl.col("week") <= weeks[35]), method="full", draws=50, tune=100)
        # a sequential refresh of a full one with a step: the step is in its reference
        fourth = third.refresh(frame, method="sequential", draws=20, tune=50)  # plumbing only
        # a sequential refresh of a sequential refresh: its prior is still tied to the
        # first fit's weeks (the reference), read from the saved trace
        again = loaded.refresh(frame, method="sequential", draws=40, tune=100)
    assert second.lineage["parent_id"] == first.fit_id
    assert again.settings.max_treedepth == fourth.settings.max_treedepth == 4  # kept by refresh
    assert second.lineage["parent_file_sha256"] == first.file_sha256
    assert loaded.lineage == second.lineage and loaded.lineage["new_weeks"] == [str(weeks[24]), str(weeks[31])]
    np.testing.assert_allclose(loaded.data.kpi_scale, first.data.kpi_scale)
    np.testing.assert_allclose(loaded.data.trend[:24], first.data.trend)
    assert third.lineage["generation"] == 2 and third.lineage["root_id"] == first.fit_id
    assert third.lineage["parent_id"] == second.fit_id
    np.testing.assert_allclose(third.data.kpi_scale, first.data.kpi_scale)
    assert third.panel.n_times == 36
    assert "effect_shift" in loaded.idata.posterior and "roi" in loaded.idata.posterior
    span = f"{weeks[0]}/{weeks[23]}"
    assert loaded.idata.posterior.attrs["reference_weeks"] == span and "roi_log__" in loaded.idata.posterior
    assert again.idata.posterior.attrs["reference_weeks"] == span
    assert again.lineage["generation"] == 2 and np.isfinite(again.roi(by="channel")["roi_mean"].to_numpy()).all()
    changes = third.what_changed(loaded)
    assert set(changes.roi["metric"]) == {"roi", "marginal_roi"}
    # a full refresh fits the same step change as a sequential one (terms/effect_shift.py)
    assert "effect_shift" in third.idata.posterior and third.shift_from == 32
    assert changes.shift["channel"].to_list() == list(first.channels)
    attrs = fourth.idata.posterior.attrs
    assert attrs["reference_weeks"] == f"{weeks[0]}/{weeks[35]}" and attrs["reference_shift_from"] == str(weeks[32])
    assert fourth.shift_from == 36 and np.isfinite(fourth.roi(by="channel")["roi_mean"].to_numpy()).all()
    assert "reference_effect_shift" in fourth.idata.posterior
    # the stepped reference maps the parent's own draws back to its media effects (1e-9)
    from geommm.workflows.refresh import _sequential_prior, parent_centring, reference_data

    geo_w, level_w = parent_centring(third)
    prior, (_, shift_from) = _sequential_prior(third, fourth.data, geo_w, level_w, "sampler", None, 1.0)
    assert shift_from == str(weeks[32])
    ref_data, _ = reference_data(third, fourth.data)
    reference = build_pymc_model(third.spec, ref_data, third.priors, geo_centring=geo_w, level_centring=level_w,
                                 effect_shift=(32, 0.25))
    flat, _, _ = unconstrained_draws(reference, third.idata.posterior)
    import pytensor

    effect = pytensor.function(list(prior.values), prior.graphs[prior.outputs.index("media_effect")],
                               on_unused_input="ignore", mode="FAST_COMPILE")
    sizes = np.cumsum([0, *[int(np.prod(shape)) for shape in prior.shapes]])
    want = third.idata.posterior["media_effect"].values.reshape(-1, *third.idata.posterior["media_effect"].shape[2:])
    for k in (0, 77):
        got = effect(*[flat[k, a:b].reshape(shape) for a, b, shape in zip(sizes[:-1], sizes[1:], prior.shapes)])
        np.testing.assert_allclose(got, want[k], rtol=1e-9)
    assert changes.budget["channel"].to_list() == list(first.channels)
    # refreshed fits (sequential and full) carry the arviz groups like first fits
    for child in (second, third, again):
        assert {"observed_data", "constant_data", "log_likelihood"} <= set(child.idata.groups())
        assert np.isfinite(child.idata.log_likelihood["kpi"].values).all()
    assert changes.forecast["geo"][0] == "national" and changes.summary.startswith("Decision:")
    assert third.changes is changes
    html = (tmp_path / "report.html")
    third.report(html)
    assert "What changed since the last fit" in html.read_text()


@pytest.mark.slow
def test_what_changed_flags_a_strong_simulated_drop():
    options = {**SMALL, "n_geos": 4, "n_weeks": 60, "noise": 0.03}
    result = sim.simulate(**options, effect_change={"tv": (40, 0.2)})
    frame = result.panel
    weeks = frame["week"].unique().sort()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = gm.GeoMMM(result.formula, data=frame.filter(pl.col("week") <= weeks[39]), geo="geo", time="week").fit(
            # the refresh samples alike; trees capped at 63 steps: a 100-step warm-up on this
            # panel ran at 1,023 (143 s in the suite), and the flag is as clear either way
            draws=100, tune=100, chains=2, progressbar=False, max_treedepth=6
        )
        # the diagonal mass matrix: on this tiny panel the sequential default (low_rank)
        # sampled 44.5 s against 28.5 (quiet); this test is about the flag, and the
        # default's own sampling runs in the refresh-twice test
        second = first.refresh(frame, method="sequential", prior_inflation=2.0, tune=100,
                               mass_matrix="draws")
    changes = second.what_changed(first, budget=False)
    tv = changes.shift.filter(pl.col("channel") == "tv").row(0, named=True)
    assert tv["prob_down"] > 0.9 and tv["flag"] == "down", (changes.summary, tv)
    assert changes.summary.startswith("Decision: review tv")


def test_parent_without_sampler_values_falls_back_to_geo_level_prior_with_a_warning(laplace_fit):
    """An old sequential child kept only geo-level values: its refresh must say it uses
    the geo-level prior, not switch silently; a first fit gets the sampler-space prior."""
    from types import SimpleNamespace

    from geommm.model.posterior_prior import NATURAL, PosteriorPrior
    from geommm.model.sampler_prior import SamplerPrior
    from geommm.workflows.refresh import _sequential_prior, parent_centring

    geo_w, level_w = parent_centring(laplace_fit)
    prior, span = _sequential_prior(laplace_fit, laplace_fit.data, geo_w, level_w, "sampler", None, 1.0)
    assert isinstance(prior, SamplerPrior) and span is not None
    post = laplace_fit.idata.posterior
    geo_level_only = post[[n for n in NATURAL if n in post]]
    assert set(post.data_vars) - set(geo_level_only.data_vars), "the trace has non-geo-level draws to drop"
    old_child = SimpleNamespace(
        idata=SimpleNamespace(posterior=geo_level_only), posterior=geo_level_only, data=laplace_fit.data,
        spec=laplace_fit.spec,
        priors=laplace_fit.priors, likelihood=laplace_fit.likelihood,
    )
    with pytest.warns(UserWarning, match="lacks the sampler's values.*geo-level prior"):
        prior, span = _sequential_prior(old_child, laplace_fit.data, geo_w, level_w, "sampler", None, 1.0)
    assert isinstance(prior, PosteriorPrior) and span is None


def test_reference_sums_by_quadrature_match_the_exact_reference_graph(laplace_fit, monkeypatch):
    """The sampler-space prior needs the reference weeks' response sums only through
    ``media_effect`` (``baseline_geo`` cancels them). A few weighted reference weeks per
    geo-channel stand in for all of them: at the parent's draws ``media_effect`` is
    within the tolerance of the exact reference graph and ``baseline_geo`` is equal,
    and the mapped graph no longer holds the reference weeks' lag stack. It is opt-in
    (exact sums by default), and a tolerance no quadrature can meet keeps the exact sums."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import ancestors

    from geommm.model import normaliser as nm
    from geommm.workflows.refresh import _sequential_prior, _thinned, parent_centring, reference_data

    fit = laplace_fit  # a wide (Laplace, 60-week) posterior: looser tolerances than the default
    # (held-out error 0.031 since seasonality's geo deviations sum to zero; 0.02 before)
    monkeypatch.setattr(nm, "TOLERANCE", 5e-2)
    geo_w, level_w = parent_centring(fit)
    fast, _ = _sequential_prior(fit, fit.data, geo_w, level_w, "sampler", None, 1.0, quadrature=True)
    assert fast.normaliser is not None and fast.normaliser.held_out_error <= nm.TOLERANCE
    T = fit.data.n_times
    assert fast.normaliser.n_weeks == T and fast.normaliser.weights.shape[1] < T
    exact, _ = _sequential_prior(fit, fit.data, geo_w, level_w, "sampler", None, 1.0)  # the default
    assert exact.normaliser is None
    monkeypatch.setattr(nm, "TOLERANCE", -1.0)
    unmet, _ = _sequential_prior(fit, fit.data, geo_w, level_w, "sampler", None, 1.0, quadrature=True)
    assert unmet.normaliser is None
    np.testing.assert_array_equal(exact.mean, fast.mean)

    theta = pt.vector("theta")
    names = ("media_effect", "baseline_geo")
    outs = {k: [p.tensors(theta)[n][0] for n in names] for k, p in (("fast", fast), ("exact", exact))}
    week_stacks = [v for v in ancestors(outs["fast"]) if isinstance(v, Constant) and v.ndim == 4 and v.type.shape[2] == T]
    assert not week_stacks, "the reference weeks' lag stack is still in the graph"
    f_fast = pytensor.function([theta], outs["fast"], mode="FAST_COMPILE")
    f_exact = pytensor.function([theta], outs["exact"], mode="FAST_COMPILE")
    ref_data, _ = reference_data(fit, fit.data)
    reference = build_pymc_model(fit.spec, ref_data, fit.priors, geo_centring=geo_w, level_centring=level_w)
    flat, _, _ = unconstrained_draws(reference, _thinned(fit))
    for k in range(1, flat.shape[0], flat.shape[0] // 10):  # odd draws: held out of the choice
        (effect, level), (effect_x, level_x) = f_fast(flat[k]), f_exact(flat[k])
        np.testing.assert_allclose(effect, effect_x, rtol=2e-2)
        np.testing.assert_allclose(level, level_x, rtol=1e-12)


def test_sequential_refresh_adapts_a_low_rank_mass_matrix_and_nutpie_gets_it(laplace_fit, monkeypatch):
    """The new weeks tie the effect shifts to the trend and controls (correlations a
    diagonal mass matrix cannot learn: deep trees), so a sequential refresh asks nutpie
    for its low-rank mass matrix unless told otherwise, and nutpie then gets the
    low-rank switch without the draws-based flag it refuses alongside it."""
    import copy
    from dataclasses import replace

    import nutpie

    from geommm import sampling
    from geommm.errors import FitError
    from geommm.workflows import refresh as refresh_module

    parent = copy.copy(laplace_fit)  # stands in for a NUTS parent: only its draws are used
    parent.settings = replace(laplace_fit.settings, method="nuts", sampler="nutpie")
    frame, time = parent.panel.frame, parent.panel.time_col
    n = max(m.max_lag for m in parent.spec.media)  # the fewest new weeks a sequential refresh takes
    last = frame.filter(pl.col(time) >= frame[time].unique().sort()[-n])
    new = last.with_columns(pl.col(time) + pl.duration(days=7 * n))
    seen = []

    def stop(model, settings, **_):
        seen.append(settings.mass_matrix)
        raise RuntimeError("stop before sampling")

    real_run = sampling.run
    monkeypatch.setattr(refresh_module.sampling, "run", stop)
    for kwargs, expected in (({}, "low_rank"), ({"mass_matrix": "draws"}, "draws")):
        with pytest.raises(FitError, match="stop before sampling"):
            parent.refresh(new, method="sequential", **kwargs)
    assert seen == ["low_rank", "draws"]

    calls = []

    def refuse(compiled, **kwargs):  # record what nutpie was asked, sample nothing
        calls.append(kwargs)
        raise RuntimeError("no")

    monkeypatch.setattr(nutpie, "compile_pymc_model", lambda model, **_: "compiled")
    monkeypatch.setattr(nutpie, "sample", refuse)
    for mass in ("low_rank", "gradients"):
        settings = sampling.SamplerSettings(mass_matrix=mass, backend="numba", chains=1, draws=5, tune=5)
        with pytest.raises(Exception, match="no"):
            real_run(pm.Model(), settings, progressbar=False)
    assert calls[0].get("low_rank_modified_mass_matrix") is True and "use_grad_based_mass_matrix" not in calls[0]
    assert calls[1].get("use_grad_based_mass_matrix") is True and "low_rank_modified_mass_matrix" not in calls[1]
