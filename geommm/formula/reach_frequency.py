"""``media(reach=..., frequency=..., spend=..., name=...)``: a reach & frequency channel.

The term becomes a :class:`~geommm.formula.terms.MediaTerm` whose ``input`` is the reach
column, ``frequency`` the average-frequency column and ``saturation`` the R&F kind
(the frequency curve acts before adstock: ``geommm/media/frequency.py``). Everything
downstream that reads media terms (scaling, ROI prior, pooling, the analysis) treats
it as one more channel.
"""

from __future__ import annotations

from collections.abc import Sequence

from geommm.errors import FormulaError
from geommm.formula.terms import DEFAULT_MAX_LAG, MediaTerm
from geommm.media.frequency import RF_SATURATION

#: Keywords of an R&F media term; the three columns are required.
RF_KEYWORDS = ("reach", "frequency", "spend", "name", "adstock", "max_lag")
RF_COLUMNS = ("reach", "frequency", "spend")


def rf_media_term(call, columns: Sequence[str]) -> MediaTerm:
    """The MediaTerm of ``media(reach=, frequency=, spend=, ...)``; FormulaError naming the
    term for a missing column, an unknown keyword or a positional column next to reach=."""
    from geommm.formula.parse import _check_column, _column_arg, _literal  # parse dispatches here

    label = _label(call)
    if call.args:
        raise FormulaError(
            f"{label}: a reach & frequency channel takes its columns as keywords only; drop the "
            "positional column (write media(reach=tv_reach, frequency=tv_frequency, spend=tv_spend, "
            "name='tv'))"
        )
    unknown = sorted(set(call.kwargs) - set(RF_KEYWORDS))
    if unknown:
        extra = " (the frequency curve is Hill, fixed)" if "saturation" in unknown else ""
        raise FormulaError(f"{label}: unknown keyword(s) {unknown}{extra}; allowed: {', '.join(RF_KEYWORDS)}")
    missing = [k for k in RF_COLUMNS if k not in call.kwargs]
    if missing:
        raise FormulaError(
            f"{label}: missing {', '.join(k + '=' for k in missing)}; a reach & frequency channel "
            "needs reach= (people reached per week), frequency= (impressions / reach) and spend="
        )
    cols = {}
    for key in RF_COLUMNS:
        cols[key] = _column_arg(call.kwargs[key], f"{label} {key}=")
        _check_column(cols[key], columns, f"{label} {key}=")
    if len(set(cols.values())) < 3:
        raise FormulaError(f"{label}: reach=, frequency= and spend= must be three different columns")
    kw = {k: _literal(v, f"{label} {k}=") for k, v in call.kwargs.items() if k not in RF_COLUMNS}
    name = str(kw.get("name", cols["reach"].removesuffix("_reach")))
    try:
        return MediaTerm(
            input=cols["reach"], spend=cols["spend"], name=name, frequency=cols["frequency"],
            adstock=str(kw.get("adstock", "geometric")), saturation=RF_SATURATION,
            max_lag=int(kw.get("max_lag", DEFAULT_MAX_LAG)),
        )
    except (TypeError, ValueError) as exc:
        raise FormulaError(f"{label}: {exc}") from None


def _label(call) -> str:
    """How errors name the term: by its name= when given, else by its reach= column."""
    for key in ("name", "reach"):
        value = call.kwargs.get(key)
        text = getattr(value, "value", None) or getattr(value, "name", None)
        if text is not None:
            return f"media({key}={text!r}, ...)" if key == "name" else f"media(reach={text}, ...)"
    return "media(reach=..., frequency=...)"
