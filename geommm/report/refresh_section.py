"""The report's "What changed since the last fit" section, for a refreshed fit.

Shown when the fit has a parent (``fit.lineage``). Its tables come from
``fit.changes``, the :class:`~geommm.workflows.what_changed.WhatChanged` that
``fit.what_changed(parent)`` keeps; a fit loaded from disk without its parent says
how to get them instead of guessing.
"""

from __future__ import annotations

import polars as pl

from geommm.report.sections import Section, Skip


def what_changed_section(fit) -> Section | None:
    """The section, or None for a first fit (no parent)."""
    lineage = getattr(fit, "lineage", None)
    if not lineage:
        return None
    changes = getattr(fit, "changes", None)
    origin = (
        f"Refreshed ({lineage.get('method')}) from fit {lineage.get('parent_id')} "
        f"(weeks {lineage['parent_weeks'][0]} to {lineage['parent_weeks'][1]}) with "
        f"{lineage.get('n_new_weeks')} new weeks ({lineage['new_weeks'][0]} to {lineage['new_weeks'][1]}). "
    )
    if changes is None:
        intro = origin + "Load the parent fit and call fit.what_changed(parent) before writing the report to see what moved."
        return Section("What changed since the last fit", intro=intro)

    def need(table):
        if table is None or table.height == 0:
            raise Skip
        return table

    roi = changes.roi.filter((pl.col("geo") == "national"))
    return Section(
        "What changed since the last fit",
        intro=origin + changes.summary,
        tables={
            "Effectiveness in the new weeks (effect_shift)": lambda: need(changes.shift),
            "The last fit's forecast of the new weeks": lambda: need(changes.forecast),
            "ROI and marginal ROI, before vs after": lambda: need(roi),
            "Budget advice, before vs after (change as a share of current spend)": lambda: need(changes.budget),
        },
    )
