"""The previous posterior as the prior: a Gaussian in the sampler's unconstrained space.

A refresh fits new weeks only; what the old weeks taught is carried by the previous
posterior. That posterior is approximated by a multivariate normal over all free
variables on their unconstrained scale (log of an sd, logit of a share, the
zero-sum coordinates of geo deviations), with the covariance shrunk towards its
diagonal (sample covariance of a few thousand draws over hundreds of dimensions is
noisy) and optionally inflated. The model is built with its usual priors and one
``pm.Potential`` then *replaces* them: it subtracts the original log prior of every
free variable (Jacobians included) and adds the Gaussian's log density, so the
model code is untouched and the joint density is likelihood(new weeks) x Gaussian.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor.tensor as pt


@dataclass(frozen=True)
class PosteriorPrior:
    """Gaussian over the concatenated unconstrained free variables (``names`` order).

    ``mean`` (D,), ``chol_precision`` (D, D) lower-triangular L with precision = L L^T;
    ``sizes``/``shapes`` say how the flat vector splits into value variables."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    mean: np.ndarray
    chol_precision: np.ndarray
    sd: np.ndarray  # marginal sds, for reporting and initial points

    @property
    def n_dim(self) -> int:
        return int(self.mean.size)

    def initial_point(self) -> dict[str, np.ndarray]:
        """The Gaussian's mean per value variable (a warm start for the sampler)."""
        out, start = {}, 0
        for name, shape in zip(self.names, self.shapes):
            size = int(np.prod(shape))
            out[name] = self.mean[start : start + size].reshape(shape)
            start += size
        return out


def unconstrained_draws(model: pm.Model, posterior) -> dict[str, np.ndarray]:
    """Posterior draws (an arviz posterior Dataset) of each free variable of ``model``,
    mapped to the unconstrained value space: name of value variable -> (N, *shape)."""
    out = {}
    for rv in model.free_RVs:
        value = model.rvs_to_values[rv]
        if rv.name not in posterior:
            raise KeyError(f"the previous posterior has no variable {rv.name!r}")
        draws = np.asarray(posterior[rv.name].values, dtype="float64")
        draws = draws.reshape(-1, *draws.shape[2:])
        transform = model.rvs_to_transforms.get(rv)
        if transform is not None:
            draws = np.asarray(transform.forward(pt.as_tensor(draws), *rv.owner.inputs).eval())
        out[value.name] = draws
    return out


def fit_gaussian(
    draws: dict[str, np.ndarray], shrinkage: float = 0.2, inflation: float = 1.0, diagonal: bool = False
) -> PosteriorPrior:
    """Gaussian approximation of unconstrained draws: mean, covariance shrunk towards
    its diagonal by ``shrinkage`` (0 = sample covariance, 1 = independent), every sd
    multiplied by ``inflation`` (> 1 widens it: a guard against a too-confident prior)."""
    names = tuple(draws)
    shapes = tuple(tuple(draws[n].shape[1:]) for n in names)
    flat = np.concatenate([draws[n].reshape(draws[n].shape[0], -1) for n in names], axis=1)
    mean = flat.mean(axis=0)
    cov = np.atleast_2d(np.cov(flat, rowvar=False))
    var = np.maximum(np.diag(cov), 1e-12)
    if diagonal:
        cov = np.diag(var)
    else:
        cov = (1.0 - shrinkage) * cov + shrinkage * np.diag(var)
    cov = cov * inflation**2 + 1e-10 * np.eye(len(mean))
    precision = np.linalg.inv(cov)
    chol = np.linalg.cholesky((precision + precision.T) / 2)
    return PosteriorPrior(names, shapes, mean, chol, np.sqrt(np.diag(cov)))


def replace_priors(model: pm.Model, prior: PosteriorPrior) -> pm.Model:
    """Add the Potential that swaps the free variables' priors for ``prior`` (in place)."""
    values = {v.name: v for v in model.value_vars}
    missing = [n for n in prior.names if n not in values]
    if missing or len(prior.names) != len(values):
        raise ValueError(f"posterior prior and model disagree on free variables: {missing or sorted(values)}")
    with model:
        original = model.logp(vars=model.free_RVs, jacobian=True, sum=True)
        x = pt.concatenate([pt.flatten(values[n]) for n in prior.names])
        white = pt.dot(pt.as_tensor(prior.chol_precision.T), x - pt.as_tensor(prior.mean))
        gaussian = -0.5 * pt.sum(white**2)  # constants dropped: they do not move NUTS
        pm.Potential("posterior_prior", gaussian - original)
    return model
