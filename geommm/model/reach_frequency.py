"""The panel's reach & frequency columns, checked and kept for the media transform.

Bad values stop here with a DataError naming the term and the first offending row:
negative reach, frequency below 1 where there is reach (frequency is impressions per
person reached, so at least 1), non-finite values.
"""

from __future__ import annotations

import numpy as np

from geommm.errors import DataError
from geommm.formula.terms import ModelSpec
from geommm.media.frequency import FrequencyInput


def frequency_input(spec: ModelSpec, panel) -> FrequencyInput | None:
    """The R&F channels' frequency over the panel's weeks; None without such channels."""
    rf = [i for i, m in enumerate(spec.media) if m.frequency is not None]
    if not rf:
        return None
    reach = panel.values([spec.media[i].input for i in rf])
    frequency = panel.values([spec.media[i].frequency for i in rf])
    for k, i in enumerate(rf):
        m = spec.media[i]
        term = f"media(reach={m.input}, frequency={m.frequency}, spend={m.spend}, name='{m.name}')"
        r, f = reach[..., k], frequency[..., k]
        _first_bad(panel, term, m.input, ~np.isfinite(r) | (r < 0), "reach must be a finite number >= 0")
        _first_bad(panel, term, m.frequency, (r > 0) & ~(f >= 1),
                   "frequency (impressions / reach) must be at least 1 in weeks with reach")
    return FrequencyInput(rf, frequency, reach, len(spec.media))


def _first_bad(panel, term: str, column: str, bad: np.ndarray, rule: str) -> None:
    if not bad.any():
        return
    g, t = np.argwhere(bad)[0]
    raise DataError(
        f"{term}: column {column!r} breaks the rule '{rule}' in {int(bad.sum())} row(s), first at "
        f"geo {panel.geos[g]!r}, week {np.datetime_as_string(np.asarray(panel.times)[t], unit='D')}"
    )
