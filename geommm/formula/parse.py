"""Formula string -> ModelSpec, using ``formulae`` for the parsing.

formulae turns the string into terms; this module only interprets the terms
geommm adds (``media``, ``fourier``, ``trend``, ``holidays``, ``(x | geo)``) and checks every
name against the panel, so typos fail here with a suggestion instead of deep
inside PyMC.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

import formulae as fm
from formulae.terms.call_resolver import LazyOperator, LazyValue, LazyVariable
from formulae.terms.terms import GroupSpecificTerm, Intercept, Term

from geommm.errors import FormulaError
from geommm.formula.holidays import holiday_term
from geommm.formula.reach_frequency import rf_media_term
from geommm.formula.nonmedia import nonmedia_term, split_nonmedia
from geommm.formula.synergy import synergy_call, synergy_terms
from geommm.formula.log_kpi import refuse_unmeasured_terms, reject_log_on_right, response_and_transform
from geommm.formula.terms import (
    DEFAULT_BASIS,
    DEFAULT_MAX_LAG,
    FourierTerm,
    HolidayTerm,
    MediaTerm,
    ModelSpec,
    SmoothTerm,
    TrendTerm,
)

SPECIAL_FUNCTIONS = ("media", "fourier", "trend", "holidays", "smooth", "organic", "treatment", "synergy")
#: Transformations formulae itself evaluates inside control terms.
CONTROL_FUNCTIONS = ("C", "center", "scale", "standardize", "I")
_MEDIA_KEYWORDS = ("spend", "name", "adstock", "saturation", "max_lag", "varying", "basis")


def parse_formula(formula: str, columns: Sequence[str], geo: str = "geo") -> ModelSpec:
    """Parse ``formula`` and check every referenced column exists in ``columns``."""
    if not isinstance(formula, str) or "~" not in formula:
        raise FormulaError(
            f"formula must be a string like 'revenue ~ price + media(tv_spend)'; got {formula!r}"
        )
    try:
        desc = fm.model_description(formula)
    except Exception as exc:  # formulae raises its own ParseError/ScanError types
        raise FormulaError(f"cannot parse formula {formula!r}: {exc}") from None
    if desc.response is None:
        raise FormulaError(f"formula {formula!r} has no response (KPI) on the left of '~'")
    response, transform = response_and_transform(desc.response, formula) or (_response_name(desc.response, formula), "identity")
    columns = list(columns)
    _check_column(response, columns, "response")

    controls: list[str] = []
    control_columns: dict[str, str] = {}  # column -> the control term using it
    geo_varying: list[str] = []
    geo_intercept = False
    media: list[MediaTerm] = []
    fourier: list[FourierTerm] = []
    trend: TrendTerm | None = None
    holidays: list[HolidayTerm] = []
    smooth: SmoothTerm | None = None
    nonmedia: list = []  # organic(...) and treatment(...) terms (formula/nonmedia.py)
    synergies: list[tuple[str, str, str]] = []

    for term in desc.terms:
        if isinstance(term, Intercept):
            continue
        if isinstance(term, GroupSpecificTerm):
            factor = _term_text(term.factor)
            if factor != geo:
                raise FormulaError(
                    f"group term '({_term_text(term.expr)} | {factor})': geommm pools by the geo "
                    f"column {geo!r}; write '(... | {geo})'"
                )
            if isinstance(term.expr, Intercept):
                geo_intercept = True
            else:
                expr = _control_expr(term.expr, columns)
                control_columns.update(dict.fromkeys(_term_columns(term.expr), expr))
                geo_varying.append(expr)
                if expr not in controls:
                    controls.append(expr)
            continue
        call = _special_call(term)
        if call is None:
            expr = _control_expr(term, columns)
            control_columns.update(dict.fromkeys(_term_columns(term), expr))
            if expr not in controls:
                controls.append(expr)
        elif call.callee == "media":
            media.append(_media_term(call, columns))
        elif call.callee == "fourier":
            fourier.append(_fourier_term(call))
        elif call.callee == "trend":
            if call.args or call.kwargs:
                raise FormulaError("trend() takes no arguments (a linear trend, pooled across geos)")
            trend = TrendTerm()
        elif call.callee == "holidays":
            holidays.append(holiday_term(call, _term_text(term), columns, geo))
        elif call.callee == "smooth":
            smooth = _smooth_term(call)
        elif call.callee == "synergy":
            synergies.append(synergy_call(call, _term_text(term)))
        else:
            nonmedia.append(nonmedia_term(call, _term_text(term), columns))

    if not media:
        raise FormulaError(
            f"formula {formula!r} has no media(...) term; add e.g. media(tv_spend, name='tv')"
        )
    names = [m.name for m in media]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FormulaError(f"media names must be unique; repeated: {dupes}")
    _check_one_role_per_column(response, control_columns, media, nonmedia)
    refuse_unmeasured_terms(transform, media, synergies, nonmedia)
    return ModelSpec(
        formula=formula,
        response=response,
        controls=tuple(controls),
        geo_varying=tuple(geo_varying),
        geo_intercept=geo_intercept,
        media=tuple(media),
        fourier=tuple(fourier),
        trend=trend,
        holidays=tuple(holidays),
        smooth=smooth,
        **split_nonmedia(nonmedia, names, controls),
        synergy=synergy_terms(synergies, media, formula),
        response_transform=transform,
    )


# ----------------------------------------------------------------------------- helpers
def _check_one_role_per_column(
    response: str, control_columns: dict[str, str], media: Sequence[MediaTerm], nonmedia: Sequence = ()
) -> None:
    """A column explains the KPI once: as the KPI, a control or one channel's media.

    Used twice, the model splits one effect between two terms however it likes, and
    the channel's ROI (its contribution with the control left in place) is wrong.
    """
    uses: dict[str, str] = {response: "the response"}

    def claim(column: str, role: str) -> None:
        if column in uses and uses[column] != role:
            raise FormulaError(
                f"column {column!r} is used as {uses[column]} and as {role}; a column can "
                "play one role in a formula (remove one of the terms)"
            )
        uses[column] = role

    for column, term in control_columns.items():
        claim(column, f"control '{term}'")
    for m in media:
        claim(m.input, f"media input of channel {m.name!r}")
        if m.spend != m.input:
            claim(m.spend, f"spend of channel {m.name!r}")
        if m.frequency is not None:
            claim(m.frequency, f"frequency of channel {m.name!r}")
    for t in nonmedia:  # organic(...) and treatment(...) terms
        claim(t.input, f"the input of {t.label}")


def _term_columns(term) -> list[str]:
    """The panel columns a control term reads (inside transformations too)."""
    found = []
    for comp in getattr(term, "components", []):
        if type(comp).__name__ == "Call":
            found.extend(_call_variables(comp.call))
        else:
            found.append(comp.name)
    return found



def _response_name(response, formula: str) -> str:
    comps = getattr(response.term, "components", [])
    if len(comps) != 1 or type(comps[0]).__name__ != "Variable":
        raise FormulaError(
            f"the response in {formula!r} must be a plain column name (transformations such as "
            "log() are not supported: contributions and ROI are reported in KPI units)"
        )
    return comps[0].name


def _term_text(term) -> str:
    comps = getattr(term, "components", None)
    if comps is None:
        return "1" if isinstance(term, Intercept) else str(term)
    return ":".join(c.name for c in comps)


def _special_call(term: Term):
    comps = term.components
    calls = [c for c in comps if type(c).__name__ == "Call"]
    special = [c for c in calls if c.call.callee in SPECIAL_FUNCTIONS]
    if not special:
        return None
    if len(comps) != 1:
        raise FormulaError(
            f"'{_term_text(term)}': {special[0].call.callee}() cannot be part of an interaction"
        )
    return special[0].call


def _control_expr(term, columns: Sequence[str]) -> str:
    for comp in term.components:
        if type(comp).__name__ == "Call":
            callee = comp.call.callee
            reject_log_on_right(callee, comp.name)
            if callee not in CONTROL_FUNCTIONS and not callee.startswith("np."):
                raise FormulaError(
                    f"unknown function {callee}() in term '{comp.name}'; geommm knows "
                    f"{', '.join(SPECIAL_FUNCTIONS)} and, for controls, "
                    f"{', '.join(CONTROL_FUNCTIONS)} and np.* transformations"
                )
            for var in _call_variables(comp.call):
                _check_column(var, columns, f"term '{comp.name}'")
        else:
            _check_column(comp.name, columns, "control")
    return _term_text(term)


def _call_variables(call) -> Iterable[str]:
    stack = list(call.args) + list(call.kwargs.values())
    while stack:
        arg = stack.pop()
        if isinstance(arg, LazyVariable):
            yield arg.name
        elif isinstance(arg, LazyOperator):
            stack.extend(arg.args)
        elif hasattr(arg, "callee"):
            stack.extend(list(arg.args) + list(arg.kwargs.values()))


def _literal(arg, what: str):
    if isinstance(arg, LazyValue):
        return arg.value
    if isinstance(arg, LazyVariable):  # an unquoted word, e.g. name=tv
        return arg.name
    raise FormulaError(f"{what} must be a literal value, got {arg!r}")


def _column_arg(arg, what: str) -> str:
    if isinstance(arg, LazyVariable):
        return arg.name
    if isinstance(arg, LazyValue) and isinstance(arg.value, str):
        return arg.value
    raise FormulaError(f"{what} must name a column of the panel")


def _media_term(call, columns: Sequence[str]) -> MediaTerm:
    if "reach" in call.kwargs or "frequency" in call.kwargs:  # reach & frequency channel
        return rf_media_term(call, columns)
    if len(call.args) != 1:
        raise FormulaError(
            "media() takes one column (exposure or spend) and keywords "
            f"{', '.join(_MEDIA_KEYWORDS)}; e.g. media(tv_impressions, spend=tv_spend, name='tv')"
        )
    unknown = sorted(set(call.kwargs) - set(_MEDIA_KEYWORDS))
    if unknown:
        raise FormulaError(
            f"media(): unknown keyword(s) {unknown}; allowed: {', '.join(_MEDIA_KEYWORDS)}"
        )
    column = _column_arg(call.args[0], "media()'s first argument")
    _check_column(column, columns, "media()")
    spend = column
    if "spend" in call.kwargs:
        spend = _column_arg(call.kwargs["spend"], "media(spend=...)")
        _check_column(spend, columns, "media(spend=...)")
    kw = {k: _literal(v, f"media({k}=...)") for k, v in call.kwargs.items() if k != "spend"}
    name = str(kw.get("name", column.removesuffix("_spend").removesuffix("_impressions")))
    try:
        max_lag = int(kw.get("max_lag", DEFAULT_MAX_LAG))
        return MediaTerm(
            input=column,
            spend=spend,
            name=name,
            adstock=str(kw.get("adstock", "geometric")),
            saturation=str(kw.get("saturation", "hill")),
            max_lag=max_lag,
            varying=_varying(kw.get("varying", False)),
            basis=int(kw.get("basis", DEFAULT_BASIS)),
        )
    except (TypeError, ValueError) as exc:
        raise FormulaError(f"media({column}, ...): {exc}") from None


def _varying(value):
    """``varying=`` as written (True, true, 1, 'geo', ...) -> False, True or 'geo'; anything
    else is kept for MediaTerm to reject with the documented values."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if isinstance(value, (bool, int, float)) and value in (0, 1):
        return bool(value)
    return value


