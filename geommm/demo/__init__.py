"""The shipped demo panel: simulated, with lift tests and the known true ROI.

Read through ``importlib.resources`` so it works from a wheel or zip, without
network access. Regenerate with ``python -m geommm.demo.make_demo``.
"""

from __future__ import annotations

from importlib import resources

from geommm.sim import SimulatedPanel, load_from

__all__ = ["load_demo"]


def load_demo() -> SimulatedPanel:
    """Demo panel (10 geos x 104 weeks x tv/search/social/display), lift tests, truth, formula."""
    root = resources.files(__name__)
    return load_from(lambda name: root.joinpath(name).read_bytes())
