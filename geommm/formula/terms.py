"""The term objects a formula turns into: media, synergies, seasonality, trend, holidays and controls.

Each term is a small frozen dataclass holding only what the user wrote (after
validation), so a ModelSpec can be printed, compared and saved as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from geommm.formula.nonmedia import OrganicTerm, TreatmentTerm
from geommm.media.registry import ADSTOCKS, RF_SATURATION, SATURATIONS

DEFAULT_MAX_LAG = 8
#: ``media(..., varying=)`` values: False (static), True (a smooth national path over
#: time), "geo" (the national path plus pooled geo deviations).
VARYING_VALUES = (False, True, "geo")
#: Basis functions of a varying channel's path when the formula does not say (``basis=``).
DEFAULT_BASIS = 20


@dataclass(frozen=True)
class MediaTerm:
    """``media(input, spend=..., name=..., adstock=..., saturation=..., max_lag=...)``.

    ``input`` drives the response (exposure or spend); ``spend`` is what ROI divides by
    and defaults to ``input``.
    """

    input: str
    spend: str
    name: str
    adstock: str = "geometric"
    saturation: str = "hill"
    max_lag: int = DEFAULT_MAX_LAG
    varying: bool | str = False
    basis: int = DEFAULT_BASIS
    #: average frequency column of a reach & frequency channel (``input`` is then its reach)
    frequency: str | None = None

    def __post_init__(self) -> None:
        if (self.frequency is None) != (self.saturation != RF_SATURATION):
            raise ValueError(f"saturation={self.saturation!r} belongs to media(reach=..., frequency=...) only")
        if not any(self.varying is v or (isinstance(v, str) and self.varying == v) for v in VARYING_VALUES):
            raise ValueError(
                f"varying={self.varying!r} is not one of False (a static effect), True (a smooth "
                "national path over time) or 'geo' (a national path plus pooled geo deviations)"
            )
        if not 2 <= self.basis <= 200:
            raise ValueError(f"basis={self.basis} must be between 2 and 200 functions")
        if self.adstock not in ADSTOCKS:
            raise ValueError(f"adstock={self.adstock!r} is not one of {ADSTOCKS}")
        if self.saturation not in SATURATIONS and self.frequency is None:
            raise ValueError(f"saturation={self.saturation!r} is not one of {SATURATIONS}")
        if not 1 <= self.max_lag <= 52:
            raise ValueError(f"max_lag={self.max_lag} must be between 1 and 52 weeks")


@dataclass(frozen=True)
class FourierTerm:
    """``fourier(period, order)``: yearly (or other) seasonality with geo-specific amplitude."""

    period: float = 52.18
    order: int = 2

    def __post_init__(self) -> None:
        if self.period <= 1:
            raise ValueError(f"period={self.period} must be more than 1 week")
        if not 1 <= self.order <= 10:
            raise ValueError(f"order={self.order} must be between 1 and 10")


@dataclass(frozen=True)
class TrendTerm:
    """``trend()``: a linear trend over the panel, pooled across geos."""


@dataclass(frozen=True)
class HolidayTerm:
    """``holidays(country=..., subdivision=..., events=..., each=True, week='start')``:
    0/1 control columns of the weeks holding a public holiday or a user's dated event.

    ``country_from`` / ``subdivision_from`` name a panel column (the geo column, or one
    constant within each geo) holding each geo's country or subdivision code, for
    geo-specific calendars. ``events`` is the table's path as written; its rows are kept
    in ``event_rows`` as ``(ISO date, name, geo or '')`` so a saved fit needs no file.
    """

    label: str
    country: str | None = None
    country_from: str | None = None
    subdivision: str | None = None
    subdivision_from: str | None = None
    events: str | None = None
    event_rows: tuple[tuple[str, str, str], ...] = ()
    each: bool = True
    week: str = "start"

    @classmethod
    def from_dict(cls, d: dict) -> HolidayTerm:
        rows = tuple(tuple(r) for r in d.get("event_rows", ()))
        return cls(**{**d, "event_rows": rows})


@dataclass(frozen=True)
class SmoothTerm:
    """``smooth(time)``: a smooth baseline over the weeks (a national Gaussian-process path
    plus pooled geo deviations), for a KPI whose level wanders; ``basis`` functions."""

    basis: int = DEFAULT_BASIS

    def __post_init__(self) -> None:
        if not 2 <= self.basis <= 200:
            raise ValueError(f"basis={self.basis} must be between 2 and 200 functions")


@dataclass(frozen=True)
class SynergyTerm:
    """``synergy(first, second)``: an interaction of two channels' saturated adstocked
    media, with a geo-level coefficient pooled to a national one (``model/synergy.py``)."""

    first: str
    second: str

    @property
    def label(self) -> str:
        """The name of the pair in tables and the trace's ``synergy_pair`` coordinate."""
        return f"{self.first} x {self.second}"


