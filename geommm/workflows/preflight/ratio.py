"""Data-to-parameter ratio: how many observations inform each free parameter?

The count follows the model graph (``geommm/model/build.py``) term by term:
national parameters (levels, seasonality, trend, control effects, each channel's
ROI, carryover, saturation and their geo spreads) and the geo-level ones every
geo adds (its level, seasonality, trend, geo-varying controls, noise, and per
channel its carryover, half-saturation and effect deviation). With partial
pooling a geo parameter costs less than a free one, so a low ratio does not
stop the fit; it says the geo-level numbers will lean on the pooling and the priors.

Thresholds:

- ``data_to_parameter`` (warning, worded as the strongest one): fewer observations
  (geo-weeks plus lift tests) than free parameters. Not blocking: with partial pooling
  and proper priors the posterior is still defined, it just leans on the priors (a short
  time slice of a real panel, e.g. in ``fit-many``, must still fit).
- ``data_to_parameter`` (warning): fewer than ``RATIO_WARNING`` observations per
  parameter, overall or in a geo (its weeks per geo-level parameter, plus its share
  of the national ones); otherwise one info row with the ratio.
"""

from __future__ import annotations

from dataclasses import dataclass

from geommm.formula import ModelSpec
from geommm.media import MediaTransform
from geommm.workflows.preflight.design import Design
from geommm.workflows.preflight.findings import Finding, fmt

#: Observations per free parameter below which geo-level estimates lean on the priors.
RATIO_WARNING = 2.0


@dataclass(frozen=True)
class ParameterCount:
    """Free parameters of the model: national ones and those each geo adds."""

    national: int
    per_geo: int  # geo-level parameters of one geo running every channel
    per_geo_base: int  # of which not tied to a channel (level, seasonality, trend, ...)
    total: int


def parameter_count(
    spec: ModelSpec, n_geos: int, n_controls: int, n_varying: int, n_fourier: int,
    likelihood: str = "normal",
) -> ParameterCount:
    """Free parameters of the model ``build_pymc_model`` makes for this formula and panel.

    ``n_controls`` counts control design columns (a categorical adds one per level
    kept), ``n_varying`` those with a ``(x | geo)`` term, ``n_fourier`` the Fourier columns.
    """
    G, C = n_geos, len(spec.media)
    pooled = G > 1
    transform = MediaTransform.for_terms(spec.media, max(m.max_lag for m in spec.media))
    half = transform.uses_half_saturation()
    national = 1 + (spec.geo_intercept and pooled)  # level, its geo spread
    national += n_fourier + (n_fourier > 0 and pooled)
    national += (spec.trend is not None) * (1 + pooled)
    national += n_controls + (n_varying if pooled else 0)
    per_channel = 2 * (1 + pooled) if half else 1 + pooled  # retention (+ half-saturation) + spreads
    per_channel += len(transform.channel_parameters()) + 1 + pooled  # slope, ...; roi + spread
    national += C * per_channel
    national += likelihood == "studentt"
    if not pooled:
        return ParameterCount(int(national + 1), 0, 0, int(national + 1))  # + noise
    base = spec.geo_intercept + n_fourier + (spec.trend is not None) + n_varying + 1  # noise
    per_geo = base + C * (1 + half)  # carryover (+ half-saturation) per channel
    # effect and seasonality deviations sum to zero over geos: one fewer per channel, per column
    total = national + G * per_geo + (G - 1) * C - n_fourier
    return ParameterCount(int(national), int(per_geo + C), int(base), int(total))


def count_for(design: Design) -> ParameterCount:
    """The count for a design (control columns as the model builds them when it can)."""
    spec, G = design.spec, len(design.geos)
    if design.data is not None:
        k, kv = len(design.data.control_names), int(design.data.geo_varying.sum())
        f = design.data.fourier.shape[1]
    else:
        k, kv = len(spec.controls), len(spec.geo_varying)
        f = sum(2 * t.order for t in spec.fourier)
    return parameter_count(spec, G, k, kv, f, design.likelihood)


def check(design: Design) -> list[Finding]:
    """Observations per free parameter, overall and per geo."""
    G, T = design.kpi.shape
    n_lift = 0 if design.lift_tests is None else design.lift_tests.height
    count = count_for(design)
    observations = G * T + n_lift
    ratio = observations / count.total
    where = f"{G} geo(s) x {T} weeks" + (f" + {n_lift} lift test(s)" if n_lift else "")
    if observations < count.total:
        return [Finding(
            "warning", "data_to_parameter",
            f"the formula has {count.total} free parameters but the data hold only "
            f"{observations} observations ({where}; ratio {fmt(ratio)} < 1): the data cannot "
            "learn them and the answers will be the priors'; use fewer terms (channels, Fourier order, (x | geo) controls) or "
            "more weeks or geos.",
            value=ratio, threshold=1.0,
        )]
    if ratio < RATIO_WARNING:
        return [Finding(
            "warning", "data_to_parameter",
            f"{fmt(ratio)} observations per free parameter ({observations} for {count.total}; "
            f"< {fmt(RATIO_WARNING)}): geo-level estimates will lean on the pooling and the "
            "priors; fewer terms or more weeks sharpen them.",
            value=ratio, threshold=RATIO_WARNING,
        )]
    out = [Finding(
        "info", "data_to_parameter",
        f"{fmt(ratio)} observations per free parameter ({observations} for {count.total}).",
        value=ratio, threshold=RATIO_WARNING,
    )]
    if count.per_geo:
        out += _per_geo(design, count)
    return out


def _per_geo(design: Design, count: ParameterCount) -> list[Finding]:
    """Each geo's weeks per geo-level parameter, counting only the channels it runs."""
    T = design.kpi.shape[1]
    C = len(design.channels)
    per_channel = (count.per_geo - count.per_geo_base) / max(C, 1)
    active = (design.spend.sum(axis=1) > 0).sum(axis=1)  # (G,) channels running
    out = []
    for g, geo in enumerate(design.geos):
        n = count.per_geo_base + per_channel * active[g]
        if T / n < RATIO_WARNING:
            out.append(Finding(
                "warning", "data_to_parameter",
                f"geo {geo!r} has {T} weeks for {fmt(n)} geo-level parameters ({fmt(T / n)} per "
                f"parameter < {fmt(RATIO_WARNING)}): its own numbers will lean on the pooling "
                "towards the other geos.",
                value=T / n, threshold=RATIO_WARNING, geo=geo,
            ))
    return out
