"""ModelSpec + Panel -> the scaled numpy arrays the model and the analysis share.

Scaling is what keeps NUTS fast and priors portable: the KPI is divided by a
per-geo scale (mean KPI, or population-proportional), media by a per-geo-channel
scale (mean of the weeks it ran), controls are standardised. All of it is
recorded here so results go back to original KPI and spend units exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import formulae as fm
import numpy as np

from geommm.errors import DataError, FormulaError
from geommm.formula.terms import ModelSpec
from geommm.media import lag_stack
from geommm.media.frequency import FrequencyInput
from geommm.model import log_kpi
from geommm.model.holidays import holiday_controls
from geommm.model.reach_frequency import frequency_input
from geommm.model.nonmedia import OrganicData, TreatmentData, frozen_scales, organic_data, treatment_data
from geommm.model.time_path import basis_at, basis_for

DAYS_PER_WEEK = 7.0


@dataclass(frozen=True)
class Scaling:
    """The scales of a fit, frozen so a refit on more weeks keeps every parameter's meaning.

    KPI scale per geo, media scale per geo-channel, control centre/sd, and the time
    origin and training length behind the trend and the Fourier phase."""

    geos: tuple[str, ...]
    channels: tuple[str, ...]
    kpi_scale: np.ndarray  # (G,)
    media_scale: np.ndarray  # (G, C)
    control_names: tuple[str, ...]
    control_center: np.ndarray  # (K,)
    control_sd: np.ndarray  # (K,)
    origin: np.datetime64
    n_train_weeks: int
    nonmedia: dict = field(default_factory=dict)  # organic / treatment scales (model/nonmedia.py)

    def to_dict(self) -> dict:
        """JSON-ready (saved with a fit)."""
        return {
            "geos": list(self.geos), "channels": list(self.channels),
            "kpi_scale": np.asarray(self.kpi_scale).tolist(),
            "media_scale": np.asarray(self.media_scale).tolist(),
            "control_names": list(self.control_names),
            "control_center": np.asarray(self.control_center).tolist(),
            "control_sd": np.asarray(self.control_sd).tolist(),
            "origin": str(np.datetime64(self.origin, "D")), "n_train_weeks": int(self.n_train_weeks),
            **({"nonmedia": self.nonmedia} if self.nonmedia else {}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Scaling:
        return cls(
            geos=tuple(d["geos"]), channels=tuple(d["channels"]),
            kpi_scale=np.asarray(d["kpi_scale"], dtype="float64"),
            media_scale=np.asarray(d["media_scale"], dtype="float64").reshape(len(d["geos"]), len(d["channels"])),
            control_names=tuple(d["control_names"]),
            control_center=np.asarray(d["control_center"], dtype="float64"),
            control_sd=np.asarray(d["control_sd"], dtype="float64"),
            origin=np.datetime64(d["origin"], "D"), n_train_weeks=int(d["n_train_weeks"]),
            nonmedia=dict(d.get("nonmedia", {})),
        )


@dataclass
class ModelData:
    """Arrays in (geo, time, channel/control) order plus the scales that undo the scaling."""

    geos: tuple[str, ...]
    times: np.ndarray  # datetime64[D]
    channels: tuple[str, ...]
    kpi: np.ndarray  # (G, T) original units
    kpi_scale: np.ndarray  # (G,)
    media_input: np.ndarray  # (G, T, C) original units (exposure or spend)
    spend: np.ndarray  # (G, T, C)
    media_scale: np.ndarray  # (G, C)
    max_lag: int
    lag_mask: np.ndarray  # (C, L) 1 where lag < channel's max_lag
    controls: np.ndarray  # (G, T, K) standardised
    control_names: tuple[str, ...]
    control_groups: tuple[str, ...]  # formula term each control column comes from
    geo_varying: np.ndarray  # (K,) bool
    fourier: np.ndarray  # (T, F)
    fourier_names: tuple[str, ...]
    trend: np.ndarray  # (T,)
    origin: np.datetime64 = field(default=None)
    n_train_weeks: int = 0
    control_center: np.ndarray = field(default=None)
    control_sd: np.ndarray = field(default=None)
    smooth_basis: np.ndarray = field(default=None)  # (T, m) with smooth(time); time_path.py
    reach_frequency: FrequencyInput | None = None  # R&F channels' frequency (reach_frequency.py)
    organic: OrganicData | None = None  # organic(...) terms (model/nonmedia.py)
    treatment: TreatmentData | None = None  # treatment(...) terms
    log_kpi: bool = False  # log(KPI) ~ ...: the model fits log(KPI / s_g) (model/log_kpi.py)

    @property
    def n_geos(self) -> int:
        return len(self.geos)

    @property
    def scaling(self) -> Scaling:
        """The scales this data was built with (pass to ``build_model_data(scaling=...)``)."""
        return Scaling(
            geos=self.geos, channels=self.channels, kpi_scale=self.kpi_scale,
            media_scale=self.media_scale, control_names=self.control_names,
            control_center=self.control_center, control_sd=self.control_sd,
            origin=self.origin, n_train_weeks=self.n_train_weeks,
            nonmedia=frozen_scales(self.organic, self.treatment),
        )

    @property
    def n_times(self) -> int:
        return len(self.times)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def n_cells(self) -> int:
        """Geos x weeks x channels: the panel size ``precision="auto"`` reads."""
        return self.n_geos * self.n_times * self.n_channels

    @property
    def kpi_scaled(self) -> np.ndarray:
        """The response the model fits: KPI / s_g, or its log for ``log(KPI) ~ ...``."""
        if self.log_kpi:
            return log_kpi.modelled(self.kpi / self.kpi_scale[:, None])
        return self.kpi / self.kpi_scale[:, None]

    @property
    def media_scaled(self) -> np.ndarray:
        return self.media_input / self.media_scale[:, None, :]

    def lagged(self, media_scaled: np.ndarray | None = None) -> np.ndarray:
        """Lag stack (L, G, T, C) of scaled media (the observed media by default)."""
        x = self.media_scaled if media_scaled is None else media_scaled
        return lag_stack(x, self.max_lag, time_axis=-2)

    @property
    def input_per_spend(self) -> np.ndarray:
        """(G, C) model-input units bought by one unit of spend (1 where input is spend)."""
        spend = self.spend.sum(axis=1)
        inp = self.media_input.sum(axis=1)
        ratio = np.where(spend > 0, inp / np.where(spend > 0, spend, 1.0), 1.0)
        # geos where a channel never ran: use the channel's national ratio
        national = inp.sum(0) / np.where(spend.sum(0) > 0, spend.sum(0), 1.0)
        national = np.where(spend.sum(0) > 0, national, 1.0)
        return np.where(spend > 0, ratio, national[None, :])


def build_model_data(
    spec: ModelSpec,
    panel,
    *,
    population: str | None = None,
    reference: ModelData | None = None,
    reference_panel=None,
    scaling: Scaling | None = None,
) -> ModelData:
    """Assemble ModelData. With ``reference`` (a training ModelData) the same scales,
    control standardisation and time origin are reused, so new periods line up.
    ``scaling`` (an earlier fit's :class:`Scaling`) freezes the scales the same way for
    a panel that holds the earlier weeks too (a refresh), so parameters keep their meaning."""
    rf_frequency = frequency_input(spec, panel)  # R&F columns checked first, errors name the term
    media_cols = [m.input for m in spec.media]
    spend_cols = [m.spend for m in spec.media]
    panel.require([spec.response], "kpi")
    panel.require(sorted(set(media_cols)), "media")
    panel.require(sorted(set(spend_cols)), "spend")

    kpi = panel.values([spec.response])[..., 0]
    media_input = panel.values(media_cols)
    spend = panel.values(spend_cols)
    times = np.asarray(panel.times, dtype="datetime64[D]")
    max_lag = max(m.max_lag for m in spec.media)
    lag_mask = np.array(
        [[1.0 if lag < m.max_lag else 0.0 for lag in range(max_lag)] for m in spec.media]
    )

    if log_kpi.is_log(spec) and reference is None:  # new weeks to predict need no KPI
        log_kpi.check_positive(kpi, panel.geos, times, spec.response, panel.source)
    if scaling is not None:
        _check_scaling(scaling, panel, spec)
        kpi_scale, media_scale = scaling.kpi_scale, scaling.media_scale
        origin, n_train = scaling.origin, scaling.n_train_weeks
    elif reference is None:
        panel.require_variation(spec.response)
        kpi_scale = _kpi_scale(kpi, panel, population, spec.response)
        media_scale = _media_scale(media_input)
        origin = times[0]
        n_train = len(times)
    else:
        _check_same_geos(reference, panel)
        kpi_scale, media_scale = reference.kpi_scale, reference.media_scale
        origin, n_train = reference.origin, reference.n_train_weeks

    weeks = (times - origin).astype("timedelta64[D]").astype("float64") / DAYS_PER_WEEK
    trend = weeks / max(n_train - 1, 1) - 0.5
    fourier, fourier_names = _fourier(spec, weeks)
    smooth_basis = None
    if getattr(spec, "smooth", None) is not None:  # weeks outside the fitted ones: see path_forecast.py
        basis_for(n_train, spec.smooth.basis, "smooth(time)")  # the fitted panel long enough
        smooth_basis = basis_at(weeks, n_train, spec.smooth.basis)[0]
    frozen = scaling.nonmedia if scaling is not None else None if reference is None else reference.scaling.nonmedia
    controls, names, groups, varying, center, sd = _controls(
        spec, panel, reference, reference_panel, scaling
    )
    return ModelData(
        geos=tuple(panel.geos),
        times=times,
        channels=spec.channels,
        kpi=kpi,
        kpi_scale=kpi_scale,
        media_input=media_input,
        spend=spend,
        media_scale=media_scale,
        max_lag=max_lag,
        lag_mask=lag_mask,
        controls=controls,
        control_names=names,
        control_groups=groups,
        geo_varying=varying,
        fourier=fourier,
        fourier_names=fourier_names,
        trend=trend,
        origin=origin,
        n_train_weeks=n_train,
        control_center=center,
        control_sd=sd,
        smooth_basis=smooth_basis,
        reach_frequency=rf_frequency,
        organic=organic_data(spec, panel, frozen, reference), treatment=treatment_data(spec, panel, frozen),
        log_kpi=log_kpi.is_log(spec),
    )


def _kpi_scale(kpi: np.ndarray, panel, population: str | None, response: str) -> np.ndarray:
    mean = kpi.mean(axis=1)
    if population is not None:
        panel.require([population], "population")
        if not kpi.sum() > 0:
            raise DataError(
                f"{panel.source}: KPI column {response!r} sums to {kpi.sum():g} over all geos "
                "and weeks; geommm scales the KPI by population times the average KPI per "
                "person, so the total KPI must be positive"
            )
        pop = panel.geo_values(population)
        return pop * (kpi.sum() / (pop * kpi.shape[1]).sum())
    bad = [g for g, m in zip(panel.geos, mean) if not m > 0]
    if bad:
        raise DataError(
            f"{panel.source}: KPI column {response!r} has a mean <= 0 in geo(s) {bad[:10]}; "
            "geommm scales the KPI per geo by its mean, so each geo needs a positive KPI "
            "(or pass population=... to scale by population)"
        )
    return mean


def _media_scale(media_input: np.ndarray) -> np.ndarray:
    on = media_input > 0
    n_on = on.sum(axis=1)
    total = media_input.sum(axis=1)
    return np.where(n_on > 0, total / np.maximum(n_on, 1), 1.0)


def _fourier(spec: ModelSpec, weeks: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    cols, names = [], []
    for term in spec.fourier:
        for k in range(1, term.order + 1):
            angle = 2 * np.pi * k * weeks / term.period
            cols += [np.sin(angle), np.cos(angle)]
            names += [f"sin_{k}_p{term.period:g}", f"cos_{k}_p{term.period:g}"]
    if not cols:
        return np.zeros((len(weeks), 0)), ()
    return np.column_stack(cols), tuple(names)


def _controls(spec: ModelSpec, panel, reference: ModelData | None, reference_panel, scaling=None):
    G, T = panel.n_geos, panel.n_times
    values, names, groups = _formula_controls(spec, panel, reference, reference_panel, scaling)
    if spec.holidays:  # holiday/event columns, built from the calendar (model/holidays.py)
        known = None
        if scaling is not None:
            known = dict.fromkeys(scaling.control_names)
        elif reference is not None:
            known = dict(zip(reference.control_names, reference.control_groups))
        extra, extra_names, extra_groups = holiday_controls(spec, panel, known)
        values = np.concatenate([values, extra], axis=-1)
        names, groups = names + extra_names, groups + extra_groups
    if not names:
        empty = np.zeros(0)
        return np.zeros((G, T, 0)), (), (), np.zeros(0, bool), empty, empty
    if scaling is not None:
        if tuple(names) != tuple(scaling.control_names):
            raise DataError(
                f"{panel.source}: the control columns {names} differ from the fitted ones "
                f"{list(scaling.control_names)} (a new category level?); a full refit is needed"
            )
        center, sd = scaling.control_center, scaling.control_sd
    elif reference is None:
        center = values.mean(axis=(0, 1))
        sd = values.std(axis=(0, 1))
        constant = [n for n, s in zip(names, sd) if not s > 0]
        if constant:
            raise DataError(
                f"{panel.source}: control(s) {constant} are constant over all geos and weeks, "
                "so their effect cannot be told apart from the intercept; remove them from the formula"
            )
    else:
        center, sd = reference.control_center, reference.control_sd
    varying = np.array([g in spec.geo_varying for g in groups], dtype=bool)
    return (values - center) / sd, tuple(names), tuple(groups), varying, center, sd


def _formula_controls(spec: ModelSpec, panel, reference, reference_panel, scaling):
    """The controls formulae builds from the panel's columns: (G, T, K) values, names, groups."""
    G, T = panel.n_geos, panel.n_times
    if not spec.controls:
        return np.zeros((G, T, 0)), [], []
    rhs = " + ".join(spec.controls)
    try:
        if reference is None or scaling is not None:
            common = _design(spec, panel.frame.to_pandas(), rhs)
            matrix = common.design_matrix
        else:
            common = _design(spec, reference_panel.frame.to_pandas(), rhs)
            matrix = common.evaluate_new_data(panel.frame.to_pandas()).design_matrix
    except Exception as exc:
        raise FormulaError(f"cannot build the control terms '{rhs}': {exc}") from None
    columns = list(common.as_dataframe().columns)
    keep, names, groups = [], [], []
    for term, slc in common.slices.items():
        if term == "Intercept":
            continue
        for i in range(slc.start, slc.stop):
            keep.append(i)
            names.append(columns[i] if slc.stop - slc.start > 1 else term)
            groups.append(term)
    values = np.asarray(matrix, dtype="float64")[:, keep]
    return values.reshape(G, T, len(keep)), names, groups  # frame is sorted by geo, then time


def _design(spec: ModelSpec, frame, rhs: str):
    return fm.design_matrices(f"{spec.response} ~ 1 + {rhs}", frame, na_action="error").common


def _check_same_geos(reference: ModelData, panel) -> None:
    unknown = sorted(set(panel.geos) - set(reference.geos))
    missing = sorted(set(reference.geos) - set(panel.geos))
    if unknown or missing:
        raise DataError(
            f"{panel.source}: the new panel must hold the same geos as the fitted one; "
            f"unknown geos {unknown[:10]}, missing geos {missing[:10]}"
        )


def _check_scaling(scaling: Scaling, panel, spec: ModelSpec) -> None:
    if tuple(panel.geos) != tuple(scaling.geos):
        new = sorted(set(panel.geos) - set(scaling.geos))
        gone = sorted(set(scaling.geos) - set(panel.geos))
        raise DataError(
            f"{panel.source}: frozen scaling is for geos {list(scaling.geos)[:10]}; the panel has "
            f"new geos {new[:10]} and lacks {gone[:10]} — a full refit is needed"
        )
    if tuple(spec.channels) != tuple(scaling.channels):
        raise DataError(
            f"frozen scaling is for channels {list(scaling.channels)}, the formula has "
            f"{list(spec.channels)} — a full refit is needed"
        )