@dataclass(frozen=True)
class ModelSpec:
    """Everything the formula says, validated against the panel's columns."""

    formula: str
    response: str
    controls: tuple[str, ...] = ()
    geo_varying: tuple[str, ...] = ()
    geo_intercept: bool = True
    media: tuple[MediaTerm, ...] = ()
    fourier: tuple[FourierTerm, ...] = ()
    trend: TrendTerm | None = None
    holidays: tuple[HolidayTerm, ...] = ()
    smooth: SmoothTerm | None = None
    synergy: tuple[SynergyTerm, ...] = ()
    response_transform: str = "identity"  # "log": log(KPI) ~ ... (formula/log_kpi.py)
    extra: dict = field(default_factory=dict, compare=False)
    organic: tuple[OrganicTerm, ...] = ()  # non-paid media: contribution, no ROI (nonmedia.py)
    treatments: tuple[TreatmentTerm, ...] = ()  # non-media levers against a counterfactual level

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.media)

    def media_term(self, channel: str) -> MediaTerm:
        for m in self.media:
            if m.name == channel:
                return m
        raise KeyError(channel)

    @property
    def nonmedia_kinds(self) -> dict[str, str]:
        """Component name -> "organic" or "treatment" (the contributions' component_type)."""
        return {**{o.name: "organic" for o in self.organic}, **{t.name: "treatment" for t in self.treatments}}

    def to_dict(self) -> dict:
        out = asdict(self)
        out["trend"] = self.trend is not None
        if self.smooth is None:  # a formula without smooth() saves as before it existed
            out.pop("smooth")
        if not self.synergy:  # nor without synergy()
            out.pop("synergy")
        for m in out["media"]:  # a static channel saves as before the path existed
            if m["varying"] is False and m["basis"] == DEFAULT_BASIS:
                del m["varying"], m["basis"]
            if m["frequency"] is None:  # as before reach & frequency existed
                del m["frequency"]
        out.pop("extra", None)
        for key in ("organic", "treatments"):  # a formula without them saves as before
            if not out[key]:
                out.pop(key)
        if self.response_transform == "identity":  # an additive fit saves as before
            out.pop("response_transform")
        return out

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        return cls(
            formula=d["formula"],
            response=d["response"],
            controls=tuple(d.get("controls", ())),
            geo_varying=tuple(d.get("geo_varying", ())),
            geo_intercept=bool(d.get("geo_intercept", True)),
            media=tuple(MediaTerm(**m) for m in d.get("media", ())),
            fourier=tuple(FourierTerm(**f) for f in d.get("fourier", ())),
            trend=TrendTerm() if d.get("trend") else None,
            holidays=tuple(HolidayTerm.from_dict(h) for h in d.get("holidays", ())),
            smooth=SmoothTerm(**d["smooth"]) if d.get("smooth") else None,
            organic=tuple(OrganicTerm(**o) for o in d.get("organic", ())),
            treatments=tuple(TreatmentTerm(**t) for t in d.get("treatments", ())),
            synergy=tuple(SynergyTerm(**s) for s in d.get("synergy", ())),
            response_transform=d.get("response_transform", "identity"),
        )
