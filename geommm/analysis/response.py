"""Response curves: incremental KPI as a media plan is scaled up or down.

Scaling a plan by a multiplier ``m`` scales every week's media, and adstock is
linear, so the adstocked media is ``m x`` (adstocked plan). Adstocking the plan
once per posterior draw turns every "what if we spent m times as much" question
into one elementwise pass through the saturation curve, with a closed-form
derivative in ``m``. The optimiser, the response curves and the target-ROI search
all lean on that, so they agree with ROI and marginal ROI by construction.

Incremental KPI counts the carryover tail after the last planned week, exactly
as ROI does (:func:`geommm.analysis.roi.incremental_kpi`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import polars as pl
import scipy.special

from geommm.analysis.draws import summarise
from geommm.analysis.forward import ForwardModel
from geommm.errors import DataError
from geommm.model import mean as mean_fn
from geommm.model import transforms as tf

from geommm.analysis.tables import NATIONAL
#: Multipliers of the observed plan on the default response-curve grid.
DEFAULT_MULTIPLIERS = np.linspace(0.0, 2.0, 21)
#: Keep per-chunk arrays of draws x geos x weeks x channels below this many numbers.
CHUNK_CELLS = 4_000_000


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


def thin_draws(draws: Mapping[str, np.ndarray], max_draws: int | None) -> dict[str, np.ndarray]:
    """Evenly spaced subset of at most ``max_draws`` draws (all of them when None)."""
    n = next(iter(draws.values())).shape[0]
    if max_draws is None or n <= max_draws:
        return dict(draws)
    idx = np.linspace(0, n - 1, max_draws).round().astype(int)
    return {k: v[idx] for k, v in draws.items()}


def draw_chunks(
    draws: Mapping[str, np.ndarray], cells_per_draw: int
) -> Iterator[dict[str, np.ndarray]]:
    """Slices of the draws small enough that ``draws x cells_per_draw`` fits in memory."""
    n = next(iter(draws.values())).shape[0]
    size = max(1, CHUNK_CELLS // max(cells_per_draw, 1))
    for start in range(0, n, size):
        yield {k: v[start : start + size] for k, v in draws.items()}


class MediaResponse:
    """Incremental KPI of every geo x channel when a weekly media plan is scaled.

    ``plan`` is model input (exposure or spend, original units) per geo, week and
    channel, ``(G, T, C)``; the observed media by default. ``kpi(m)`` gives
    ``(D, G, C)`` KPI for multipliers ``m`` (scalar, ``(C,)`` or ``(G, C)``), the
    carryover tail after the plan's last week included.
    """

    def __init__(
        self,
        forward: ForwardModel,
        plan: np.ndarray | None = None,
        draws: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        data = forward.data
        draws = forward.draws if draws is None else draws
        plan = data.media_input if plan is None else np.asarray(plan, dtype="float64")
        G, _, C = plan.shape
        lag = data.max_lag
        tail = np.zeros((G, lag - 1, C))
        scaled = np.concatenate([plan, tail], axis=1) / data.media_scale[:, None, :]
        weights = mean_fn.adstock_weights(forward.spec.media, draws, lag, data.lag_mask)
        adstocked = tf.apply_adstock(tf.lag_stack(scaled, lag, time_axis=-2), weights)
        adstocked = np.broadcast_to(adstocked, (weights.shape[0], *adstocked.shape[-3:]))
        self.effect = data.kpi_scale[None, :, None] * draws["media_effect"]  # (D, G, C)
        half = draws["half_saturation"][..., None]  # (D, G, C, 1)
        slope = draws.get("slope")  # (D, C) when any channel uses Hill
        self.kinds = [m.saturation for m in forward.spec.media]
        self.slope = [None if slope is None else slope[:, c, None] for c in range(C)]  # (D, 1)
        # one prepared (D, G, weeks) block per channel, so that scaling by m is one pass:
        # hill: z0 = n (log(a + floor) - log K), response sigmoid(z0 + n log m) (exact at
        # m = 1; elsewhere the log floor differs only in dark weeks, where both are ~0);
        # logistic: b = a / 2K, response tanh(m b); michaelis_menten: b = a / K, m b / (1 + m b)
        self.prepared = []
        for c, kind in enumerate(self.kinds):
            a, k = adstocked[..., c], half[:, :, c]
            if kind == "hill":
                z0 = np.log(a + tf.LOG_FLOOR) - np.log(k)
                z0 *= self.slope[c][..., None]
            elif kind == "logistic":
                z0 = a / (2.0 * k)
            elif kind == "michaelis_menten":
                z0 = a / k
            else:
                raise ValueError(f"unknown saturation {kind!r}")
            self.prepared.append(np.ascontiguousarray(z0))
        self.n_geos, self.n_channels = G, C

    @property
    def n_draws(self) -> int:
        return self.effect.shape[0]

    def kpi(self, multiplier: float | np.ndarray = 1.0) -> np.ndarray:
        """(D, G, C) incremental KPI at ``multiplier`` x the plan."""
        return self.derivatives(multiplier, order=0)[0]

    def kpi_and_gradient(
        self, multiplier: float | np.ndarray = 1.0
    ) -> tuple[np.ndarray, np.ndarray]:
        """(D, G, C) incremental KPI and its derivative with respect to each cell's multiplier."""
        kpi, grad = self.derivatives(multiplier, order=1)
        return kpi, grad

    def derivatives(self, multiplier: float | np.ndarray = 1.0, order: int = 2) -> list[np.ndarray]:
        """[KPI, dKPI/dm, d2KPI/dm2][: order + 1], each (D, G, C).

        A cell's KPI depends on its own multiplier only, so these are the whole
        gradient and the (diagonal) Hessian.
        """
        m = np.broadcast_to(np.asarray(multiplier, dtype="float64"), (self.n_geos, self.n_channels))
        out = [np.empty(self.effect.shape) for _ in range(order + 1)]
        for c in range(self.n_channels):
            sums = _response_sums(self.kinds[c], self.prepared[c], m[:, c], self.slope[c], order)
            for k, value in enumerate(sums):
                out[k][:, :, c] = value
        return [self.effect * o for o in out]


