"""``log(revenue) ~ ...``: a multiplicative KPI, written on the formula's left-hand side.

The model is then fitted to the log of the KPI, so media (and every other term) act
multiplicatively on the KPI itself; results are still reported in KPI units, by
counterfactual (``analysis/log_kpi.py``). ``log()`` may wrap the response only: on the
right of ``~`` it would silently mean something else than on the left.
"""

from __future__ import annotations

from geommm.errors import FormulaError

#: ``ModelSpec.response_transform`` values: the KPI as it is, or its natural log.
RESPONSE_TRANSFORMS = ("identity", "log")
#: Functions accepted around the response (``np.log`` is the same log).
LOG_CALLS = ("log", "np.log")


def response_and_transform(response, formula: str) -> tuple[str, str] | None:
    """(column, "log") when the response is ``log(column)``; None when it is no call.

    Any other call, or a log of anything but one column, is a FormulaError."""
    comps = getattr(response.term, "components", [])
    if len(comps) != 1 or type(comps[0]).__name__ != "Call":
        return None
    call = comps[0].call
    args = list(call.args)
    if call.callee not in LOG_CALLS or call.kwargs or len(args) != 1 or type(args[0]).__name__ != "LazyVariable":
        raise FormulaError(
            f"the response in {formula!r} must be a column name or log(column) "
            f"(got {comps[0].name}); log(revenue) fits a multiplicative model whose "
            "contributions and ROI are still reported in KPI units"
        )
    return args[0].name, "log"


def reject_log_on_right(callee: str, term: str) -> None:
    """``log()`` in a right-hand term: a typed error saying where log() belongs."""
    if callee == "log":
        raise FormulaError(
            f"term '{term}': log() may only wrap the response (log(revenue) ~ ...), where it "
            "makes media act multiplicatively on the KPI; to log a control column write "
            "np.log(column)"
        )


def refuse_unmeasured_terms(transform: str, media, synergies, nonmedia) -> None:
    """A log KPI with synergy(...), organic(...), treatment(...) or reach & frequency
    channels: a typed error. Their counterfactuals on the log scale have not been
    checked against simulated truth yet, so they are refused rather than guessed."""
    if transform != "log":
        return
    found = [label for _, _, label in synergies]
    found += [f"{type(t).__name__.removesuffix('Term').lower()}({t.input})" for t in nonmedia]
    found += [f"media(reach=..., name='{m.name}')" for m in media if getattr(m, "frequency", None) is not None]
    if found:
        raise FormulaError(
            f"log(KPI) ~ ... cannot yet be combined with {', '.join(found)}; fit these terms "
            "on the KPI itself (an additive model), or drop them from the log model"
        )
