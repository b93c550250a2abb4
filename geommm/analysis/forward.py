"""THE forward model: what the fitted model says the KPI would be, over posterior draws.

Everything downstream (contributions, ROI, marginal ROI, response curves,
predictions, scenarios, the optimiser, lift checks) asks this one object for KPI
under some media plan, and it asks :class:`geommm.media.MediaTransform` (the same
transform the PyMC graph uses) how media turn into KPI. Results are in original
KPI units, with a leading draw axis.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import numpy as np

from geommm.analysis.draws import draw_slices
from geommm.analysis.kpi_link import link_for
from geommm.analysis.plan_response import PlanResponse
from geommm.formula.terms import ModelSpec
from geommm.model import expected
from geommm.model.design import ModelData
from geommm.model.path_forecast import log_multiplier_at
from geommm.model.time_path import layout_for, log_multiplier

#: How plans (response curves, the optimiser) weigh a time-varying channel's effect:
#: its last fitted week's multiplier, or its average over the fitted weeks.
EFFECTIVENESS = ("latest", "average")


#: Numbers a ForwardModel keeps for reuse, all arrays together: 8M numbers, 64 MB (the
#: demo's media contributions are 4.2M); the oldest arrays make room for a new one.
MEMO_CELLS = 8_000_000


class ForwardModel:
    """The fitted model as a function of media, for ``D`` posterior draws."""

    def __init__(
        self, spec: ModelSpec, data: ModelData, draws: dict[str, np.ndarray], shift_from: int | None = None
    ):
        self.spec = spec
        self.data = data
        self.draws = draws
        self.transform = expected.media_transform(spec, data)
        self.layout = layout_for(spec, data.n_times)  # None: no channel varies over time
        #: First panel week of a sequential refresh's step change (``effect_shift`` per
        #: channel multiplies the effect by ``exp(effect_shift)`` from that week on).
        self.shift_from = shift_from if "effect_shift" in draws else None
        #: How the mean becomes KPI (added up, or log KPI by counterfactual): ``analysis/kpi_link.py``.
        self.link = link_for(data)
        self._memo: dict[tuple, np.ndarray] = {}
        # the report computes tables on two threads over one model: a kept array is made
        # once, by whichever thread asks first, while the other waits for it
        self._memo_lock = threading.RLock()

    @property
    def log_kpi(self) -> bool:
        """``log(KPI) ~ ...``: contributions are counterfactuals (docs/log_kpi.md)."""
        return self.link.is_log

    @property
    def n_draws(self) -> int:
        return self.draws["media_effect"].shape[0]

    def remember(self, key: tuple, compute) -> np.ndarray:
        """``compute()`` once per ``key`` for these draws, kept read-only (several tables of
        one report ask for the same arrays: ROI and marginal ROI share the observed plan's
        incremental KPI, fitted values and fit metrics the expected KPI). At most
        MEMO_CELLS numbers are kept in all: the oldest arrays are dropped to make room,
        and an array bigger than that is recomputed instead of kept. Thread-safe."""
        with self._memo_lock:
            if key in self._memo:
                return self._memo[key]
            value = compute()
            if value.size <= MEMO_CELLS:
                while self._memo and sum(v.size for v in self._memo.values()) + value.size > MEMO_CELLS:
                    del self._memo[next(iter(self._memo))]
                value.setflags(write=False)
                self._memo[key] = value
            return value

    def effect_multiplier(self) -> np.ndarray | None:
        """(D, G, T, C) effectiveness multiplier ``exp(f_c(t))`` over the fitted weeks (1 for
        static channels); None when no channel varies. Every media contribution, ROI,
        marginal ROI and lift check below multiplies by it; it is the graph's path
        (``model/time_path.py``) evaluated on the draws."""
        if self.layout is None and self.shift_from is None:
            return None
        path = self.remember(("effect_multiplier",), lambda: np.exp(self._log_multiplier()))
        data = self.data
        return np.broadcast_to(path, (path.shape[0], data.n_geos, data.n_times, data.n_channels))

    def _log_multiplier(self) -> np.ndarray:
        """(D, G or 1, T, C): the time-varying path plus a refresh's step change."""
        out = 0.0
        if self.layout is not None:
            out = log_multiplier(self.draws, self.layout)
        if self.shift_from is not None:
            step = (np.arange(self.data.n_times) >= self.shift_from).astype("float64")
            out = out + self.draws["effect_shift"][:, None, None, :] * step[None, None, :, None]
        return out

    @property
    def varying_channels(self) -> tuple[str, ...]:
        """Channels whose effectiveness changes over the fitted weeks (a path or a step)."""
        if self.shift_from is not None:
            return tuple(self.data.channels)
        if self.layout is None:
            return ()
        return tuple(self.data.channels[i] for i in self.layout.varying)

    def multiplier_weeks(self, n_weeks: int, start: int = 0) -> np.ndarray | None:
        """(D, G, n_weeks, C) multiplier of ``n_weeks`` weeks from panel week ``start``;
        weeks outside the panel (tails, predictions, scenarios) draw the path onwards from
        its process given the fitted path (``model/path_forecast.py``), so their spread
        grows with the distance from the panel."""
        path = self.effect_multiplier()
        if path is None:
            return None
        weeks = np.arange(start, start + n_weeks)
        if self.layout is not None and (weeks[0] < 0 or weeks[-1] >= self.data.n_times):
            return self.remember(("multiplier_weeks", start, n_weeks), lambda: self._multiplier_beyond(weeks))
        return path[..., np.clip(weeks, 0, self.data.n_times - 1), :]

    def _multiplier_beyond(self, weeks: np.ndarray) -> np.ndarray:
        log = log_multiplier_at(self.draws, self.layout, weeks)
        if self.shift_from is not None:  # a refresh's step holds after the panel
            step = (np.clip(weeks, 0, self.data.n_times - 1) >= self.shift_from).astype("float64")
            log = log + self.draws["effect_shift"][:, None, None, :] * step[None, None, :, None]
        data = self.data
        return np.ascontiguousarray(np.broadcast_to(np.exp(log), (log.shape[0], data.n_geos, len(weeks), data.n_channels)))

    def planning_multiplier(self, effectiveness: str = "latest") -> np.ndarray | None:
        """(D, G, C) one multiplier per cell for plans: ``"latest"`` (the last fitted week)
        or ``"average"`` (the mean over the fitted weeks); None when no channel varies."""
        if effectiveness not in EFFECTIVENESS:
            raise ValueError(f"effectiveness must be one of {EFFECTIVENESS}, got {effectiveness!r}")
        path = self.effect_multiplier()
        if path is None:
            return None
        return path[..., -1, :] if effectiveness == "latest" else path.mean(axis=-2)

    def _start_of(self, first_week) -> int:
        """Panel week index of ``first_week``; outside the panel, counted in whole weeks from
        its nearest end (the panel's length for the week right after it, -1 for the week
        before it), so a continued effectiveness path sees how far away the week is."""
        times = np.asarray(self.data.times, dtype="datetime64[D]")
        week = np.datetime64(first_week, "D")
        days = np.timedelta64(7, "D")
        if week > times[-1]:
            return len(times) - 1 + max(1, int(round((week - times[-1]) / days)))
        if week < times[0]:
            return -max(1, int(round((times[0] - week) / days)))
        return int(np.searchsorted(times, week))

    def with_draws(self, draws: dict[str, np.ndarray]) -> ForwardModel:
        """The same model over other draws (a thinned set or a chunk)."""
        return ForwardModel(self.spec, self.data, draws, self.shift_from)

    # ------------------------------------------------------------ draws in chunks
    def cells_per_draw(self, weeks: int | None = None, data: ModelData | None = None) -> int:
        """Numbers in one draw's (geo, week, channel) array of ``weeks`` weeks (the panel's)."""
        data = data or self.data
        return data.n_geos * (data.n_times if weeks is None else weeks) * data.n_channels

    def chunks(self, cells_per_draw: int) -> Iterator[ForwardModel]:
        """This model over consecutive slices of its draws, each small enough for memory
        (``geommm.analysis.draws.set_chunk_draws``); itself when one chunk holds them all."""
        parts = draw_slices(self.n_draws, cells_per_draw)
        if len(parts) == 1:
            yield self
            return
        for part in parts:
            yield self.with_draws({k: v[part] for k, v in self.draws.items()})

    def map_chunks(self, compute: Callable[[ForwardModel], np.ndarray], cells_per_draw: int) -> np.ndarray:
        """``compute`` over draw chunks, joined on the draw axis: the (draws, geo, time,
        channel) array of the whole posterior never exists, only a chunk's."""
        parts = [compute(chunk) for chunk in self.chunks(cells_per_draw)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def media_kpi(self, media_input: np.ndarray | None = None, carryover_weeks: int = 0) -> np.ndarray:
        """(D, G, C) KPI from media summed over the weeks (and ``carryover_weeks`` of tail),
        computed in draw chunks."""
        weeks = self.data.n_times if media_input is None else np.shape(media_input)[1]
        cells = self.cells_per_draw(weeks + carryover_weeks)
        return self.map_chunks(
            lambda fw: fw.media_contributions(media_input, carryover_weeks=carryover_weeks).sum(axis=2), cells
        )

    def observed_kpi_with_tail(self) -> np.ndarray:
        """(D, G, C) KPI of the observed media over the weeks and the carryover tail (ROI's
        numerator), computed once; see :meth:`_observed_pass`."""
        data = self.data
        if not self._one_observed_pass():
            return self.media_kpi(data.media_input * np.float64(1.0), carryover_weeks=data.max_lag - 1)
        return self._observed_pass()[1]

    def _one_observed_pass(self) -> bool:
        """Whether the observed media's contributions are the first weeks of the same media
        with their carryover tail, bit for bit, and one chunk holds all draws: so for an
        additive KPI without time-varying effects, refresh steps, reach & frequency
        channels or synergy (where that identity is plain), not yet asserted for the rest."""
        data = self.data
        tail = data.max_lag - 1
        return bool(
            tail and self.layout is None and self.shift_from is None and self.transform.frequency is None
            and not self.spec.synergy and not self.log_kpi
            and len(draw_slices(self.n_draws, self.cells_per_draw(data.n_times + tail))) == 1
        )

    def _observed_pass(self) -> tuple[np.ndarray, np.ndarray]:
        """One pass of the observed media and their carryover tail through the model: the
        observed weeks' contributions (D, G, T, C) and the KPI summed with the tail (D, G, C).
        Adstock and saturation work week by week, so the first T weeks are the numbers a pass
        without the tail gives; they are copied keeping the memory layout (weeks innermost, as
        that pass lays them out) so later sums over weeks add in the same order. Both are kept: contributions, fitted
        values and identification use the first, ROI the second."""
        keys = (("media_contributions",), ("observed_kpi_with_tail",))
        with self._memo_lock:  # one pass, whichever thread asks first
            kept = [self._memo.get(key) for key in keys]
            if kept[0] is not None and kept[1] is not None:
                return kept[0], kept[1]
            data = self.data
            full = self._media_contributions(data.media_input * np.float64(1.0), data.max_lag - 1, None)
            observed = self.remember(keys[0], lambda: full[:, :, : data.n_times].copy(order="K"))
            kpi = self.remember(keys[1], lambda: full.sum(axis=2))
            return observed, kpi

    def media_contributions(
        self, media_input: np.ndarray | None = None, carryover_weeks: int = 0, data: ModelData | None = None
    ) -> np.ndarray:
        """(D, G, T + carryover_weeks, C) KPI from media; ``media_input`` in original units.

        The whole 4-D array of these draws: analysis code calls it per chunk
        (:meth:`chunks`, :meth:`media_kpi`) rather than on every posterior draw at once.

        ``carryover_weeks`` appends zero-media weeks so effects landing after the last
        week (adstock tail) are counted, as ROI requires. Those of the observed media
        (no arguments) are computed once: contributions, fitted values and lift checks
        all start from them.
        """
        if media_input is None and not carryover_weeks and data is None:
            if self._one_observed_pass():
                return self._observed_pass()[0]
            return self.remember(("media_contributions",), lambda: self._media_contributions(None, 0, None))
        return self._media_contributions(media_input, carryover_weeks, data)

    def _media_contributions(
        self, media_input, carryover_weeks: int, data: ModelData | None, start: int | None = None
    ) -> np.ndarray:
        if start is None:  # the weeks of ``data`` (the fitted panel's from its first week)
            start = 0 if data is None or data is self.data else self._start_of(data.times[0])
        return self.link.media_contributions(self, media_input, carryover_weeks, data, start)

    def media_contributions_history(
        self, media_input: np.ndarray, history: np.ndarray, first_week=None
    ) -> np.ndarray:
        """Contributions of ``media_input`` weeks preceded by ``history`` weeks (carryover in).

        Returns only the ``media_input`` weeks: (D, G, T_new, C). ``first_week`` (the date
        of the first new week) places a time-varying effect; without it the weeks are
        taken to follow the panel directly (the path continued from its last week).
        """
        full = np.concatenate([history, media_input], axis=1)
        start = self.data.n_times if first_week is None else self._start_of(first_week)
        out = self._media_contributions(full, 0, None, start=start - history.shape[1])
        return out[:, :, history.shape[1] :, :]

    def plan_response(self, plan: np.ndarray | None = None, effectiveness: str = "latest",
                      start: int = 0) -> PlanResponse:
        """KPI of every geo x channel, and its derivatives, as ``plan`` is scaled; a
        time-varying channel at its ``effectiveness`` (see :meth:`planning_multiplier`).
        ``start``: the panel week of the plan's first week (reach & frequency channels
        take that week's frequency; a log KPI has no R&F channels, see formula/log_kpi.py)."""
        return self.link.plan_response(self, plan, effectiveness, start)

    def baseline_contributions(self, data: ModelData | None = None) -> dict[str, np.ndarray]:
        """Named non-media components, each (D, G, T), in KPI units."""
        return self.link.baseline_contributions(self, data)

    def expected_kpi(self, data: ModelData | None = None, media: np.ndarray | None = None) -> np.ndarray:
        """(D, G, T) expected KPI (no observation noise); of the fitted data, computed once."""
        if data is None and media is None:
            return self.remember(("expected_kpi",), lambda: self._expected_kpi(self.data, None))
        return self._expected_kpi(data or self.data, media)

    def _expected_kpi(self, data: ModelData, media: np.ndarray | None) -> np.ndarray:
        return self.link.expected_kpi(self, data, media)

    def model_mean(self) -> np.ndarray:
        """(D, G, T) mean of the response the likelihood sees (scaled KPI, or its log)."""
        return self.link.model_mean(self)

    def predictive(self, expected: np.ndarray, seed: int = 0) -> np.ndarray:
        """Add observation noise to ``expected`` (D, G, T) for predictive intervals."""
        return self.link.with_noise(self, expected, np.random.default_rng(seed))


def as_forward(fit_or_forward) -> ForwardModel:
    """Accept a ``Fit`` or a ``ForwardModel`` wherever the analysis needs draws."""
    if isinstance(fit_or_forward, ForwardModel):
        return fit_or_forward
    forward = getattr(fit_or_forward, "forward", None)
    if not isinstance(forward, ForwardModel):
        raise TypeError(
            f"expected a geommm Fit or ForwardModel, got {type(fit_or_forward).__name__}"
        )
    return forward
