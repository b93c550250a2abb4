"""``organic(...)`` and ``treatment(...)`` in a formula -> their terms, checked.

Both are things that move the KPI without a media budget, so neither has an ROI or
a place in the budget optimiser:

- ``organic(newsletter_sends, name='newsletter', adstock=..., saturation=..., max_lag=...)``:
  non-paid media (newsletters, organic social posts, PR mentions) with the same
  carryover and diminishing returns as paid media, but no spend;
- ``treatment(price_index, baseline='min', name='price')``: a non-media lever whose
  incremental KPI is reported against a counterfactual level of the lever
  (``baseline``: ``'min'``, ``'max'``, ``'mean'`` of the panel, or a number).

Everything that can be checked without the panel's values is checked here, with the
term's own text in the message; values (negative exposure, a baseline outside the
observed range) are checked when the data are built (``model/nonmedia.py``).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass

from formulae.terms.call_resolver import LazyValue, LazyVariable

from geommm.errors import FormulaError
from geommm.media.registry import ADSTOCKS, SATURATIONS

DEFAULT_MAX_LAG = 8
ORGANIC_KEYWORDS = ("name", "adstock", "saturation", "max_lag")
TREATMENT_KEYWORDS = ("name", "baseline")
#: Words ``treatment(baseline=...)`` accepts besides a number: the lever's panel minimum,
#: maximum or mean (over every geo and week).
BASELINE_WORDS = ("min", "max", "mean")


@dataclass(frozen=True)
class OrganicTerm:
    """``organic(input, name=..., adstock=..., saturation=..., max_lag=...)``: non-paid media."""

    input: str
    name: str
    adstock: str = "geometric"
    saturation: str = "hill"
    max_lag: int = DEFAULT_MAX_LAG

    def __post_init__(self) -> None:
        if self.adstock not in ADSTOCKS:
            raise ValueError(f"adstock={self.adstock!r} is not one of {ADSTOCKS}")
        if self.saturation not in SATURATIONS:
            raise ValueError(f"saturation={self.saturation!r} is not one of {SATURATIONS}")
        if not 1 <= self.max_lag <= 52:
            raise ValueError(f"max_lag={self.max_lag} must be between 1 and 52 weeks")

    @property
    def label(self) -> str:
        return f"organic({self.input}, name={self.name!r})"


@dataclass(frozen=True)
class TreatmentTerm:
    """``treatment(input, baseline=..., name=...)``: a non-media lever with a counterfactual level."""

    input: str
    name: str
    baseline: str | float = "min"

    def __post_init__(self) -> None:
        if isinstance(self.baseline, bool) or not (
            self.baseline in BASELINE_WORDS
            or (isinstance(self.baseline, (int, float)) and math.isfinite(self.baseline))
        ):
            raise ValueError(
                f"baseline={self.baseline!r} must be one of {BASELINE_WORDS} (the lever's panel "
                "minimum, maximum or mean) or a finite number (the lever's counterfactual level)"
            )

    @property
    def label(self) -> str:
        return f"treatment({self.input}, name={self.name!r})"


def organic_term(call, text: str, columns: Sequence[str]) -> OrganicTerm:
    """The term of one ``organic(...)`` call; ``text`` is its text in the formula."""
    column = _one_column(call, text, "organic", ORGANIC_KEYWORDS, columns,
                         "organic(newsletter_sends, name='newsletter')")
    kw = {k: _literal(v, k, text) for k, v in call.kwargs.items()}
    try:
        return OrganicTerm(
            input=column, name=str(kw.get("name", column)),
            adstock=str(kw.get("adstock", "geometric")), saturation=str(kw.get("saturation", "hill")),
            max_lag=int(kw.get("max_lag", DEFAULT_MAX_LAG)),
        )
    except (TypeError, ValueError) as exc:
        raise FormulaError(f"{text}: {exc}") from None


def treatment_term(call, text: str, columns: Sequence[str]) -> TreatmentTerm:
    """The term of one ``treatment(...)`` call; ``text`` is its text in the formula."""
    column = _one_column(call, text, "treatment", TREATMENT_KEYWORDS, columns,
                         "treatment(price_index, baseline='min')")
    kw = {k: _literal(v, k, text) for k, v in call.kwargs.items()}
    baseline = kw.get("baseline", "min")
    if isinstance(baseline, str) and baseline not in BASELINE_WORDS:
        try:  # a number written as text, e.g. baseline='1.0'
            baseline = float(baseline)
        except ValueError:
            pass
    if isinstance(baseline, int) and not isinstance(baseline, bool):
        baseline = float(baseline)
    try:
        return TreatmentTerm(input=column, name=str(kw.get("name", column)), baseline=baseline)
    except (TypeError, ValueError) as exc:
        raise FormulaError(f"{text}: {exc}") from None


def nonmedia_term(call, text: str, columns: Sequence[str]) -> OrganicTerm | TreatmentTerm:
    """The term of an ``organic(...)`` or ``treatment(...)`` call."""
    make = organic_term if call.callee == "organic" else treatment_term
    return make(call, text, columns)


#: Component names the decomposition already uses for the non-media parts.
RESERVED_NAMES = ("baseline", "seasonality", "trend", "smooth", "controls")


def split_nonmedia(terms: Sequence[OrganicTerm | TreatmentTerm], channels: Sequence[str],
                   controls: Sequence[str] = ()) -> dict[str, tuple]:
    """``{"organic": ..., "treatments": ...}`` for the ModelSpec, after checking that no
    name is used twice across media channels, controls, the decomposition's own parts,
    organic terms and treatments (their contributions are reported by name)."""
    seen = {c: f"media channel {c!r}" for c in channels}
    seen.update({c: f"control '{c}'" for c in controls})
    seen.update({c: "the decomposition's own components" for c in RESERVED_NAMES})
    for term in terms:
        if term.name in seen:
            raise FormulaError(
                f"{term.label}: name {term.name!r} is already used by {seen[term.name]}; give each "
                "media(...), organic(...) and treatment(...) term its own name="
            )
        seen[term.name] = term.label
    return {
        "organic": tuple(t for t in terms if isinstance(t, OrganicTerm)),
        "treatments": tuple(t for t in terms if isinstance(t, TreatmentTerm)),
    }


def _one_column(call, text: str, fn: str, keywords: Sequence[str], columns: Sequence[str], example: str) -> str:
    if len(call.args) != 1:
        raise FormulaError(f"{text}: {fn}() takes one column and keywords {', '.join(keywords)}; e.g. {example}")
    unknown = sorted(set(call.kwargs) - set(keywords))
    if unknown:
        raise FormulaError(f"{text}: unknown keyword(s) {unknown}; allowed: {', '.join(keywords)}")
    arg = call.args[0]
    if isinstance(arg, LazyVariable):
        column = arg.name
    elif isinstance(arg, LazyValue) and isinstance(arg.value, str):
        column = arg.value
    else:
        raise FormulaError(f"{text}: {fn}()'s first argument must name a column of the panel")
    if column not in columns:
        close = difflib.get_close_matches(column, list(columns), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise FormulaError(f"{text}: column {column!r} is not in the panel{hint}")
    return column


def _literal(arg, key: str, text: str):
    if isinstance(arg, LazyValue):
        return arg.value
    if isinstance(arg, LazyVariable):  # an unquoted word, e.g. name=newsletter
        return arg.name
    # a negative number arrives as an operator applied to a value
    args = getattr(arg, "args", None)
    if args and len(args) == 1 and isinstance(args[0], LazyValue) and "neg" in str(getattr(arg, "op", "")).lower():
        return -args[0].value
    raise FormulaError(f"{text}: {key}= must be a literal value, got {arg!r}")
