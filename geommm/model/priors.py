"""Default priors, user overrides, and the ROI prior a marketer can state directly.

All priors live in scaled units (KPI / per-geo KPI scale, media / per-geo-channel
media scale), so the defaults fit any currency or KPI size. The media effect is
parameterised by each channel's national ROI: a prior stated as "ROI likely
between 2 and 4" is placed on exactly that quantity, and a channel with little
data falls back to the average ROI rather than to an arbitrary effect size.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from geommm.errors import PriorError
from geommm.media import Adstock, adstock_kind, channel_parameter_priors
from geommm.media.frequency import RF_PRIORS
from geommm.model.time_path import PATH_PRIORS

DISTRIBUTIONS = ("Normal", "HalfNormal", "LogNormal", "Beta", "Gamma")
_PARAMS = {
    "Normal": ("mu", "sigma"),
    "HalfNormal": ("sigma",),
    "LogNormal": ("mu", "sigma"),
    "Beta": ("alpha", "beta"),
    "Gamma": ("alpha", "beta"),
}

#: Media parameters that may be set per channel: ``priors={"tv": {"roi": (2, 4)}}``:
#: the pooled ones every channel has, then those the adstock and saturation kinds add.
CHANNEL_PARAMETERS = (
    "roi",
    "effect_geo_sd",
    "retention_logit",
    "retention_geo_sd",
    "half_saturation_log",
    "half_saturation_geo_sd",
    *channel_parameter_priors(),
    *PATH_PRIORS,  # only channels written media(..., varying=...) use these
)
#: Assumed media share of the KPI behind the default ROI prior centre.
DEFAULT_MEDIA_SHARE = 0.2
#: Prior names of earlier releases -> today's; the old ones still work for one release
#: (with a DeprecationWarning). ``kpi_level`` is the variable the level prior always
#: created; ``effect_geo_sd`` spreads the log media *effect*, not the ROI.
RENAMED_PRIORS = {
    "intercept": "kpi_level",
    "intercept_geo_sd": "kpi_level_geo_sd",
    "roi_geo_sd": "effect_geo_sd",
}


@dataclass(frozen=True)
class Prior:
    """A named distribution with its parameters, e.g. ``Prior("Normal", mu=0, sigma=1)``."""

    dist: str
    params: dict = field(default_factory=dict)
    note: str = ""

    def __init__(self, dist: str, note: str = "", **params: float) -> None:
        if dist not in DISTRIBUTIONS:
            raise PriorError(f"unknown distribution {dist!r}; use one of {DISTRIBUTIONS}")
        expected = set(_PARAMS[dist])
        if set(params) != expected:
            raise PriorError(f"{dist} prior needs parameters {sorted(expected)}, got {sorted(params)}")
        for k, v in params.items():
            arr = np.asarray(v, dtype="float64")
            if not np.all(np.isfinite(arr)):
                raise PriorError(f"{dist} prior parameter {k}={v!r} must be finite")
            if k != "mu" and np.any(arr <= 0):
                raise PriorError(f"{dist} prior parameter {k}={v!r} must be positive")
        object.__setattr__(self, "dist", dist)
        object.__setattr__(self, "params", dict(params))
        object.__setattr__(self, "note", note)

    def create(self, name: str, dims=None, shape=None):
        """The PyMC random variable for this prior (inside a model context)."""
        import pymc as pm

        return getattr(pm, self.dist)(name, **self.params, dims=dims, shape=shape)

    def describe(self) -> str:
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        return f"{self.dist}({args})"

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        p = {k: np.asarray(v, dtype="float64") for k, v in self.params.items()}
        if self.dist == "Normal":
            return rng.normal(p["mu"], p["sigma"], size=(n, *np.shape(p["mu"])))
        if self.dist == "HalfNormal":
            return np.abs(rng.normal(0, p["sigma"], size=(n, *np.shape(p["sigma"]))))
        if self.dist == "LogNormal":
            return rng.lognormal(p["mu"], p["sigma"], size=(n, *np.shape(p["mu"])))
        if self.dist == "Beta":
            return rng.beta(p["alpha"], p["beta"], size=(n, *np.shape(p["alpha"])))
        return rng.gamma(p["alpha"], 1.0 / p["beta"], size=(n, *np.shape(p["alpha"])))


def _fmt(v: Any) -> str:
    arr = np.asarray(v)
    if arr.ndim == 0:
        return f"{float(arr):.4g}"
    return "[" + ", ".join(f"{x:.3g}" for x in arr.ravel()) + "]"


def roi_prior_from_interval(low: float, high: float, mass: float = 0.9) -> Prior:
    """LogNormal ROI prior with ``mass`` of its probability between ``low`` and ``high``."""
    if not (low > 0 and high > low):
        raise PriorError(f"ROI interval ({low}, {high}) needs 0 < low < high")
    z = stats.norm.ppf(0.5 + mass / 2)
    mu = 0.5 * (math.log(low) + math.log(high))
    sigma = (math.log(high) - math.log(low)) / (2 * z)
    return Prior("LogNormal", mu=mu, sigma=sigma, note=f"{mass:.0%} between {low:g} and {high:g}")


def default_priors(channels: Sequence[str], default_roi: float) -> dict[str, Prior]:
    """The defaults, in scaled units. ``default_roi`` is the ROI at which media would
    explain DEFAULT_MEDIA_SHARE of the KPI (data-driven centre, wide spread)."""
    return {
        "kpi_level": Prior("Normal", mu=1.0, sigma=0.5, note="geo mean KPI level, share of mean KPI"),
        "kpi_level_geo_sd": Prior("HalfNormal", sigma=0.2, note="spread of geo mean levels"),
        "control_effect": Prior("Normal", mu=0.0, sigma=0.2, note="per standardised control"),
        "control_geo_sd": Prior("HalfNormal", sigma=0.05, note="geo spread of (x | geo) effects"),
        "seasonality": Prior("Normal", mu=0.0, sigma=0.2, note="Fourier coefficients"),
        "season_geo_sd": Prior("HalfNormal", sigma=0.05, note="geo spread of seasonality"),
        "trend": Prior("Normal", mu=0.0, sigma=0.2, note="change over the panel, share of KPI"),
        "trend_geo_sd": Prior("HalfNormal", sigma=0.05, note="geo spread of the trend"),
        "smooth_lengthscale": Prior("LogNormal", mu=math.log(26.0), sigma=0.4, note="weeks over which the smooth(time) baseline changes"),
        "smooth_amplitude": Prior("HalfNormal", sigma=0.1, note="sd of the smooth(time) baseline, share of KPI"),
        "smooth_geo_amplitude": Prior("HalfNormal", sigma=0.03, note="sd of a geo's deviation from the smooth baseline"),
        "synergy": Prior("Normal", mu=0.0, sigma=0.1, note="synergy(a, b), national: weekly KPI (share of geo mean) with both channels saturated; sign-free"),
        "synergy_geo_sd": Prior("HalfNormal", sigma=0.03, note="geo spread of a synergy coefficient"),
        "noise_sd": Prior("HalfNormal", sigma=0.15, note="per-geo residual sd, share of KPI"),
        "student_t_nu": Prior("Gamma", alpha=2.0, beta=0.1, note="StudentT degrees of freedom"),
        "roi": Prior(
            "LogNormal",
            mu=math.log(default_roi),
            sigma=1.0,
            note=f"national ROI; centre = media explaining {DEFAULT_MEDIA_SHARE:.0%} of KPI",
        ),
        "effect_geo_sd": Prior("Gamma", alpha=2.0, beta=5.0, note="geo spread of the log media effect (pooled towards equal effects)"),
        "retention_logit": Prior("Normal", mu=-0.5, sigma=1.0, note="logit weekly carryover"),
        "retention_geo_sd": Prior("HalfNormal", sigma=0.3, note="geo spread of logit carryover"),
        "half_saturation_log": Prior("Normal", mu=0.0, sigma=0.7, note="log half-saturation, scaled"),
        "half_saturation_geo_sd": Prior("Gamma", alpha=2.0, beta=8.0, note="geo spread of log K"),
        "effect_path_lengthscale": Prior(
            "LogNormal", mu=math.log(26.0), sigma=0.4,
            note="weeks over which a varying channel's effectiveness changes (median 26)",
        ),
        "effect_path_amplitude": Prior(
            "HalfNormal", sigma=0.15,
            note="sd of a varying channel's log effectiveness over time; mass near 0 keeps a static channel static",
        ),
        "effect_path_geo_amplitude": Prior(
            "HalfNormal", sigma=0.05, note="sd of a geo's deviation from the national path (varying='geo')",
        ),
        **{
            name: Prior(spec.dist, note=spec.note, **spec.params)
            for name, spec in {**channel_parameter_priors(), **RF_PRIORS}.items()
        },
    }


def _as_prior(value: Any, key: str) -> Prior:
    if isinstance(value, Prior):
        return value
    if isinstance(value, Mapping):
        d = dict(value)
        dist = d.pop("dist", None)
        if dist is None:
            raise PriorError(f"prior for {key!r} needs 'dist', e.g. {{'dist': 'Normal', 'mu': 0, 'sigma': 1}}")
        return Prior(dist, **d)
    if isinstance(value, (tuple, list)) and len(value) == 2 and key.endswith("roi"):
        return roi_prior_from_interval(float(value[0]), float(value[1]))
    raise PriorError(
        f"cannot read the prior for {key!r} from {value!r}: use Prior(...), a dict with 'dist', "
        "or for ROI a (low, high) 90% interval"
    )


@dataclass
class PriorSet:
    """Resolved priors: shared ones by name, media ones as per-channel vectors."""

    shared: dict[str, Prior]
    channel: dict[str, Prior]  # vectorised over channels (same family per parameter)
    channels: tuple[str, ...]
    #: organic(...) / treatment(...) priors, each vectorised over its terms' names (``term_names``)
    terms: dict[str, Prior] = field(default_factory=dict)
    term_names: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def table(self, adstocks: Sequence[str] | None = None, varying: Sequence[Any] | None = None,
              smooth: bool = False, synergy: bool = False, reach_frequency: bool = False) -> pl.DataFrame:
        """One row per prior (and channel). With the channels' adstock kinds, a channel
        whose kind gives ``retention`` another meaning (Weibull: the scale as a share of
        max_lag) says so in its ``retention_logit`` note. The time-path priors are listed
        only for channels ``varying`` marks (their ``media(..., varying=)``), the smooth
        baseline's with ``smooth`` (the formula has ``smooth(time)``), the synergy
        priors with ``synergy`` (it has ``synergy(a, b)``), the frequency curve's with
        ``reach_frequency`` (it has a ``media(reach=..., frequency=...)`` channel)."""
        varying = [False] * len(self.channels) if varying is None else list(varying)
        rows = [
            {"parameter": k, "channel": "", "prior": p.describe(), "note": p.note}
            for k, p in self.shared.items()
            if (smooth or not k.startswith("smooth_")) and (synergy or not k.startswith("synergy"))
            and (reach_frequency or k not in RF_PRIORS)
        ]
        for k, p in self.channel.items():
            for i, ch in enumerate(self.channels):
                if k in PATH_PRIORS and (not varying[i] or (k == "effect_path_geo_amplitude" and varying[i] != "geo")):
                    continue
                params = {n: float(np.asarray(v).reshape(-1)[i]) for n, v in p.params.items()}
                desc = Prior(p.dist, **params).describe()
                note = p.note
                if k == "retention_logit" and adstocks is not None:
                    note = retention_note(adstocks[i], note)
                rows.append({"parameter": k, "channel": ch, "prior": desc, "note": note})
        for k, p in self.terms.items():  # organic and treatment terms, by name
            for i, name in enumerate(self.term_names[k]):
                params = {n: float(np.asarray(v).reshape(-1)[i]) for n, v in p.params.items()}
                rows.append({"parameter": k, "channel": name, "prior": Prior(p.dist, **params).describe(), "note": p.note})
        return pl.DataFrame(rows)


def retention_note(adstock: str, default: str) -> str:
    """The ``retention_logit`` note for a channel with this adstock kind: ``default``
    where retention is the weekly carryover, else the logit of what it means there."""
    meaning = adstock_kind(adstock).retention_meaning
    return default if meaning == Adstock.retention_meaning else f"logit of the {meaning}"


def current_name(name: str, where: str = "priors") -> str:
    """Today's name for a prior; an old name warns (DeprecationWarning) and is mapped."""
    new = RENAMED_PRIORS.get(name)
    if new is None:
        return name
    warnings.warn(
        f"{where}: the prior name {name!r} is deprecated and will be removed in the next "
        f"release; use {new!r}",
        DeprecationWarning,
        stacklevel=_first_caller_outside_geommm(),
    )
    return new


