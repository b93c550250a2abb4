"""The deprecated ADVI path (``fit(method="advi")``): PyMC's mean-field ADVI, kept until
it is removed; ``method="laplace"`` is the first look (issue 18)."""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING

import arviz as az
import pymc as pm

if TYPE_CHECKING:
    from geommm.sampling import SamplerSettings


#: ADVI's shortest optimisation (steps), whatever ``tune`` says.
ADVI_MIN_STEPS = 5000


def run_advi(model: pm.Model, s: SamplerSettings, progressbar: bool) -> az.InferenceData:
    """Deprecated: PyMC's ADVI compiles C code and takes minutes where Laplace takes
    seconds, and a JAX variant started at the Laplace solution was no closer to NUTS
    (benchmarks/results/history.md)."""
    warnings.warn(
        "method='advi' is deprecated and will be removed: use method='laplace' (a normal "
        "approximation at the mode, in seconds) for a first look, or 'nuts'",
        DeprecationWarning, stacklevel=4,
    )
    t0 = time.perf_counter()
    with model:
        # ``tune`` sets the optimisation length (40 steps per tuning step, at least 5,000:
        # 20,000 at the default 500, as before that default halved); an early-stopping
        # rule on parameter change stopped it before it had moved
        approx = pm.fit(
            n=max(s.tune * 40, ADVI_MIN_STEPS),
            method="advi",
            random_seed=s.seed,
            progressbar=progressbar,
        )
        idata = approx.sample(draws=s.draws * s.chains, random_seed=s.seed)
    s.sampling_seconds = time.perf_counter() - t0
    return _as_chains(idata, s.chains)


def _as_chains(idata: az.InferenceData, chains: int) -> az.InferenceData:
    """Reshape ADVI's single chain of draws into ``chains`` pseudo-chains."""
    post = idata.posterior
    n = post.sizes["draw"]
    per = n // chains
    if chains <= 1 or per < 1:
        return idata
    post = post.isel(draw=slice(0, per * chains))
    reshaped = {}
    for name, da in post.data_vars.items():
        arr = da.values.reshape(chains, per, *da.shape[2:])
        reshaped[name] = arr
    dims = {name: list(da.dims[2:]) for name, da in post.data_vars.items()}
    coords = {k: v.values for k, v in post.coords.items() if k not in ("chain", "draw")}
    return az.from_dict(posterior=reshaped, dims=dims, coords=coords)
