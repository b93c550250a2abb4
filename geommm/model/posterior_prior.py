"""The previous posterior as the prior: a Gaussian over the geo-level parameters.

A sequential refresh fits the new weeks only; what the old weeks taught is carried by
the previous posterior. The KPI of a geo-week depends on the parameters only through
the geo-level values the trace already stores (``baseline_geo``, ``media_effect``,
``retention``, ``half_saturation``, the curves' channel parameters, ``season_geo``,
``trend_geo``, ``control_geo``, ``noise_sd``): their meaning is fixed by the frozen
scaling alone, with no panel-wide normaliser in them (the ROI parameter and the geo
level are defined by sums over the fitted weeks; ``media_effect`` and ``baseline_geo``
are not). So the Gaussian is fitted to those values, each on an unconstrained scale
(log of a positive value, logit of a share), with the covariance shrunk towards its
diagonal when there are too few draws per dimension for a sample covariance
and optionally inflated. The hyper-parameters (geo spreads, national means) drop out:
given the geo-level values they do not touch the likelihood of new weeks.

The sampler works in whitened coordinates, ``theta = mean + L z`` with ``z ~ N(0, I)``
and ``L`` the covariance's Cholesky factor: the posterior in ``z`` is close to a unit
Gaussian, which NUTS with a diagonal mass matrix samples in few leapfrog steps (a dense
correlated Gaussian makes it take many more; docs/refresh.md has the measurement).
Everything here is vectorised numpy; only ``unpack`` also takes PyTensor tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytensor.tensor as pt

from geommm.media.registry import channel_parameter_priors

#: The geo-level parameters the KPI mean is a function of (those present are used).
NATURAL = (
    "baseline_geo", "season_geo", "trend_geo", "control_geo", "retention", "half_saturation",
    *channel_parameter_priors(), "media_effect", "noise_sd", "student_t_nu",
)
#: Parameters in (0, 1): logit scale. Positive ones: log scale. The rest as they are.
LOGIT = frozenset({"retention", "exponent"})
POSITIVE = frozenset({"half_saturation", "media_effect", "noise_sd", "student_t_nu"}) | (
    frozenset(channel_parameter_priors()) - LOGIT
)


@dataclass(frozen=True)
class Gaussian:
    """A multivariate normal over a flat vector: its mean, the lower Cholesky factor of
    its covariance and its sds. Both refresh priors are one of these plus the map from
    the flat vector to the model's parameters."""

    mean: np.ndarray
    chol: np.ndarray
    sd: np.ndarray

    @property
    def n_dim(self) -> int:
        return int(self.mean.size)

    def whiten(self, x: np.ndarray) -> np.ndarray:
        """``z`` with ``x = mean + L z`` (rows of ``x`` are points)."""
        from scipy.linalg import solve_triangular

        return solve_triangular(self.chol, (np.atleast_2d(x) - self.mean).T, lower=True).T


