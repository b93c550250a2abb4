"""The vectorised R-hat / ESS / HDI give arviz's numbers (they replace az.rhat, az.ess, az.summary
in fit.diagnostics() and fit.summary(), which must not change what they print)."""

from __future__ import annotations

import warnings

import arviz as az
import numpy as np
import pytest
import xarray as xr

from geommm.analysis import convergence as cv


def _chains(seed: int, chains: int, draws: int) -> np.ndarray:
    """(P, C, N) draws covering the branches of the ESS / R-hat code: iid, AR(1) of growing
    correlation, chains that disagree, ties, a constant, a random walk, one wide chain."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((10, chains, draws))
    for row, phi in ((1, 0.5), (2, 0.9), (3, 0.99)):
        for t in range(1, draws):
            x[row, :, t] = phi * x[row, :, t - 1] + x[row, :, t]
    x[4] += np.arange(chains)[:, None]
    x[5] = np.round(x[5])
    x[6] = 2.5
    x[7] = np.cumsum(x[7], axis=-1)
    x[8, 0] *= 10
    x[9, :, 0] = np.nan if draws > 4 else x[9, :, 0]
    return x


def _arviz(x: np.ndarray) -> dict[str, np.ndarray]:
    ds = xr.Dataset({f"v{i}": (("chain", "draw"), x[i]) for i in range(x.shape[0])})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = {
            "r_hat": az.rhat(ds) if x.shape[1] > 1 else None,
            "ess_bulk": az.ess(ds, method="bulk"),
            "ess_tail": az.ess(ds, method="tail"),
        }
    return {
        k: np.full(x.shape[0], np.nan) if v is None else np.array([float(v[f"v{i}"]) for i in range(x.shape[0])])
        for k, v in out.items()
    }


@pytest.mark.parametrize(("chains", "draws"), [(4, 200), (2, 57), (1, 100), (3, 5), (2, 4), (2, 3)])
def test_matches_arviz(chains: int, draws: int) -> None:
    x = _chains(chains * 1000 + draws, chains, draws)
    got, ref = cv.convergence(x), _arviz(x)
    for key in ("r_hat", "ess_bulk", "ess_tail"):
        np.testing.assert_array_equal(np.isnan(got[key]), np.isnan(ref[key]), err_msg=key)
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-10, err_msg=key)


def test_matches_arviz_across_batches(monkeypatch) -> None:
    monkeypatch.setattr(cv, "BATCH", 3)  # 10 parameters in batches of 3, 3, 3, 1
    x = _chains(7, 4, 120)
    got, ref = cv.convergence(x), _arviz(x)
    for key in ("r_hat", "ess_bulk", "ess_tail"):
        np.testing.assert_allclose(got[key], ref[key], rtol=1e-10, err_msg=key)


def test_hdi_matches_arviz() -> None:
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.gamma(2.0, size=(3, 999)), rng.standard_normal((2, 999))])
    lo, hi = cv.hdi(x, 0.9)
    ref = np.stack([az.hdi(row, hdi_prob=0.9) for row in x])
    np.testing.assert_array_equal(np.stack([lo, hi], axis=1), ref)


def test_summary_median_is_numpys_bit_for_bit_from_the_sorted_columns():
    # the summary takes the median from the columns it sorts for the HDI; ties, zeros of
    # both signs, infinities, NaN and odd/even draw counts must give np.median's numbers
    from geommm.analysis.draws import summarise

    rng = np.random.default_rng(0)
    for draws in (1000, 999, 2, 3):
        x = rng.normal(size=(draws, 6, 5))
        x[:, 0, 0] = 0.0
        x[::2, 0, 0] = -0.0
        x[-1, 1, 1] = np.nan
        x[: draws // 2, 2, 2] = -np.inf
        x[:, 3] = np.round(x[:, 3], 1)  # ties
        with np.errstate(invalid="ignore"):
            got = summarise(x)["median"].reshape(-1)
            expected = np.median(x.reshape(draws, -1), axis=0)
        assert np.array_equal(got, expected, equal_nan=True)
        assert np.array_equal(np.signbit(got), np.signbit(expected))
