"""How precisely a Geo-Lift test would measure its lift: its standard error, from the panel.

A test measures lift as the KPI of the test geos over the measured weeks minus a
counterfactual built from control geos. Its error has two parts:

1. **The test geos' own noise**: the model's residual sd per geo and week (posterior
   mean of ``noise_sd`` x KPI scale), summed over the test geos and measured weeks —
   ``sqrt(n_weeks x sum_g sigma_g^2)`` if weeks were independent — times a
   *placebo factor* for residuals that are not: over every past window of the same
   length, the variance of the model's residuals summed over the window, against
   ``n_weeks`` x the weekly variance (pooled over geos; never below 1). Slow misfit
   (a drifting baseline the model does not follow) makes this > 1.
2. **The control's own error**: the counterfactual is itself an estimate from
   control geos with their own weekly noise. A synthetic control of about the test
   cell's size carries about as much noise as the cell, which doubles the variance:
   :data:`CONTROL_ERROR_FACTOR` = sqrt(2). This is an assumption, not a measurement;
   a measurement team that knows its control's precision passes ``lift_se=`` (KPI
   units) or ``relative_se=`` (a fraction of the expected lift) instead.

The refit that closes the loop sees the test twice: as the lift-test row, and as the
test weeks in the extended panel, whose KPI the model explains with its own
baseline (no control group, so no control factor). :meth:`LiftPrecision.panel_variance`
is that second measurement's error; the preposterior combines the two
(inverse-variance), while power is the experiment's own.
"""

from __future__ import annotations

import math

import numpy as np

#: Inflation of the test geos' noise for the control group's own error (variance x 2).
CONTROL_ERROR_FACTOR = math.sqrt(2.0)


class LiftPrecision:
    """Standard errors of tests on a fitted model (weekly residual sd per geo, placebo factors)."""

    def __init__(self, forward) -> None:
        data = forward.data
        draws = forward.draws
        sd = draws["noise_sd"]  # (D, G) scaled units
        if "student_t_nu" in draws:  # the scale of a StudentT is not its sd
            nu = draws["student_t_nu"][:, None]
            sd = sd * np.sqrt(np.where(nu > 2, nu / np.maximum(nu - 2, 1e-9), 3.0))
        self.geo_sd = sd.mean(axis=0) * data.kpi_scale  # (G,) KPI units per week
        mean = forward.expected_kpi().mean(axis=0)  # (G, T)
        self.residuals = data.kpi - mean
        self._placebo: dict[int, float] = {}

    def placebo_factor(self, n_weeks: int) -> float:
        """sqrt of (variance of residual sums over past ``n_weeks``-week windows) / (n x weekly
        variance), pooled over geos, at least 1. Windows longer than half the panel: 1."""
        if n_weeks not in self._placebo:
            self._placebo[n_weeks] = _placebo(self.residuals, n_weeks)
        return self._placebo[n_weeks]

    def se(self, geos, n_weeks: int) -> float:
        """Standard error (KPI units) of a lift measured over ``n_weeks`` weeks in ``geos``."""
        var = n_weeks * float(np.sum(self.geo_sd[list(geos)] ** 2))
        return CONTROL_ERROR_FACTOR * self.placebo_factor(n_weeks) * math.sqrt(var)

    def geo_variance(self, n_weeks: int) -> np.ndarray:
        """(G,) each geo's share of a test's error variance (they add over the cell's geos)."""
        return CONTROL_ERROR_FACTOR**2 * self.panel_variance(n_weeks)

    def panel_variance(self, n_weeks: int) -> np.ndarray:
        """(G,) each geo's share of the error variance of the lift as the extended panel
        tells it (the model's own residual noise, no control group)."""
        return self.placebo_factor(n_weeks) ** 2 * n_weeks * self.geo_sd**2


def _placebo(residuals: np.ndarray, n: int) -> float:
    T = residuals.shape[1]
    if n < 2 or 2 * n > T:
        return 1.0
    r = residuals - residuals.mean(axis=1, keepdims=True)
    c = np.cumsum(np.pad(r, ((0, 0), (1, 0))), axis=1)
    sums = c[:, n:] - c[:, :-n]  # (G, T - n + 1) every window's sum
    ratio = sums.var(axis=1) / (n * r.var(axis=1))
    return float(math.sqrt(max(1.0, float(np.nanmean(ratio)))))