#: Multipliers are kept at least this large inside log(m) and 1/m.
MIN_MULTIPLIER = 1e-12


def _response_sums(kind: str, z0: np.ndarray, m: np.ndarray, slope, order: int) -> list[np.ndarray]:
    """Sums over weeks of the saturation response at multiplier ``m`` (G,) and of its first
    ``order`` derivatives in ``m``, each (D, G); a few passes over ``z0``, no big temporaries."""

    def dot(*arrays):
        return np.einsum("dgt" + ",dgt" * (len(arrays) - 1) + "->dg", *arrays)

    if kind == "hill":
        # y = sigmoid(z0 + n log m): y' = n y (1 - y) / m,
        # y'' = n / m^2 (n y (1 - y)(1 - 2y) - y (1 - y))
        mm = np.maximum(m, MIN_MULTIPLIER)[None, :]
        y = z0 + slope[..., None] * np.log(mm)[..., None]
        scipy.special.expit(y, out=y)
        s1 = y.sum(axis=-1)
        if order == 0:
            return [s1]
        s2 = dot(y, y)
        out = [s1, slope * (s1 - s2) / mm]
        if order >= 2:
            s3 = dot(y, y, y)
            out.append(slope / mm**2 * (slope * (s1 - 3 * s2 + 2 * s3) - (s1 - s2)))
        return out
    x = z0 * m[None, :, None]
    if kind == "logistic":
        # y = tanh(m b): y' = b (1 - y^2), y'' = -2 b^2 y (1 - y^2)
        np.tanh(x, out=x)
        out = [x.sum(axis=-1)]
        if order >= 1:
            out.append(z0.sum(axis=-1) - dot(z0, x, x))
        if order >= 2:
            bx = z0 * x
            out.append(-2.0 * (dot(z0, bx) - dot(bx, bx, x)))
        return out
    # michaelis_menten: y = m b / (1 + m b): y' = b / (1 + m b)^2, y'' = -2 b^2 / (1 + m b)^3
    inv = 1.0 / (1.0 + x)
    out = [(x * inv).sum(axis=-1)]
    if order >= 1:
        out.append(dot(z0, inv, inv))
    if order >= 2:
        out.append(-2.0 * dot(z0 * inv, z0 * inv, inv))
    return out


