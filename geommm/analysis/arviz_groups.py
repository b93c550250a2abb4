"""The InferenceData groups arviz expects, filled from the posterior draws in numpy.

``observed_data``, ``constant_data`` and ``log_likelihood`` make ``az.loo`` and
``az.compare`` work on a fit; ``posterior_predictive`` makes ``az.plot_ppc`` work.
The pointwise log-likelihood is the model's own: the KPI per geo-week in the
model's scaled units (KPI / the geo's KPI scale, Normal or StudentT) and each lift
test in KPI units. It is recomputed from the draws with the forward model (no PyMC
run, no compile), in memory-bounded chunks of draws.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import gammaln

from geommm.analysis.draws import draw_chunks, posterior_draws
from geommm.analysis.forward import ForwardModel

#: Units of the "kpi" variable in observed_data, log_likelihood and posterior_predictive.
KPI_UNITS = "KPI / the geo's KPI scale (constant_data kpi_scale), as in the model's likelihood"
#: The same for ``log(KPI) ~ ...`` (docs/log_kpi.md).
LOG_KPI_UNITS = "log of KPI / the geo's KPI scale (constant_data kpi_scale), as in the model's likelihood"


def add_missing(fit, idata) -> None:
    """Add to ``idata`` (``fit``'s own) the groups of :data:`GROUPS` it lacks. ``Fit.idata``
    calls this on first read, so a fit pays for its pointwise log-likelihood only when
    arviz or a save asks for it. The groups are built from ``fit.posterior``, never from
    ``fit.idata``."""
    present = set(idata.groups())
    for group, make in GROUPS.items():
        if group not in present:
            idata.add_groups({group: make(fit)})


def observed_data(fit) -> xr.Dataset:
    """The model's observed variables: kpi (scaled) and, with lift tests, lift_observed."""
    data = fit.data
    ds = xr.Dataset(
        {"kpi": (("geo", "time"), data.kpi_scaled, {"units": LOG_KPI_UNITS if data.log_kpi else KPI_UNITS})},
        coords={"geo": list(data.geos), "time": data.times},
    )
    cells = fit.lift_cells
    if cells is not None and cells.n_tests:
        ds["lift_observed"] = xr.DataArray(
            cells.lift, dims="lift_test", coords={"lift_test": list(cells.test_ids)},
            attrs={"units": "KPI"},
        )
    return ds


def constant_data(fit) -> xr.Dataset:
    """The model's inputs with named coords: scaled media, spend, scales, controls."""
    data = fit.data
    coords = {"geo": list(data.geos), "time": data.times, "channel": list(data.channels)}
    gtc = ("geo", "time", "channel")
    ds = xr.Dataset(
        {
            "media_scaled": (gtc, data.media_scaled, {"units": "media input / media_scale"}),
            "spend": (gtc, data.spend),
            "media_scale": (("geo", "channel"), data.media_scale),
            "kpi_scale": ("geo", data.kpi_scale),
        },
        coords=coords,
    )
    if data.controls.shape[-1]:
        ds["controls"] = xr.DataArray(
            data.controls, dims=("geo", "time", "control"),
            coords={"control": list(data.control_names)}, attrs={"units": "standardised"},
        )
    cells = fit.lift_cells
    if cells is not None and cells.n_tests:
        ds["lift_se"] = xr.DataArray(
            cells.lift_se, dims="lift_test", coords={"lift_test": list(cells.test_ids)}
        )
    return ds


def log_likelihood(fit) -> xr.Dataset:
    """Pointwise log-likelihood per draw: kpi (chain, draw, geo, time), lift_observed."""
    y = fit.data.kpi_scaled

    def kpi(forward: ForwardModel) -> np.ndarray:
        nu = forward.draws.get("student_t_nu")
        return _pointwise(y[None], forward.model_mean(), forward.draws["noise_sd"][:, :, None],
                          None if nu is None else nu[:, None, None])

    return _per_draw(fit, kpi, lambda cells, implied: _pointwise(cells.lift, implied, cells.lift_se, None))


def sample_posterior_predictive(fit, seed: int | None = 0):
    """Fill ``posterior_predictive`` with kpi (scaled units, with noise) and lift_observed
    draws, one per posterior draw; returns the InferenceData."""
    rng = np.random.default_rng(seed)

    def kpi(forward: ForwardModel) -> np.ndarray:
        mu = forward.model_mean()
        if "student_t_nu" in forward.draws:
            noise = rng.standard_t(np.broadcast_to(forward.draws["student_t_nu"][:, None, None], mu.shape))
        else:
            noise = rng.standard_normal(mu.shape)
        return mu + forward.draws["noise_sd"][:, :, None] * noise

    units = LOG_KPI_UNITS if fit.data.log_kpi else KPI_UNITS
    ds = _per_draw(fit, kpi, lambda cells, implied: implied + cells.lift_se * rng.standard_normal(implied.shape),
                   {"units": units})
    _replace(fit.idata, "posterior_predictive", ds)  # fit.idata adds observed_data, which plot_ppc reads
    return fit.idata


def _pointwise(y, mu, sd, nu) -> np.ndarray:
    """Normal (``nu`` None) or StudentT log density, as PyMC writes it."""
    z = (y - mu) / sd
    if nu is None:
        return -0.5 * z**2 - np.log(sd) - 0.5 * np.log(2 * np.pi)
    return (
        gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi) - np.log(sd)
        - (nu + 1) / 2 * np.log1p(z**2 / nu)
    )


def _per_draw(fit, kpi_of, lift_of, attrs: dict | None = None) -> xr.Dataset:
    """kpi (chain, draw, geo, time) from ``kpi_of(forward)`` over every draw in chunks and,
    with lift tests, lift_observed (chain, draw, lift_test) from ``lift_of(cells, implied)``."""
    chains, per = _chain_draw(fit)
    data = fit.data
    kpi = np.concatenate([kpi_of(fw) for fw in _forward_chunks(fit)])
    ds = xr.Dataset(
        {"kpi": (("chain", "draw", "geo", "time"), kpi.reshape(chains, per, *kpi.shape[1:]), attrs or {})},
        coords=_coords(chains, per) | {"geo": list(data.geos), "time": data.times},
    )
    cells = fit.lift_cells
    post = fit.posterior
    if cells is not None and cells.n_tests and "lift_implied" in post:
        ds["lift_observed"] = xr.DataArray(
            lift_of(cells, post["lift_implied"].values),
            dims=("chain", "draw", "lift_test"), coords={"lift_test": list(cells.test_ids)},
        )
    return ds


#: The groups a fit's InferenceData carries beyond posterior and sample_stats.
GROUPS = {"observed_data": observed_data, "constant_data": constant_data, "log_likelihood": log_likelihood}


def _forward_chunks(fit):
    """The forward model over every posterior draw (not the analysis' thinned set), in chunks."""
    draws = posterior_draws(fit, max_draws=None)
    data = fit.data
    cells = data.n_geos * (data.n_times + data.max_lag) * data.n_channels * data.max_lag
    for chunk in draw_chunks(draws, cells):
        yield ForwardModel(fit.spec, data, chunk, shift_from=fit.shift_from)


def _chain_draw(fit) -> tuple[int, int]:
    post = fit.posterior
    return post.sizes["chain"], post.sizes["draw"]


def _coords(chains: int, per: int) -> dict:
    return {"chain": np.arange(chains), "draw": np.arange(per)}


def _replace(idata, group: str, ds: xr.Dataset) -> None:
    if group in idata.groups():
        del idata[group]
    idata.add_groups({group: ds})
