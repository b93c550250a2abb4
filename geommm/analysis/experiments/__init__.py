"""Which Geo-Lift test to run next: candidate tests ranked by what they would teach the model.

One concept per module:

- :mod:`~.request`       the arguments, checked (typed errors naming the argument);
- :mod:`~.plan`          business-as-usual media after the panel, and a test applied to it;
- :mod:`~.effects`       each geo-channel's lift over the posterior draws (the forward model);
- :mod:`~.precision`     a test's standard error from the panel's residual noise;
- :mod:`~.preposterior`  power, and interval widths after a result (reweighting / Gaussian);
- :mod:`~.candidates`    geo sets searched greedily, each candidate priced;
- :mod:`~.design`        the ranked table (:func:`design_lift_tests`);
- :mod:`~.loop`          a run test back into a lift-test row (:func:`to_lift_test`).
"""

from __future__ import annotations

from geommm.analysis.experiments.design import COLUMNS, design_lift_tests
from geommm.analysis.experiments.loop import to_lift_test
from geommm.analysis.experiments.precision import CONTROL_ERROR_FACTOR
from geommm.analysis.experiments.request import KINDS

__all__ = ["COLUMNS", "CONTROL_ERROR_FACTOR", "KINDS", "design_lift_tests", "to_lift_test"]
