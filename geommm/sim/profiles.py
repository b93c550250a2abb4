"""The simulated market's fixed book: channel profiles, channel names and calendar constants.

Every seed starts from these typical values and jitters them, so the demo and the
recovery tests see channels that behave like tv, search, social ... rather than
arbitrary noise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from geommm.errors import DataError

__all__ = [
    "CHANNEL_NAMES",
    "EXPOSURE_CHANNELS",
    "GEO_SPREAD_EFFECT",
    "GEO_SPREAD_HALF_SATURATION",
    "GEO_SPREAD_RETENTION",
    "KPI_PER_CAPITA",
    "SEASON_PERIOD",
    "START_WEEK",
    "TOTAL_MEDIA_SHARE",
    "channel_names",
    "profile_of",
]

#: Weeks per year: the period of the yearly Fourier seasonality and of the trend unit.
SEASON_PERIOD = 52.18
#: First week of every simulated panel (a Monday).
START_WEEK = "2022-01-03"
#: KPI (revenue) per inhabitant per week: s_g = population_g * KPI_PER_CAPITA.
KPI_PER_CAPITA = 2.0
#: Channels that carry an exposure column used as the model input instead of spend.
EXPOSURE_CHANNELS = {"tv": "impressions"}


@dataclass(frozen=True)
class _Profile:
    """Channel-level truth and buying pattern before per-seed jitter."""

    retention: float  # typical weekly carryover alpha
    half_saturation: float  # typical K in scaled units (1 = average active week)
    slope: float  # Hill slope n
    share: float  # target share of the KPI explained by the channel (national)
    roi: float  # target national ROI; sets the spend level (the response is scale-free)
    flight: str  # "national" (one buying plan), "geo" (per geo) or "always"
    on_weeks: tuple[int, int]  # range of burst lengths
    off_weeks: tuple[int, int]  # range of pause lengths
    off_level: float  # spend in pauses relative to bursts (0 = dark)
    weekly_noise: float = 0.2  # sd of the log week-to-week wobble of spend (each geo)


# S-shaped channels (slope > 1) get K well below their average active level, the
# steeper the lower, so that as in real budgets the next dollar earns less than the
# average one (marginal ROI < ROI; checked for 1800 geo-channels over 30 seeds).
# Spend per unit KPI is share / roi: tv spends ~10x what display does.
_PROFILES: dict[str, _Profile] = {
    "tv": _Profile(0.60, 0.45, 1.8, 0.100, 1.6, "national", (3, 8), (2, 8), 0.0),
    "search": _Profile(0.20, 1.00, 0.8, 0.070, 3.0, "national", (6, 12), (1, 3), 0.35),
    "social": _Profile(0.35, 0.70, 1.4, 0.045, 2.2, "geo", (4, 10), (3, 16), 0.0),
    "display": _Profile(0.30, 0.90, 1.1, 0.012, 2.4, "geo", (6, 16), (6, 26), 0.0),
    "radio": _Profile(0.50, 0.35, 2.5, 0.030, 1.4, "national", (4, 8), (4, 10), 0.0),
    "video": _Profile(0.45, 0.50, 1.5, 0.040, 1.9, "geo", (3, 6), (3, 8), 0.0),
    "ooh": _Profile(0.55, 0.85, 1.2, 0.020, 1.2, "geo", (4, 8), (4, 12), 0.0),
    "email": _Profile(0.15, 1.30, 0.9, 0.010, 6.0, "always", (1, 1), (1, 1), 1.0),
}
#: Channels beyond the book (``channel_08`` ...) all share this profile.
_EXTRA = _Profile(0.40, 0.80, 1.3, 0.020, 2.0, "geo", (3, 10), (2, 10), 0.0)
CHANNEL_NAMES = tuple(_PROFILES)

#: Media explain this share of the KPI in total (lowest, highest).
TOTAL_MEDIA_SHARE = (0.15, 0.35)
#: Spread between geos (sd) of logit retention, log half-saturation and log effect.
GEO_SPREAD_RETENTION, GEO_SPREAD_HALF_SATURATION, GEO_SPREAD_EFFECT = 0.3, 0.2, 0.3


def channel_names(n_channels: int) -> list[str]:
    """``tv, search, social, ...`` cut to ``n_channels``; ``channel_08``... beyond the book."""
    return [
        CHANNEL_NAMES[i] if i < len(CHANNEL_NAMES) else f"channel_{i:02d}"
        for i in range(n_channels)
    ]


def profile_of(channel: str) -> _Profile:
    """The typical truth and buying pattern of a channel; the shared extra profile if unknown."""
    return _PROFILES.get(channel, _EXTRA)


def profiles_for(channels: list[str], overrides: dict[str, dict] | None) -> list:
    """Each channel's book profile with the caller's changes applied (checked)."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(channels))
    if unknown:
        raise DataError(f"simulate() got profiles for {unknown}, not among the channels {channels}")
    out = []
    for c in channels:
        try:
            out.append(replace(profile_of(c), **overrides.get(c, {})))
        except TypeError:
            fields = list(profile_of(c).__dataclass_fields__)
            raise DataError(f"simulate() profiles[{c!r}]={overrides[c]!r}: fields are {fields}") from None
    return out


def check_channel_names(channels) -> list[str]:
    names = [channels] if isinstance(channels, str) else list(channels)
    if not names or len(set(names)) < len(names) or not all(isinstance(c, str) and c for c in names):
        raise DataError(f"simulate() got channels={channels!r}: give distinct non-empty names, "
                        "e.g. ['tv', 'search', 'email']")
    return names
