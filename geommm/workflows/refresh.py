"""Refresh a fit with new weeks: frozen scaling, and the last posterior as the prior.

Two methods, one result (a new :class:`Fit` over all weeks, on the first fit's scales):

- ``"full"``: all weeks, the original priors, warm-started at the previous posterior
  mean (unconstrained space), with the same per-channel step change in effectiveness
  at the first new week as a sequential refresh (``model/terms/effect_shift.py``), so
  both methods fit one model and what-changed asks both the same question. Exact; slow.
- ``"sequential"``: a model of the new weeks only (plus ``max_lag - 1`` weeks of
  carryover input, ``model/window.py``) whose prior is a Gaussian fitted to the
  previous posterior's geo-level values (``model/posterior_prior.py``), with a
  per-channel ``effect_shift`` of the media effect on the new weeks. The child's
  ``media_effect`` is the effect before the shift (comparable with a full refit);
  ``effect_shift`` says how the new weeks departed from it.

Both keep the geo-deviation centring of the parent so its unconstrained coordinates
mean the same thing in parent and child (used by a later ``full`` refresh).
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl

from geommm import sampling
from geommm.analysis.forward import ForwardModel
from geommm.errors import FitError, GeoMMMError, RefreshError
from geommm.model.build import build_pymc_model
from geommm.model.centring import centring_weights
from geommm.model.design import build_model_data
from geommm.model.lift import build_lift_cells
from geommm.model.posterior_prior import fit_posterior_prior
from geommm.model.sampler_prior import fit_sampler_prior
from geommm.model.window import EFFECT_SHIFT_SD, build_window_model, weeks, window_data
from geommm.workflows.continuity import continue_panel
from geommm.workflows.lineage import lineage_record

METHODS = ("sequential", "full")
#: Where the sequential prior's Gaussian lives: the sampler's unconstrained coordinates
#: mapped through the reference model (``model/sampler_prior.py``), or the geo-level
#: values directly (``model/posterior_prior.py``, kept to measure the difference).
PRIOR_SPACES = ("sampler", "geo_level")
#: How the sampler-space prior sums the media response over the reference weeks: all of
#: them, or a few weighted weeks per geo-channel (``model/normaliser.py``; ~45% cheaper
#: gradients, but its error at the draws a refresh visits reached 1.5-8.8% in the tails
#: on the benchmark, so it is opt-in; docs/refresh.md).
REFERENCE_SUMS = ("exact", "quadrature")
#: nutpie's mass matrix for a sequential refresh (unless ``mass_matrix=`` is given): the
#: new weeks tie the effect shifts to the trend and controls, correlations a diagonal
#: mass matrix cannot learn; the low-rank one cut seed 1's leapfrog steps per draw from
#: 22.5 to 16.8 (docs/refresh.md).
SEQUENTIAL_MASS_MATRIX = "low_rank"
#: Previous-posterior draws used to fit the Gaussian prior (thinned evenly).
PRIOR_DRAWS = 2000


def refresh(
    fit,
    new_panel,
    lift_tests=None,
    method: str = "sequential",
    allow_restated: bool = False,
    *,
    prior_shrinkage: float | None = None,
    prior_inflation: float = 1.0,
    effect_shift_sd: float = EFFECT_SHIFT_SD,
    geometry: str = "whitened",
    prior_space: str = "sampler",
    reference_sums: str = "exact",
    progressbar: bool = False,
    **fit_kwargs,
):
    """A new Fit of ``fit``'s model on its weeks plus those of ``new_panel``.

    ``fit_kwargs`` (draws, tune, chains, seed, sampler, backend, ...) default to the
    parent's sampler settings. ``prior_shrinkage`` (0..1; None = 0 with >= 5 draws per
    dimension, else dims/draws) shrinks the sequential prior's covariance towards its diagonal; ``prior_inflation`` widens it; ``effect_shift_sd``
    is the prior sd of the per-channel shift of effectiveness on the new weeks, in both
    methods (0 = none: constant effects, a plain refit for ``full``);
    ``geometry`` ("whitened" or "dense") is how the sampler sees the Gaussian prior;
    ``prior_space`` ("sampler" or "geo_level") is where that Gaussian is fitted;
    ``reference_sums`` ("exact" or "quadrature") how the sampler-space prior evaluates
    the reference weeks' response sums.
    Sequential fits tune for ``tune`` steps (default: a third of the parent's, at least
    200): the whitened prior is close to a unit Gaussian, so warm-up is short; and they
    adapt nutpie's low-rank mass matrix (``SEQUENTIAL_MASS_MATRIX``)."""
    from geommm.fit import Fit

    if method not in METHODS:
        raise RefreshError(f"method={method!r} is not one of {METHODS}")
    if reference_sums not in REFERENCE_SUMS:
        raise RefreshError(f"reference_sums={reference_sums!r} is not one of {REFERENCE_SUMS}")
    if not (np.isfinite(effect_shift_sd) and effect_shift_sd >= 0):
        raise RefreshError(f"effect_shift_sd={effect_shift_sd!r} must be a finite number >= 0 (0: constant effects)")
    if prior_space not in PRIOR_SPACES:
        raise RefreshError(f"prior_space={prior_space!r} is not one of {PRIOR_SPACES}")
    varying = [m.name for m in fit.spec.media if m.varying] + (["smooth(time)"] if fit.spec.smooth else [])
    if method == "sequential" and fit.spec.synergy:
        raise RefreshError(f"synergy({fit.spec.synergy[0].first}, {fit.spec.synergy[0].second}): a sequential "
                           "refresh cannot carry a synergy in its prior yet; use method='full'")
    if method == "sequential" and varying:
        raise RefreshError(
            f"channel(s) {varying} vary over time (media(..., varying=...)): a sequential refresh "
            "cannot carry their effectiveness path in its prior yet; use method='full'"
        )
    if method == "sequential" and fit.spec.nonmedia_kinds:  # organic(...) / treatment(...)
        raise RefreshError(f"term(s) {list(fit.spec.nonmedia_kinds)}: a sequential refresh does not carry "
                           "organic or treatment terms in its prior yet; use method='full'")
    cont = continue_panel(fit.panel, new_panel, allow_restated=allow_restated)
    max_lag = max(m.max_lag for m in fit.spec.media)
    if method == "sequential" and cont.n_new_weeks < max_lag:
        raise RefreshError(
            f"only {cont.n_new_weeks} new week(s) from {cont.panel.times[cont.first_new]}; a sequential "
            f"refresh needs at least max_lag={max_lag} new weeks (wait for more, or use method='full')"
        )
    if fit.settings.method != "nuts":
        raise RefreshError("refresh needs a NUTS fit (its posterior); refit with method='nuts'")
    data = build_model_data(fit.spec, cont.panel, population=fit.population, scaling=fit.data.scaling)
    if method == "sequential" and lift_tests is not None:
        raise RefreshError("new lift tests need method='full' (a sequential refresh keeps the parent's lift tests in its prior)")
    lifts, cells = _lift_tests(fit, lift_tests, cont.panel, data)
    geo_w, level_w = parent_centring(fit)
    if method == "full":
        step = (cont.first_new, effect_shift_sd) if effect_shift_sd > 0 else None
        model = build_pymc_model(
            fit.spec, data, fit.priors, lift_cells=cells, likelihood=fit.likelihood,
            geo_centring=geo_w, level_centring=level_w, effect_shift=step,
        )
        start = fit.posterior  # chains near the parent's posterior, coordinates standardised by it
        settings = _settings(fit, fit_kwargs, data.n_cells)
    else:
        prior, reference = _sequential_prior(
            fit, data, geo_w, level_w, prior_space, prior_shrinkage, prior_inflation,
            quadrature=reference_sums == "quadrature",
        )
        window, n_before = window_data(data, cont.first_new)
        model = build_window_model(
            fit.spec, window, n_before, prior, likelihood=fit.likelihood,
            effect_shift_sd=effect_shift_sd, geometry=geometry,
        )
        start = None
        fit_kwargs.setdefault("tune", max(200, fit.settings.tune // 3))
        if fit.settings.sampler == "nutpie":
            fit_kwargs.setdefault("mass_matrix", SEQUENTIAL_MASS_MATRIX)
        settings = _settings(fit, fit_kwargs, window.n_cells)
    try:
        idata = sampling.run(model, settings, progressbar=progressbar, warm_from=start)
    except GeoMMMError:
        raise
    except Exception as exc:
        raise FitError(f"sampling failed ({type(exc).__name__}: {exc})") from exc
    if method == "sequential":
        idata = _as_trace(idata, fit.spec, data, cont.first_new)
        if reference is not None:
            idata.posterior.attrs["reference_weeks"], shift_from = reference
            if shift_from is not None:
                idata.posterior.attrs["reference_shift_from"] = shift_from
    if "effect_shift" in idata.posterior:
        idata.posterior.attrs["effect_shift_from"] = str(np.datetime64(data.times[cont.first_new], "D"))
    idata.posterior.attrs["geo_centring"] = np.atleast_1d(np.asarray(geo_w, dtype="float64")).tolist()
    idata.posterior.attrs["level_centring"] = float(level_w)
    child = Fit(
        idata=idata, spec=fit.spec, panel=cont.panel, settings=settings, priors=fit.priors,
        prior_overrides=fit.prior_overrides, population=fit.population, likelihood=fit.likelihood,
        lift_tests=lifts, data=data, lift_cells=cells, default_roi=fit.default_roi,
        lineage=lineage_record(fit, cont, method),
    )
    child.warn_if_not_converged()
    return child


def parent_centring(fit) -> tuple[np.ndarray, float]:
    """The centring weights the parent was sampled with (recorded by a refresh; a first
    fit's are recomputed from its data, as its model build did)."""
    attrs = fit.posterior.attrs
    if "geo_centring" in attrs and "level_centring" in attrs:
        return np.atleast_1d(np.asarray(attrs["geo_centring"], dtype="float64")), float(attrs["level_centring"])
    if fit.data.n_geos < 2:
        return np.ones(fit.data.n_channels), 1.0
    return centring_weights(fit.spec, fit.data, fit.priors)


def _sequential_prior(fit, data, geo_w, level_w, space, shrinkage, inflation, *, quadrature=False):
    """The Gaussian prior of a sequential refresh and the reference weeks it is tied to
    ("first/last" ISO dates; None for the geo-level prior). A parent whose trace lacks
    the sampler's values (a sequential refresh made before they were stored) gets the
    geo-level prior."""
    posterior = _thinned(fit)
    if space == "sampler":
        ref_data, span = reference_data(fit, data)
        shift_from = _reference_shift(fit)
        step = None
        if shift_from is not None:  # the reference fit had a step: its coordinates include it
            # (the step's prior sd does not enter the map from coordinates to parameters)
            step = (int(np.searchsorted(ref_data.times, np.datetime64(shift_from, "D"))), EFFECT_SHIFT_SD)
        model = build_pymc_model(
            fit.spec, ref_data, fit.priors, likelihood=fit.likelihood,
            geo_centring=geo_w, level_centring=level_w, effect_shift=step,
        )
        try:
            # the quadrature does not know a step, so a stepped reference keeps the exact sums
            quad = {"spec": fit.spec, "ref_data": ref_data} if quadrature and step is None else {}
            return fit_sampler_prior(model, posterior, shrinkage, inflation, **quad), (span, shift_from)
        except KeyError as missing:
            warnings.warn(
                f"the parent fit's trace lacks the sampler's values ({missing}); this refresh uses "
                "the geo-level prior (prior_space='geo_level', docs/refresh.md)", stacklevel=3,
            )
    return fit_posterior_prior(posterior, shrinkage, inflation), None


def _reference_shift(fit) -> str | None:
    """First week (ISO date) of the reference fit's own step change, if it had one: a
    ``full`` refresh with ``effect_shift`` is its own reference; a sequential child
    records its reference's step (``reference_shift_from``)."""
    attrs = fit.posterior.attrs
    if attrs.get("reference_weeks"):
        return attrs.get("reference_shift_from") or None
    return attrs.get("effect_shift_from") or None


def reference_data(fit, data):
    """``data`` (the merged panel on frozen scales) cut to the reference weeks: those of
    the fit that gave the parameters their meaning (the first fit, or the last full
    refresh), as recorded by a sequential refresh, else ``fit``'s own weeks."""
    span = fit.posterior.attrs.get("reference_weeks")
    if span:
        first, last = (np.datetime64(x, "D") for x in str(span).split("/"))
    else:
        first, last = fit.data.times[0], fit.data.times[-1]
    inside = np.nonzero((data.times >= first) & (data.times <= last))[0]
    if inside.size == 0:
        raise RefreshError(f"the reference weeks {first}..{last} are not in the refreshed panel")
    return weeks(data, int(inside[0]), int(inside[-1]) + 1), f"{first}/{last}"


def _as_trace(idata, spec, data, first_new: int):
    """The window model's trace as a fit's: whitened coordinates dropped, and ``roi``
    (national, per channel) derived as the full model defines it: media contribution
    over all weeks (the new weeks at their shifted effectiveness) divided by spend."""
    post = idata.posterior.drop_vars(["posterior_z", "posterior_theta", "posterior_dim"], errors="ignore")
    draws = {k: np.asarray(post[k].values).reshape(-1, *post[k].shape[2:]) for k in post.data_vars}
    forward = ForwardModel(spec, data, draws, shift_from=first_new)
    spend = data.spend.sum(axis=(0, 1))
    roi = forward.media_kpi().sum(axis=1) / np.where(spend > 0, spend, np.nan)  # draws in chunks
    roi = roi.reshape(post.sizes["chain"], post.sizes["draw"], -1)
    post["roi"] = (("chain", "draw", "channel"), roi)
    idata.posterior = post
    return idata


def _thinned(fit):
    post = fit.posterior
    n = post.sizes["chain"] * post.sizes["draw"]
    return post.isel(draw=slice(None, None, max(1, -(-n // PRIOR_DRAWS))))


def _settings(fit, overrides: dict, cells: int) -> sampling.SamplerSettings:
    """The parent's sampler settings with ``overrides``; precision is chosen afresh
    ("auto", for the refreshed model's size) unless given."""
    s = fit.settings
    keep = {k: getattr(s, k) for k in ("sampler", "draws", "tune", "chains", "cores", "seed", "target_accept", "max_treedepth", "backend", "mass_matrix",
                                    "precision")}
    keep["chain_processes"] = None  # auto again, for the refreshed model's size
    unknown = sorted(set(overrides) - set(keep))
    if unknown:
        raise RefreshError(f"unknown fit argument(s) {unknown}; refresh accepts {sorted(keep)}")
    keep["precision"] = "auto"
    keep.update(overrides)
    if keep["backend"] not in sampling.BACKENDS:
        keep["backend"] = "auto"
    settings = sampling.SamplerSettings(method="nuts", **keep)
    sampling.check_settings(settings, cells)
    return settings


def _lift_tests(fit, lift_tests, panel, data):
    """The parent's lift tests plus any new ones, placed on the merged panel."""
    from geommm.data import read_lift_tests_for_panel

    tables = [] if fit.lift_tests is None else [fit.lift_tests]
    if lift_tests is not None:
        spend = {m.name: m.spend for m in fit.spec.media}
        tables.append(read_lift_tests_for_panel(lift_tests, panel, spend))
    if not tables:
        return None, None
    lifts = pl.concat(tables, how="diagonal_relaxed") if len(tables) > 1 else tables[0]
    return lifts, build_lift_cells(lifts, data)

