"""The time-varying media effectiveness path: one definition for the graph and the draws.

A channel written ``media(x, varying=True)`` has its effect multiplied by
``exp(f_c(t))``: ``f_c`` is a smooth national path (a Hilbert-space approximation of a
Gaussian process with an exponentiated-quadratic kernel, Solin & Sarkka 2020;
Riutort-Mayol et al. 2022, as PyMC's ``pm.gp.HSGP``), and with ``varying='geo'`` each
geo adds a pooled deviation path (zero-sum over geos, so the national path is the geo
average). The basis functions are centred over the panel's weeks, so every path has
mean zero there: the ROI prior keeps its meaning.

The basis (weeks x basis functions) is one matrix shared by every varying channel;
the coefficients (basis, channel) carry the amplitude and the lengthscale's spectral
weights. The trace stores those coefficients (``effect_path_coef``, and
``effect_path_geo_coef`` with ``varying='geo'``); :func:`log_multiplier` turns them
into the log multiplier for PyMC tensors and numpy draws alike.

Weeks outside the panel (carryover tails, predictions) are not this basis's: the path
is continued there by ``path_forecast.py`` (the process given the fitted path); plans
use one week's multiplier (``effectiveness="latest" | "average"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from geommm.errors import FormulaError, PriorError

#: Boundary factor of the approximation: the basis lives on ``[-c S, c S]`` weeks around
#: the panel's centre (``S`` the half-range), so the path is free at the panel's ends.
BOUNDARY_FACTOR = 1.5
#: Shortest lengthscale (weeks) a prior may centre on: weekly data cannot show faster change.
MIN_LENGTHSCALE_WEEKS = 2.0
#: Per-channel prior names of the path (overridable like every media prior).
PATH_PRIORS = ("effect_path_lengthscale", "effect_path_amplitude", "effect_path_geo_amplitude")


@dataclass(frozen=True)
class PathLayout:
    """Which channels vary, and the shared basis over the panel's weeks."""

    n_channels: int
    varying: tuple[int, ...]  # channel indices with a path
    geo: tuple[int, ...]  # channel indices with pooled geo deviations (subset of varying)
    basis: np.ndarray  # (T, m) centred over the panel's weeks
    frequencies: np.ndarray  # (m,) square roots of the Laplacian's eigenvalues, per week

    @property
    def n_basis(self) -> int:
        return self.basis.shape[1]

    def selection(self, idx: tuple[int, ...]) -> np.ndarray:
        """(len(idx), C) 0/1 matrix placing the varying channels' paths in channel order."""
        s = np.zeros((len(idx), self.n_channels))
        s[np.arange(len(idx)), list(idx)] = 1.0
        return s


def basis_for(n_times: int, n_basis: int, term: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Centred Laplacian eigenfunctions (T, m) and their frequencies (m,), in weeks."""
    if n_times < 2 * n_basis:
        raise FormulaError(
            f"{term}: the panel's {n_times} weeks are too short for a basis of {n_basis} "
            f"functions (needs at least {2 * n_basis} weeks); pass a smaller basis=, e.g. "
            f"basis={max(2, n_times // 4)}, or leave the term out"
        )
    return basis_at(np.arange(n_times, dtype="float64"), n_times, n_basis)


def basis_at(weeks: np.ndarray, n_train: int, n_basis: int) -> tuple[np.ndarray, np.ndarray]:
    """The basis of a panel of ``n_train`` fitted weeks, at week indices ``weeks`` (0 = the
    first fitted week): weeks outside the fitted ones take the nearest end's value."""
    half = max((n_train - 1) / 2.0, 1.0)
    edge = BOUNDARY_FACTOR * half
    j = np.arange(1, n_basis + 1, dtype="float64")
    freq = math.pi * j / (2.0 * edge)

    def phi(w: np.ndarray) -> np.ndarray:
        x = np.clip(w, 0, n_train - 1) - (n_train - 1) / 2.0
        return np.sqrt(1.0 / edge) * np.sin(freq[None, :] * (x[:, None] + edge))

    centre = phi(np.arange(n_train, dtype="float64")).mean(axis=0, keepdims=True)
    return phi(np.asarray(weeks, dtype="float64")) - centre, freq


def layout_for(spec, n_times: int) -> PathLayout | None:
    """The path layout of a model, or None when no channel varies (the static model)."""
    varying = tuple(i for i, m in enumerate(spec.media) if getattr(m, "varying", False))
    if not varying:
        return None
    sizes = {spec.media[i].basis for i in varying}
    if len(sizes) != 1:
        names = [spec.media[i].name for i in varying]
        raise FormulaError(
            f"varying channels {names} ask for different basis sizes {sorted(sizes)}: the "
            "channels share one basis; give them the same basis="
        )
    n_basis = sizes.pop()
    term = "media(" + ", ".join(spec.media[i].name for i in varying) + ", varying=...)"
    phi, freq = basis_for(n_times, n_basis, term)
    geo = tuple(i for i in varying if spec.media[i].varying == "geo")
    return PathLayout(len(spec.media), varying, geo, phi, freq)


def spectral_weights(frequencies: np.ndarray, lengthscale: Any, xp) -> Any:
    """Square root of the exponentiated-quadratic spectral density (unit amplitude) at
    each frequency, per channel: (..., m, Cv) for lengthscales (..., Cv)."""
    ls = lengthscale[..., None, :]
    w = frequencies[:, None]
    return xp.sqrt(math.sqrt(2.0 * math.pi) * ls) * xp.exp(-0.25 * (ls * w) ** 2)


def log_multiplier(params, layout: PathLayout, xp=np) -> Any:
    """Log effectiveness multiplier (..., G or 1, T, C): 0 for static channels."""
    coef = params["effect_path_coef"]  # (..., m, Cv)
    path = xp.matmul(layout.basis, coef)  # (..., T, Cv)
    out = xp.matmul(path, layout.selection(layout.varying))[..., None, :, :]
    if layout.geo and "effect_path_geo_coef" in params:  # absent with one geo
        geo_coef = params["effect_path_geo_coef"]  # (..., G, m, Cg)
        out = out + xp.matmul(xp.matmul(layout.basis, geo_coef), layout.selection(layout.geo))
    return out


def check_path_priors(priors, spec, n_times: int) -> None:
    """A lengthscale prior must be in weeks: its median between 2 weeks and the panel."""
    prior = priors.channel.get("effect_path_lengthscale")
    if prior is None:
        return
    median = np.median(prior.draw(2001, np.random.default_rng(0)), axis=0) * np.ones(len(spec.media))
    for i, m in enumerate(spec.media):
        if not getattr(m, "varying", False):
            continue
        if not MIN_LENGTHSCALE_WEEKS <= median[i] <= n_times:
            raise PriorError(
                f"media({m.name}, varying=...): prior 'effect_path_lengthscale' has median "
                f"{median[i]:.3g}; the lengthscale is in weeks and must lie between "
                f"{MIN_LENGTHSCALE_WEEKS:g} and the panel's {n_times} weeks (a lengthscale in "
                "years or days? 26 means half a year)"
            )
