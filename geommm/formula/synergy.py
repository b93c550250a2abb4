"""``synergy(tv, search)`` in a formula -> a :class:`SynergyTerm`, checked against the media.

The arguments are media *term names* (``media(..., name='tv')``), not columns: a
synergy multiplies two channels' saturated adstocked media, so both channels must
exist in the formula. Every mistake fails at ``GeoMMM(...)`` with the term's own
text in the message: an unknown name (with a suggestion), a channel paired with
itself, the same pair twice (in either order), a time-varying channel.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from formulae.terms.call_resolver import LazyValue, LazyVariable

from geommm.errors import FormulaError
from geommm.formula.terms import MediaTerm, SynergyTerm


def synergy_call(call, label: str) -> tuple[str, str, str]:
    """``(first, second, label)`` of one ``synergy(a, b)`` call; names checked later
    (:func:`synergy_terms`), once every media term of the formula is known."""
    if call.kwargs or len(call.args) != 2:
        raise FormulaError(
            f"{label}: synergy() takes two media names and no keywords, e.g. synergy(tv, search)"
        )
    names = []
    for arg in call.args:
        if isinstance(arg, LazyVariable):
            names.append(arg.name)
        elif isinstance(arg, LazyValue) and isinstance(arg.value, str):
            names.append(arg.value)
        else:
            raise FormulaError(f"{label}: synergy() arguments must be media names, got {arg!r}")
    return names[0], names[1], label


_WRITTEN = re.compile(r"synergy\(\s*['\"]?(\w+)['\"]?\s*,\s*['\"]?(\w+)['\"]?\s*\)")


def synergy_terms(
    calls: Sequence[tuple[str, str, str]], media: Sequence[MediaTerm], formula: str = ""
) -> tuple[SynergyTerm, ...]:
    """The checked terms, in formula order. ``formula``'s text catches a pair written
    twice the same way, which the formula parser merges into one term."""
    for a, b in _WRITTEN.findall(formula):
        if len([1 for x, y in _WRITTEN.findall(formula) if {x, y} == {a, b}]) > 1:
            raise FormulaError(f"synergy({a}, {b}): the pair {a!r} x {b!r} is written twice in the formula")
    channels = [m.name for m in media]
    by_name = {m.name: m for m in media}
    seen: dict[frozenset, str] = {}
    out = []
    for first, second, label in calls:
        for name in (first, second):
            if name not in by_name:
                close = difflib.get_close_matches(name, channels, n=3, cutoff=0.5)
                hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                raise FormulaError(
                    f"{label}: {name!r} is not a media name of this formula (media names: "
                    f"{channels}){hint}"
                )
            if by_name[name].varying is not False:
                raise FormulaError(
                    f"{label}: channel {name!r} varies over time (media(..., varying=...)); a "
                    "synergy needs two static channels"
                )
        if first == second:
            raise FormulaError(f"{label}: a channel cannot have a synergy with itself ({first!r})")
        key = frozenset((first, second))
        if key in seen:
            raise FormulaError(f"{label}: the pair {first!r} x {second!r} is already in the formula as {seen[key]}")
        seen[key] = label
        out.append(SynergyTerm(first=first, second=second))
    return tuple(out)
