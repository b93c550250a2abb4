"""What a test would do, per geo and channel, over the posterior draws: the forward model's answer.

The test plan is appended after the panel (its last weeks carry over into the test),
pushed through :class:`~geommm.analysis.forward.ForwardModel` — the same adstock and
saturation as every other number geommm reports — and compared with business as
usual. Geo-channel cells are independent in the model, so one pass with the test
applied in every cell at once gives each cell's own effect; a multi-geo cell's lift
is the sum of its geos'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geommm.analysis.draws import draw_chunks
from geommm.analysis.forward import MEMO_CELLS
from geommm.analysis.experiments.plan import FuturePlan, with_test


@dataclass(frozen=True)
class CellEffects:
    """One test length and kind, every geo x channel cell: draws of what it changes."""

    weeks: int
    kind: str
    multiplier: float  # spend multiplier in the window (0 for a go-dark)
    lift: np.ndarray  # (D, G, C) KPI change over start..measure_end (the measured window)
    total: np.ndarray  # (D, G, C) KPI change with the whole carryover tail
    bau_spend: np.ndarray  # (G, C) business-as-usual spend in the window
    spend_change: np.ndarray  # (G, C) spend change in the window (negative for a go-dark)


def cell_effects(
    forward, plan: FuturePlan, offset: int, weeks: int, post_weeks: int, kind: str, multiplier: float,
    usual: dict | None = None,
) -> CellEffects:
    """Effects of ``kind`` for ``weeks`` weeks from ``offset`` weeks after the panel.
    ``usual``: a dict kept across calls with the same ``forward`` and ``plan``, where the
    business-as-usual contributions of each chunk of draws are computed once (every test
    length and kind is compared with the same ones)."""
    window = slice(offset, offset + weeks)
    measured = slice(offset, offset + weeks + post_weeks)
    tested = with_test(plan, offset, weeks, multiplier)
    data = forward.data
    cells = data.n_geos * (plan.n_weeks + plan.history.shape[1]) * data.n_channels * data.max_lag
    lift, total = [], []
    usual = {} if usual is None else usual
    for k, chunk in enumerate(draw_chunks(forward.draws, cells)):
        fw = forward.with_draws(chunk)
        base = usual.get(k)
        if base is None:
            base = fw.media_contributions_history(plan.input, plan.history)
            if sum(v.size for v in usual.values()) + base.size <= MEMO_CELLS:  # bounded memory
                usual[k] = base
        change = fw.media_contributions_history(tested, plan.history) - base  # (d, G, H, C)
        lift.append(change[:, :, measured].sum(axis=2))
        total.append(change.sum(axis=2))
    bau = plan.spend[:, window].sum(axis=1)
    return CellEffects(
        weeks=weeks, kind=kind, multiplier=multiplier, lift=np.concatenate(lift),
        total=np.concatenate(total), bau_spend=bau, spend_change=(multiplier - 1.0) * bau,
    )


def horizon(offset: int, weeks: int, post_weeks: int, max_lag: int) -> int:
    """Weeks after the panel a test needs: to its measured end and its carryover tail."""
    return offset + weeks + max(post_weeks, max_lag - 1)
