"""Media effectiveness over time: a time-varying channel's multiplier per week, with its band.

1 is the channel's typical week over the fitted period; 1.2 means a unit of media
worked 20% harder that week. Shown only when the formula lets a channel vary
(``media(..., varying=True)``).
"""

from __future__ import annotations

import altair as alt
import polars as pl

from geommm.analysis.tables import EFFECTIVENESS
from geommm.report.charts._common import DATE_AXIS, HDI_TITLE, inline_data, require_columns
from geommm.report.theme import MODEL_COLOR


def effectiveness_chart(table: pl.DataFrame) -> alt.FacetChart:
    """One panel per varying channel: the national multiplier's mean and HDI band over
    weeks, and a rule at 1. Feed ``fit.effectiveness()``."""
    require_columns(table, EFFECTIVENESS, "effectiveness")
    data = inline_data(table.select(EFFECTIVENESS))
    x = alt.X("time:T", title=None, axis=DATE_AXIS)
    band = alt.Chart().mark_area(opacity=0.25, color=MODEL_COLOR).encode(
        x=x,
        y=alt.Y("hdi_low:Q", title="effectiveness (1 = typical week)", scale=alt.Scale(zero=False)),
        y2="hdi_high:Q",
        tooltip=[alt.Tooltip("time:T", format="%d %b %Y"), alt.Tooltip("hdi_low:Q", format=".2f", title="HDI low"),
                 alt.Tooltip("hdi_high:Q", format=".2f", title="HDI high")],
    )
    line = alt.Chart().mark_line(color=MODEL_COLOR).encode(
        x=x, y="mean:Q", tooltip=[alt.Tooltip("mean:Q", format=".2f", title="multiplier")]
    )
    one = alt.Chart().mark_rule(strokeDash=[4, 3], color="#555").encode(y=alt.datum(1.0))
    return (
        alt.layer(band, line, one, data=data)
        .properties(width=520, height=160)
        .facet(row=alt.Row("channel:N", title=None))
        .properties(title=f"Media effectiveness over time ({HDI_TITLE})")
    )