def _smooth_term(call) -> SmoothTerm:
    unknown = sorted(set(call.kwargs) - {"basis"})
    if unknown or len(call.args) > 1 or (call.args and not isinstance(call.args[0], LazyVariable)):
        raise FormulaError("smooth() takes the word time and an optional basis=, e.g. smooth(time, basis=20)")
    try:
        return SmoothTerm(basis=int(_literal(call.kwargs.get("basis", LazyValue(DEFAULT_BASIS, None)), "smooth(basis=...)")))
    except (TypeError, ValueError) as exc:
        raise FormulaError(f"smooth(): {exc}") from None


def _fourier_term(call) -> FourierTerm:
    values = [_literal(a, "fourier() arguments") for a in call.args]
    kwargs = {k: _literal(v, f"fourier({k}=...)") for k, v in call.kwargs.items()}
    unknown = sorted(set(kwargs) - {"period", "order"})
    if unknown or len(values) > 2:
        raise FormulaError("fourier() takes (period, order), e.g. fourier(52, 2)")
    params = dict(zip(("period", "order"), values)) | kwargs
    try:
        return FourierTerm(period=float(params.get("period", 52.18)), order=int(params.get("order", 2)))
    except (TypeError, ValueError) as exc:
        raise FormulaError(f"fourier(): {exc}") from None


def _check_column(name: str, columns: Sequence[str], where: str) -> None:
    if name in columns:
        return
    close = difflib.get_close_matches(name, columns, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise FormulaError(f"{where}: column {name!r} is not in the panel{hint}")