# ---------------------------------------------------------------------- curves table
def response_curves(
    fit,
    geo: str | Sequence[str] | None = None,
    channel: str | Sequence[str] | None = None,
    spend_grid: Sequence[float] | np.ndarray | None = None,
    hdi_prob: float = 0.9,
) -> pl.DataFrame:
    """Expected incremental KPI over the analysed period against the period's total spend.

    Each point scales the observed weekly flighting of one channel by a multiplier
    (``spend_grid``: multipliers of the observed spend, default 0, 0.1, ..., 2),
    carryover tail included. Rows per geo and a ``"national"`` row per channel
    (the sum over geos at the same multiplier). Columns: geo, channel,
    spend_multiplier, spend, incremental_kpi_mean, incremental_kpi_hdi_low,
    incremental_kpi_hdi_high. Geo-channel cells that never spent are left out.
    """
    forward = as_forward(fit)
    data = forward.data
    multipliers = _multipliers(spend_grid)
    geos = _pick(geo, (*data.geos, NATIONAL), "geo")
    channels = _pick(channel, data.channels, "channel")
    ch_idx = [data.channels.index(c) for c in channels]
    # (M, D, G, C) incremental KPI, draws in memory-bounded chunks
    cells = data.n_geos * (data.n_times + data.max_lag - 1) * data.n_channels
    parts = []
    for chunk in draw_chunks(forward.draws, cells):
        response = MediaResponse(forward, draws=chunk)
        parts.append(np.stack([response.kpi(m) for m in multipliers]))
    kpi = np.concatenate(parts, axis=1)[..., ch_idx]
    spend = data.spend.sum(axis=1)[:, ch_idx]  # (G, C') observed spend of the period
    frames = []
    for label in geos:
        if label == NATIONAL:
            draws, base = kpi.sum(axis=2), spend.sum(axis=0)
        else:
            g = data.geos.index(label)
            draws, base = kpi[:, :, g, :], spend[g]
        keep = [i for i, s in enumerate(base) if s > 0]
        if not keep:
            continue
        s = summarise(np.moveaxis(draws[..., keep], 1, 0), hdi_prob)  # (M, C')
        M, K = len(multipliers), len(keep)
        frames.append(
            pl.DataFrame(
                {
                    "geo": [label] * (M * K),
                    "channel": np.tile(np.array(channels)[keep], M),
                    "spend_multiplier": np.repeat(multipliers, K),
                    "spend": np.outer(multipliers, base[keep]).reshape(-1),
                    "incremental_kpi_mean": s["mean"].reshape(-1),
                    "incremental_kpi_hdi_low": s["hdi_low"].reshape(-1),
                    "incremental_kpi_hdi_high": s["hdi_high"].reshape(-1),
                }
            )
        )
    if not frames:
        raise DataError(
            f"no spend for channel(s) {channels} in geo(s) {geos}: there is no curve to draw"
        )
    return pl.concat(frames).sort("geo", "channel", "spend_multiplier")


def _multipliers(spend_grid) -> np.ndarray:
    if spend_grid is None:
        return DEFAULT_MULTIPLIERS.copy()
    grid = np.unique(np.asarray(spend_grid, dtype="float64").ravel())
    if grid.size == 0 or not np.all(np.isfinite(grid)) or grid.min() < 0:
        raise DataError(
            f"spend_grid must hold finite, non-negative multipliers of the observed spend "
            f"(1 = as spent), got {list(np.asarray(spend_grid).ravel())[:10]}"
        )
    return grid


def _pick(value, known: Sequence[str], what: str) -> list[str]:
    """The requested names (all when None), checked against ``known``."""
    if value is None:
        return list(known)
    names = [value] if isinstance(value, str) else list(value)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise DataError(f"unknown {what}(s) {unknown}; the fit has {list(known)}")
    return names
