"""Convergence diagnostics: divergences, R-hat and ESS with a plain verdict, and the
per-parameter table, so an analyst knows whether the intervals can be trusted."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import arviz as az
import numpy as np
import polars as pl
import xarray as xr

from geommm.errors import ConvergenceWarning


@dataclass
class Diagnostics:
    """Convergence summary with a plain verdict and advice."""

    divergences: int
    max_r_hat: float
    min_ess_bulk: float
    min_ess_tail: float
    verdict: str
    messages: list[str] = field(default_factory=list)
    method: str = "nuts"

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def __str__(self) -> str:
        head = (
            f"{self.verdict.upper()}: {self.divergences} divergences, max R-hat "
            f"{self.max_r_hat:.3f}, min bulk ESS {self.min_ess_bulk:.0f}, "
            f"min tail ESS {self.min_ess_tail:.0f}"
        )
        return "\n".join([head, *("  - " + m for m in self.messages)])


def parameter_summary(
    fit, var_names: Sequence[str] | None = None, hdi_prob: float = 0.9, *, all: bool = False
) -> pl.DataFrame:
    """Parameter table: parameter, mean, sd, hdi_low, hdi_high, r_hat, ess_bulk, ess_tail.

    Without ``var_names`` it lists the model's own parameters, labelled by their coords
    (``roi[tv]``); ``all=True`` adds the sampler's internals (``roi_log__[0]``)."""
    post = fit.idata.posterior
    if var_names:
        names = list(var_names)
    else:
        names = list(post.data_vars) if all else reported_parameters(fit.idata)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.summary(fit.idata, var_names=names, hdi_prob=hdi_prob, kind="all")
    lo, hi = [c for c in table.columns if c.startswith("hdi_")][:2]
    return pl.DataFrame(
        {
            "parameter": [str(i) for i in table.index],
            "mean": table["mean"].to_numpy(float),
            "sd": table["sd"].to_numpy(float),
            "hdi_low": table[lo].to_numpy(float),
            "hdi_high": table[hi].to_numpy(float),
            "r_hat": table["r_hat"].to_numpy(float),
            "ess_bulk": table["ess_bulk"].to_numpy(float),
            "ess_tail": table["ess_tail"].to_numpy(float),
        }
    )


#: Sampler-side names a reader cannot act on: PyMC's transformed values (``roi_log__``,
#: ``..._zerosum__``) and the non-centred / zero-sum offsets (``..._z``, ``..._u``) whose
#: per-geo result is a parameter of its own.
INTERNAL_NAME = re.compile(r"(__|_z|_u)$")


def is_internal(name: str) -> bool:
    """True for a posterior variable (or ``name[index]`` row) that is sampler plumbing."""
    return bool(INTERNAL_NAME.search(name.split("[", 1)[0]))


def reported_parameters(idata) -> list[str]:
    """Posterior variables worth a row: the model's parameters, not internals or implied lifts."""
    post = idata.posterior
    return [n for n in post.data_vars if not is_internal(n) and n != "lift_implied"]


def diagnostics(fit, r_hat_max: float = 1.01, ess_min: float | None = None) -> Diagnostics:
    """Divergences, max R-hat, min ESS and a verdict ("ok" / "warning" / "fail")."""
    s = fit.settings
    if s.method != "nuts":
        return Diagnostics(
            0, float("nan"), float("nan"), float("nan"), "approximate",
            [f"method={s.method!r} gives an approximation (no convergence checks apply); "
             "refit with method='nuts' for trustworthy intervals"], method=s.method,
        )
    ess_min = ess_min if ess_min is not None else 100.0 * s.chains
    stats = getattr(fit.idata, "sample_stats", None)
    div = int(stats["diverging"].values.sum()) if stats is not None and "diverging" in stats else 0
    post = fit.idata.posterior
    names = [n for n in post.data_vars]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat = az.rhat(post, var_names=names) if s.chains > 1 else None
        ess_b = az.ess(post, var_names=names, method="bulk")
        ess_t = az.ess(post, var_names=names, method="tail")
    max_rhat = _extreme(rhat, np.nanmax) if rhat is not None else float("nan")
    min_b, min_t = _extreme(ess_b, np.nanmin), _extreme(ess_t, np.nanmin)
    total = s.chains * s.draws
    msgs, verdict = [], "ok"
    if div:
        verdict = "fail" if div > 0.01 * total else "warning"
        msgs.append(
            f"{div} divergent transitions ({div / total:.1%} of draws): raise target_accept "
            "(e.g. 0.95), tighten priors of weakly identified channels, or add lift tests"
        )
    if s.chains > 1 and max_rhat > r_hat_max:
        verdict = "fail" if max_rhat > 1.1 else ("warning" if verdict == "ok" else verdict)
        msgs.append(f"max R-hat {max_rhat:.3f} > {r_hat_max}: chains disagree; run longer (more tune/draws)")
    if s.chains == 1:
        msgs.append("one chain only: R-hat cannot be computed; use chains >= 2")
        verdict = "warning" if verdict == "ok" else verdict
    if min(min_b, min_t) < ess_min:
        verdict = "warning" if verdict == "ok" else verdict
        msgs.append(
            f"min ESS bulk {min_b:.0f} / tail {min_t:.0f} < {ess_min:.0f}: intervals are "
            "noisy; draw more samples"
        )
    return Diagnostics(div, max_rhat, min_b, min_t, verdict, msgs)


def warn_if_not_converged(fit) -> None:
    """A ConvergenceWarning (pointing at the caller of ``GeoMMM.fit``) unless NUTS converged."""
    if fit.settings.method != "nuts":
        return
    d = fit.diagnostics()
    if d.verdict != "ok":
        # stacklevel: here <- Fit.warn_if_not_converged <- GeoMMM.fit <- the user's call
        warnings.warn(f"convergence {d}", ConvergenceWarning, stacklevel=4)


def _extreme(ds: xr.Dataset, fn) -> float:
    vals = [np.asarray(v.values, dtype=float).ravel() for v in ds.data_vars.values()]
    vals = np.concatenate(vals) if vals else np.array([np.nan])
    return float(fn(vals)) if np.isfinite(vals).any() else float("nan")
