"""The report's section on organic media and treatments: what they added, and why no ROI.

Shown only when the formula has ``organic(...)`` or ``treatment(...)`` terms; it leads
with each term's incremental KPI and its interval in words, then the tables. Their
contributions are also in the decomposition ("Where the KPI comes from").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geommm.report.sections import Section

if TYPE_CHECKING:
    from geommm.fit import Fit


def nonmedia_section(fit: Fit) -> Section | None:
    """The section, or None when the formula has neither term."""
    spec = getattr(fit, "spec", None)
    organic, treatments = getattr(spec, "organic", ()), getattr(spec, "treatments", ())
    if not organic and not treatments:
        return None
    tables = {}
    if organic:
        tables["Organic media (no spend: no ROI, not in the budget plan)"] = lambda: fit.organic_effects()
    if treatments:
        tables["Treatments against their baseline level"] = lambda: fit.treatment_effects()
    return Section("Organic media and other levers", intro=_intro(fit), tables=tables)


def _intro(fit: Fit) -> str:
    lines = []
    for name, table in (("organic", fit.organic_effects), ("treatment", fit.treatment_effects)):
        if not getattr(fit.spec, "organic" if name == "organic" else "treatments", ()):
            continue
        for row in table().iter_rows(named=True):
            what = row[name]
            lines.append(
                f"{what} added {_num(row['incremental_kpi_mean'])} to the KPI over the fitted weeks "
                f"(90% interval {_num(row['incremental_kpi_hdi_low'])} to {_num(row['incremental_kpi_hdi_high'])}, "
                f"{row['kpi_share_mean']:.1%} of the KPI)"
                + (" against its baseline level." if name == "treatment" else ".")
            )
    if getattr(fit.spec, "organic", ()):
        lines.append("Organic media have no spend, so they have no ROI and the budget plan leaves them as they were.")
    return " ".join(lines)


def _num(x: float) -> str:
    return f"{x:,.3g}" if abs(x) < 1e4 else f"{x:,.0f}"


def roi_note(fit: Fit) -> str:
    """A sentence for the ROI section naming the organic terms it leaves out ('' without any)."""
    names = [o.name for o in getattr(getattr(fit, "spec", None), "organic", ())]
    if not names:
        return ""
    return (f" Organic media ({', '.join(names)}) have no spend, so no ROI: their incremental KPI is "
            "in 'Organic media and other levers'.")