def current_names(overrides: Mapping[str, Any] | None, channels: Sequence[str] = ()) -> dict[str, Any]:
    """Prior overrides with old names mapped to today's, also inside a channel's table
    (``{"tv": {"roi_geo_sd": ...}}``), order kept; naming one prior twice is a PriorError."""

    def mapped(items: Mapping[str, Any], where: str, skip: Sequence[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items.items():
            new = key if key in skip else current_name(key, where)
            if new in out:
                raise PriorError(f"{where}: {key!r} and {new!r} name the same prior; keep only {new!r}")
            out[new] = value
        return out

    out = mapped(overrides or {}, "priors", skip=channels)
    for key in channels:
        if isinstance(out.get(key), Mapping):
            out[key] = mapped(out[key], f"priors[{key!r}]", skip=())
    return out


def _first_caller_outside_geommm() -> int:
    """``stacklevel`` for a warning raised in the caller, pointing at the first line
    outside geommm (Python shows a DeprecationWarning by default only there)."""
    import sys

    level, frame = 1, sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "geommm":
        frame, level = frame.f_back, level + 1
    return level


def resolve_priors(
    overrides: Mapping[str, Any] | None, channels: Sequence[str], default_roi: float, spec=None,
    level: Mapping[str, Any] | None = None,
) -> PriorSet:
    """Merge user overrides into the defaults and check every name; with ``spec``, the
    priors of its organic(...) and treatment(...) terms too (``nonmedia_priors.py``).
    ``level`` replaces the default ``kpi_level`` prior (a log KPI: ``model/log_kpi.py``)."""
    from geommm.model.nonmedia_priors import split_overrides  # it builds on this module

    overrides, term_priors, term_names = split_overrides(current_names(overrides, channels), spec)
    defaults = default_priors(channels, default_roi)
    if level is not None:
        d = dict(level)
        defaults["kpi_level"] = Prior(d.pop("dist"), note=d.pop("note", ""), **d)
    shared = {k: v for k, v in defaults.items() if k not in CHANNEL_PARAMETERS}
    per_channel: dict[str, list[Prior]] = {
        k: [defaults[k]] * len(channels) for k in CHANNEL_PARAMETERS
    }
    for key, value in (overrides or {}).items():
        if key in channels:
            if not isinstance(value, Mapping):
                raise PriorError(f"priors[{key!r}] must be a dict such as {{'roi': (2, 4)}}")
            for param, spec in value.items():
                if param not in CHANNEL_PARAMETERS:
                    raise PriorError(
                        f"priors[{key!r}][{param!r}]: unknown media parameter; "
                        f"choose from {CHANNEL_PARAMETERS}"
                    )
                per_channel[param][channels.index(key)] = _as_prior(spec, param)
        elif key in CHANNEL_PARAMETERS:
            per_channel[key] = [_as_prior(value, key)] * len(channels)
        elif key in shared:
            shared[key] = _as_prior(value, key)
        else:
            known = sorted(set(defaults) | set(channels))
            raise PriorError(f"priors: unknown name {key!r}; known names are {known}")
    channel_priors = {k: _stack(k, v) for k, v in per_channel.items()}
    return PriorSet(shared=shared, channel=channel_priors, channels=tuple(channels),
                    terms=term_priors, term_names=term_names)


def _stack(name: str, priors: list[Prior]) -> Prior:
    families = {p.dist for p in priors}
    if len(families) != 1:
        raise PriorError(
            f"prior {name!r}: every channel must use the same distribution family "
            f"(got {sorted(families)}); change the parameters instead"
        )
    dist = priors[0].dist
    params = {k: np.array([p.params[k] for p in priors], dtype="float64") for k in _PARAMS[dist]}
    notes = {p.note for p in priors}
    return Prior(dist, note="; ".join(sorted(n for n in notes if n)), **params)