@dataclass(frozen=True, kw_only=True)
class PosteriorPrior(Gaussian):
    """Gaussian over the concatenated unconstrained geo-level values (``names`` order).

    ``links[i]`` is "identity", "log" or "logit"; ``dims`` are the trace's dimension
    names of each value."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    dims: tuple[tuple[str, ...], ...]
    links: tuple[str, ...]

    def flatten(self, values: dict[str, np.ndarray]) -> np.ndarray:
        """Unconstrained flat vectors ``(N, D)`` from natural values ``name -> (N, *shape)``."""
        parts = []
        for name, link in zip(self.names, self.links):
            v = np.asarray(values[name], dtype="float64")
            v = v.reshape(v.shape[0], -1)
            parts.append(_forward(v, link))
        return np.concatenate(parts, axis=1)

    def unpack(self, x, xp=np) -> dict:
        """Natural values from a flat unconstrained vector (numpy ``(..., D)`` or a tensor)."""
        out, start = {}, 0
        for name, shape, link in zip(self.names, self.shapes, self.links):
            size = int(np.prod(shape))
            part = x[..., start : start + size]
            part = part.reshape((*part.shape[:-1], *shape)) if xp is np else part.reshape(shape)
            out[name] = _inverse(part, link, xp)
            start += size
        return out

    @property
    def coords(self) -> dict:
        return {}

    def tensors(self, theta) -> dict:
        """name -> (tensor, dims) of the geo-level values at ``theta`` (a PyTensor vector)."""
        values = self.unpack(theta, xp=pt)
        return {name: (values[name], self.dims[i] or None) for i, name in enumerate(self.names)}


def _forward(v: np.ndarray, link: str) -> np.ndarray:
    if link == "log":
        return np.log(v)
    if link == "logit":
        return np.log(v) - np.log1p(-v)
    return v


def _inverse(u, link: str, xp):
    if link == "log":
        return xp.exp(u)
    if link == "logit":
        return 1.0 / (1.0 + xp.exp(-u))
    return u


def _link(name: str, draws: np.ndarray) -> str:
    if name in LOGIT and np.all((draws > 0) & (draws < 1)):
        return "logit"
    if name in POSITIVE and np.all(draws > 0):
        return "log"
    return "identity"


def auto_shrinkage(n_draws: int, n_dim: int) -> float:
    """No shrinkage when there are at least 5 draws per dimension (the sample covariance
    is then good enough, and shrinking the strong correlations between an effect and
    its curve's parameters distorted the ROI's width: docs/refresh.md), else dims/draws."""
    return 0.0 if n_draws >= 5 * n_dim else min(1.0, n_dim / max(n_draws, 1))


def fit_posterior_prior(
    posterior, shrinkage: float | None = None, inflation: float = 1.0, names: tuple[str, ...] | None = None
) -> PosteriorPrior:
    """Gaussian approximation of a posterior's geo-level values (an arviz posterior
    Dataset): mean and covariance of the unconstrained draws, the covariance shrunk
    towards its diagonal by ``shrinkage`` (0 = sample covariance, 1 = independent) and
    every sd multiplied by ``inflation`` (> 1 widens it: a guard against a too-confident
    prior); ``shrinkage=None`` picks :func:`auto_shrinkage`. Vectorised: milliseconds
    for hundreds of dimensions."""
    check_shrinkage(shrinkage, inflation)
    names = tuple(n for n in (names or NATURAL) if n in posterior)
    values, shapes, dims, links = {}, [], [], []
    for name in names:
        arr = np.asarray(posterior[name].values, dtype="float64")
        values[name] = arr.reshape(-1, *arr.shape[2:])
        shapes.append(tuple(arr.shape[2:]))
        dims.append(tuple(posterior[name].dims[2:]))
        links.append(_link(name, values[name]))
    layout = {"names": names, "shapes": tuple(shapes), "dims": tuple(dims), "links": tuple(links)}
    draft = PosteriorPrior(mean=np.zeros(0), chol=np.zeros((0, 0)), sd=np.zeros(0), **layout)
    mean, chol, sd = gaussian(draft.flatten(values), shrinkage, inflation)
    return PosteriorPrior(mean=mean, chol=chol, sd=sd, **layout)


def check_shrinkage(shrinkage: float | None, inflation: float) -> None:
    if shrinkage is not None and not 0 <= shrinkage <= 1:
        raise ValueError(f"prior_shrinkage must be in [0, 1], got {shrinkage}")
    if not inflation > 0:
        raise ValueError(f"prior_inflation must be > 0, got {inflation}")


def gaussian(flat: np.ndarray, shrinkage: float | None, inflation: float):
    """Mean, Cholesky factor and sds of draws ``(N, D)``: the sample covariance shrunk
    towards its diagonal (``None``: :func:`auto_shrinkage`) and widened by ``inflation``."""
    if shrinkage is None:
        shrinkage = auto_shrinkage(*flat.shape)
    mean = flat.mean(axis=0)
    centred = flat - mean
    cov = centred.T @ centred / max(flat.shape[0] - 1, 1)
    var = np.maximum(np.diag(cov), 1e-12)
    cov = (1.0 - shrinkage) * cov
    cov[np.diag_indices_from(cov)] = var
    cov = cov * inflation**2
    return mean, _cholesky(cov), np.sqrt(np.diag(cov))


def _cholesky(cov: np.ndarray) -> np.ndarray:
    jitter = 1e-10 * float(np.mean(np.diag(cov)))
    for _ in range(8):
        try:
            return np.linalg.cholesky(cov + jitter * np.eye(len(cov)))
        except np.linalg.LinAlgError:
            jitter *= 100
    raise np.linalg.LinAlgError("the previous posterior's covariance is not positive definite")
