"""Priors of the organic(...) and treatment(...) terms, overridable by name like the media's.

An organic term has no spend, so no ROI prior can describe it. Its effect is set by
``organic_share``: the share of the KPI (summed over geos and fitted weeks) the term
explains, LogNormal with median 5% and 90% of its mass between about 1% and 26%
— wide, and positive (more exposure never lowers the KPI). A marketer can state it as
an interval: ``priors={"newsletter": {"organic_share": (0.02, 0.08)}}`` (90% between
2% and 8%). The shape priors are the media's, prefixed ``organic_``.

A treatment's ``treatment_effect`` is the KPI change (share of the geo's KPI scale) per
standard deviation of the lever, Normal(0, 0.2) like a control's: sign-free, as a
price rise lowers the KPI and a discount raises it.

Overrides: ``priors={"organic_share": ...}`` (every organic term),
``priors={"newsletter": {"organic_share": ...}}`` (one term, by its name), and the same
for ``treatment_effect`` and the ``organic_*`` shape priors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from geommm.errors import PriorError
from geommm.media import channel_parameter_priors
from geommm.model.priors import Prior, _as_prior, _stack, roi_prior_from_interval

#: The organic share's default median (5% of the KPI).
DEFAULT_ORGANIC_SHARE = 0.05


def organic_defaults() -> dict[str, Prior]:
    """Default priors of one organic term (scaled units, like the media's)."""
    return {
        "organic_share": Prior("LogNormal", mu=math.log(DEFAULT_ORGANIC_SHARE), sigma=1.0,
                               note="share of the KPI the organic term explains (no spend: no ROI)"),
        "organic_effect_geo_sd": Prior("Gamma", alpha=2.0, beta=5.0, note="geo spread of the log organic effect"),
        "organic_retention_logit": Prior("Normal", mu=-0.5, sigma=1.0, note="logit weekly carryover"),
        "organic_retention_geo_sd": Prior("HalfNormal", sigma=0.3, note="geo spread of logit carryover"),
        "organic_half_saturation_log": Prior("Normal", mu=0.0, sigma=0.7, note="log half-saturation, scaled"),
        "organic_half_saturation_geo_sd": Prior("Gamma", alpha=2.0, beta=8.0, note="geo spread of log K"),
        **{f"organic_{k}": Prior(s.dist, note=s.note, **s.params) for k, s in channel_parameter_priors().items()},
    }


def treatment_defaults() -> dict[str, Prior]:
    return {"treatment_effect": Prior("Normal", mu=0.0, sigma=0.2,
                                      note="KPI change (share of KPI scale) per sd of the lever, vs its baseline")}


def split_overrides(overrides: Mapping[str, Any], spec) -> tuple[dict[str, Any], dict[str, Prior], dict[str, tuple]]:
    """``overrides`` without the organic / treatment ones, and those terms' priors stacked
    over their names (``(priors by parameter, names by parameter)``)."""
    organic = tuple(o.name for o in getattr(spec, "organic", ()))
    treatments = tuple(t.name for t in getattr(spec, "treatments", ()))
    if not organic and not treatments:
        return dict(overrides), {}, {}
    groups = [(organic, organic_defaults()), (treatments, treatment_defaults())]
    per_term = {k: [v] * len(names) for names, d in groups for k, v in d.items()}
    owner = {k: names for names, d in groups if names for k in d}
    rest: dict[str, Any] = {}
    for key, value in overrides.items():
        if key in owner:
            per_term[key] = [_prior(value, key)] * len(owner[key])
        elif key in organic or key in treatments:
            names = organic if key in organic else treatments
            if not isinstance(value, Mapping):
                raise PriorError(f"priors[{key!r}] must be a dict such as {{'organic_share': (0.02, 0.1)}}")
            for param, spec_value in value.items():
                if owner.get(param) is not names:
                    known = sorted(k for k in owner if owner[k] is names)
                    raise PriorError(f"priors[{key!r}][{param!r}]: unknown parameter for this term; choose from {known}")
                per_term[param][names.index(key)] = _prior(spec_value, param)
        elif any(key in d for _, d in groups):
            raise PriorError(f"priors: {key!r} is a prior of a term the formula does not have")
        else:
            rest[key] = value
    stacked = {k: _stack(k, v) for k, v in per_term.items() if k in owner}
    return rest, stacked, {k: owner[k] for k in stacked}


def _prior(value: Any, key: str) -> Prior:
    """A Prior from what a user wrote; ``organic_share`` also takes a (low, high) 90% interval."""
    if key == "organic_share" and isinstance(value, (tuple, list)) and len(value) == 2:
        low, high = float(value[0]), float(value[1])
        if not 0 < low < high < 1:
            raise PriorError(f"organic_share interval ({low}, {high}) needs 0 < low < high < 1 (a share of the KPI)")
        p = roi_prior_from_interval(low, high)
        return Prior(p.dist, note=f"share of the KPI, 90% between {low:g} and {high:g}", **p.params)
    return _as_prior(value, key)
