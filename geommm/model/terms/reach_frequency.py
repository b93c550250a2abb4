"""The frequency curve's parameters of reach & frequency channels (``frequency_half``,
``frequency_slope``), one per R&F channel on the ``rf_channel`` axis.

Created by the media term just before adstock (the curve acts on each week's frequency
before carryover: ``geommm/media/frequency.py``); nothing is created without R&F
channels, so other models' graphs and draws are unchanged.
"""

from __future__ import annotations

from typing import Any

import pymc as pm

from geommm.media.frequency import RF_PRIORS
from geommm.model.terms.context import TermContext


def parameters(ctx: TermContext) -> dict[str, Any]:
    """``frequency_half`` and ``frequency_slope`` ``(R,)``, or nothing without R&F channels."""
    rf = ctx.data.reach_frequency
    if rf is None:
        return {}
    model = pm.modelcontext(None)
    model.add_coord("rf_channel", [ctx.data.channels[c] for c in rf.channels])
    # shared priors, overridable by name: priors={"frequency_half": ...} (every R&F channel)
    return {name: ctx.priors.shared[name].create(name, dims="rf_channel") for name in RF_PRIORS}
