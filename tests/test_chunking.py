"""Draws processed in chunks give the same tables as all draws at once.

The analysis never holds a (draws, geo, week, channel) array of the whole posterior
on a big panel; these tests force tiny chunks (1, 2, 3 draws, and one channel per
block in the contributions) on a small fit and compare every table with the
unchunked computation to 1e-10 relative.
"""

from __future__ import annotations

import copy

import numpy as np
import polars as pl
import pytest

from geommm.analysis import draws as draws_mod
from geommm.analysis.draws import chunk_size, chunking, set_chunk_draws, thin_draws
from geommm.analysis.forward import ForwardModel
from geommm.errors import ArgumentError

N_DRAWS = 7  # 7 = 3 + 3 + 1: uneven last chunk


def _fresh(fit, n_draws: int = N_DRAWS):
    """A shallow copy of ``fit`` with a new ForwardModel (no memo) over ``n_draws`` draws."""
    other = copy.copy(fit)
    other._computed = {}
    other.__dict__["forward"] = ForwardModel(fit.spec, fit.data, thin_draws(fit.forward.draws, n_draws))
    return other


def _tables(fit) -> dict[str, pl.DataFrame]:
    allocation = fit.optimize_budget(by="channel")
    return {
        "roi_geo": fit.roi(by="geo"),
        "roi_channel": fit.roi(by="channel"),
        "marginal_roi_geo": fit.marginal_roi(by="geo"),
        "marginal_roi_channel": fit.marginal_roi(by="channel"),
        "contributions_geo_time": fit.contributions(by=("geo", "time")),
        "contributions_geo": fit.contributions(by="geo"),
        "curves": fit.response_curves(spend_grid=[0.0, 0.5, 1.0, 1.5]),
        "allocation": allocation.table,
        "predict": fit.predict(fit.panel, include_noise=True, seed=3),
        "fitted": fit.fitted(),
    }


def _same(a: pl.DataFrame, b: pl.DataFrame, name: str) -> None:
    assert a.columns == b.columns, name
    assert a.height == b.height, name
    for col in a.columns:
        x, y = a[col], b[col]
        if x.dtype.is_numeric():
            np.testing.assert_allclose(
                x.to_numpy(), y.to_numpy(), rtol=1e-10, atol=1e-9, equal_nan=True, err_msg=f"{name}.{col}"
            )
        else:
            assert x.to_list() == y.to_list(), f"{name}.{col}"


@pytest.fixture(scope="module")
def reference(laplace_fit):
    with chunking(None):
        return _tables(_fresh(laplace_fit))


@pytest.mark.parametrize("size", [1, 2, 3])
def test_chunked_tables_equal_unchunked(laplace_fit, reference, size, monkeypatch):
    monkeypatch.setattr(draws_mod, "CHUNK_CELLS", 1)  # contributions: one channel per block
    with chunking(size):
        chunked = _tables(_fresh(laplace_fit))
    assert chunked.keys() == reference.keys()
    for name, table in reference.items():
        _same(chunked[name], table, name)


def test_chunked_forward_never_joins_a_4d_array(laplace_fit, monkeypatch):
    """With chunks of 2 draws, no media array of more than 2 draws is ever computed."""
    seen: list[int] = []
    original = ForwardModel._media_contributions

    def spy(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        seen.append(out.shape[0])
        return out

    monkeypatch.setattr(ForwardModel, "_media_contributions", spy)
    fit = _fresh(laplace_fit)
    with chunking(2):
        fit.roi(by="geo")
        fit.contributions(by=("geo", "time"))
        fit.predict(fit.panel)
    assert seen and max(seen) == 2


def test_default_chunk_fits_the_budget():
    set_chunk_draws(None)
    assert chunk_size(1000) == draws_mod.CHUNK_CELLS // 1000
    # 183 geos x 66 weeks x 36 channels: a 1000-draw array would be 3.5 GB; a chunk stays under 256 MB
    cells = 183 * 66 * 36
    assert chunk_size(cells) * cells * 8 <= 256 * 2**20 < 1000 * cells * 8
    with pytest.raises(ArgumentError, match="chunk_draws"):
        set_chunk_draws(0)
    with chunking(5):
        assert chunk_size(10**9) == 5
    assert chunk_size(10**9) == 1
