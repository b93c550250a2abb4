"""The previous posterior as the prior, in the coordinates the sampler used.

A Gaussian fitted to the geo-level values (``posterior_prior.py``) loses what is not
Gaussian in them: a media effect and its curve's half-saturation trade off along a
curved ridge, so the Gaussian's ROI comes out 14-25% wider than the posterior it
summarises, before any new week is seen (6 geos x 104 weeks, 3 channels, 800 draws).
The sampler's own unconstrained coordinates (log ROI, log spreads, standardised geo
deviations) are much closer to Gaussian: the same check gives 0.97-1.12 there.

So this prior is a Gaussian over the parent's unconstrained free variables, mapped to
the geo-level values through the *reference* model's own graph: the first fit's model
on the first fit's weeks, whose normalisers (the ROI's response sums, the level's
average media) give the parameters their meaning. A refreshed fit stores those
unconstrained values (under the sampler's names, e.g. ``roi_log__``) and the weeks of
its reference, so the next refresh does the same again.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import graph_replace

from geommm.model.normaliser import Normaliser, fit_normaliser
from geommm.model.posterior_prior import NATURAL, Gaussian, check_shrinkage, gaussian
from geommm.model.terms.media_effect import SATURATED

#: A stepped reference's own step (a ``full`` refresh with ``effect_shift``) is one of its
#: coordinates; a sequential child stores it under this name, since its own
#: ``effect_shift`` is the new weeks' step, and the next refresh reads it back from there.
REFERENCE_SHIFT = "reference_effect_shift"


@dataclass(frozen=True, kw_only=True)
class SamplerPrior(Gaussian):
    """Gaussian over the reference model's unconstrained values, concatenated in ``values``
    order, with the graph that maps them to the geo-level parameters."""

    values: tuple  # the reference model's value variables
    shapes: tuple[tuple[int, ...], ...]
    outputs: tuple[str, ...]  # geo-level parameter names the graph gives
    graphs: tuple  # their tensors, functions of ``values``
    dims: tuple[tuple[str, ...], ...]  # trace dims of each output
    coords: dict  # the reference model's coordinates of those dims
    #: the quadrature standing in for the reference weeks' response sums in ``graphs``
    #: (None: the exact sums)
    normaliser: Normaliser | None = None

    def tensors(self, theta) -> dict:
        """name -> (tensor, dims): the geo-level parameters at ``theta``, plus each
        unconstrained value under its own name (dims None) for the next refresh."""
        pieces, start = {}, 0
        for var, shape in zip(self.values, self.shapes):
            size = int(np.prod(shape))
            pieces[var] = theta[start : start + size].reshape(shape)
            start += size
        mapped = graph_replace(list(self.graphs), pieces, strict=False)
        out = {name: (t, d) for name, t, d in zip(self.outputs, mapped, self.dims)}
        for var, piece in pieces.items():
            name = REFERENCE_SHIFT if var.name == "effect_shift" else var.name
            if name not in out:
                out[name] = (piece, None)
        return out


def unconstrained_draws(model: pm.Model, posterior) -> tuple[np.ndarray, list, list]:
    """(N, D) draws of the model's unconstrained free values read from ``posterior``
    (the value variable itself when the trace has it, else the free variable mapped
    forward through its transform), with the value variables and their shapes."""
    flat, values, shapes = [], [], []
    for rv in model.free_RVs:
        var = model.rvs_to_values[rv]
        name = REFERENCE_SHIFT if var.name == "effect_shift" and REFERENCE_SHIFT in posterior else var.name
        if name in posterior:
            arr = np.asarray(posterior[name].values, dtype="float64")
            arr = arr.reshape(-1, *arr.shape[2:])
        elif rv.name in posterior:
            arr = np.asarray(posterior[rv.name].values, dtype="float64")
            arr = arr.reshape(-1, *arr.shape[2:])
            transform = model.rvs_to_transforms.get(rv)
            if transform is not None:
                sym = pt.tensor(dtype="float64", shape=(None, *arr.shape[1:]))
                forward = transform.forward(sym, *rv.owner.inputs)
                # an elementwise log or logit on a few thousand draws: PyTensor's Python
                # thunks (numpy), not a C compile (seconds per transform on a cold cache)
                fn = pytensor.function([sym], forward, on_unused_input="ignore", mode="FAST_COMPILE")
                arr = np.asarray(fn(arr))
        else:
            raise KeyError(f"the previous posterior has no draws of {rv.name!r}")
        values.append(var)
        shapes.append(tuple(arr.shape[1:]))
        flat.append(arr.reshape(arr.shape[0], -1))
    return np.concatenate(flat, axis=1), values, shapes


def fit_sampler_prior(
    model: pm.Model, posterior, shrinkage: float | None = None, inflation: float = 1.0,
    *, spec=None, ref_data=None,
) -> SamplerPrior:
    """Gaussian approximation of ``posterior`` in ``model``'s unconstrained coordinates.

    ``model`` is the reference model (built like the fit that made the posterior's
    parameters mean what they mean). ``shrinkage`` pulls the covariance towards its
    diagonal (None: none with >= 5 draws per dimension, else dims/draws); ``inflation``
    widens every sd. With ``spec`` and ``ref_data`` (the model's formula and data) the
    reference weeks' response sums become a quadrature over a few weighted weeks
    (``normaliser.py``) when it is accurate at held-out draws; else they stay exact."""
    check_shrinkage(shrinkage, inflation)
    flat, values, shapes = unconstrained_draws(model, posterior)
    mean, chol, sd = gaussian(flat, shrinkage, inflation)
    names = tuple(n for n in NATURAL if n in model.named_vars)
    graphs = tuple(model.replace_rvs_by_values([model[n] for n in names]))
    dims = tuple(tuple(model.named_vars_to_dims.get(n, ()) or ()) for n in names)
    coords = {d: model.coords[d] for ds in dims for d in ds if d in model.coords}
    normaliser, saturated = None, _named(graphs, SATURATED)
    if spec is not None and ref_data is not None and saturated is not None:
        normaliser = fit_normaliser(spec, ref_data, posterior)
    if normaliser is not None:
        # the graphs use the reference weeks' saturated media only through their sums
        # over weeks: a (G, T, C) tensor with the quadrature's sums spread evenly has them
        total = normaliser.totals(dict(zip(names, graphs)))
        T = normaliser.n_weeks
        graphs = tuple(graph_replace(list(graphs), {saturated: pt.repeat((total / T)[:, None, :], T, axis=1)}))
    return SamplerPrior(
        mean=mean, chol=chol, sd=sd, values=tuple(values), shapes=tuple(shapes), outputs=names,
        graphs=graphs, dims=dims, coords=coords, normaliser=normaliser,
    )


def _named(graphs, name: str):
    """The one variable called ``name`` among the graphs' ancestors (None if not one)."""
    from pytensor.graph.traversal import ancestors

    found = {id(v): v for v in ancestors(list(graphs)) if v.name == name}
    return next(iter(found.values())) if len(found) == 1 else None
