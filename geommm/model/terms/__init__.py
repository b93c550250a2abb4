"""The model's terms, one kind per module, each creating its own PyMC variables.

``build.py`` runs them in ``TERMS`` order inside one ``pm.Model``; each reads what
earlier terms made (``TermContext.values``) and returns its additions. The order is
the order in which variables are created, which fixes the sampler's parameter
vector: reordering changes the draws of a seeded fit. A new term is a module with
``build(ctx) -> dict`` and one entry in ``TERMS``.
"""

from geommm.model.terms import (
    controls,
    effect_shift,
    level,
    lift,
    likelihood,
    mean,
    media,
    media_effect,
    organic,
    seasonality,
    smooth,
    synergy,
    treatment,
    trend,
    varying,
)
from geommm.model.terms.context import TermContext

#: Build order: baseline terms, media shape, its time path (varying channels), a refresh's
#: step change (effect_shift), media effect, synergies, then the mean, the KPI
#: likelihood and the lift-test likelihood (which need everything before them).
TERMS = (level, seasonality, trend, smooth, controls, media, varying, effect_shift, media_effect, organic, treatment,
         synergy, mean, likelihood, lift)

__all__ = ["TERMS", "TermContext"]
