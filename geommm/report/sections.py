"""What a report section is: a heading, some charts and some tables, each built lazily.

Charts and tables may be given as zero-argument callables so the report can
build them one by one and turn a failure into a visible error box instead of
losing the whole report. A callable that raises :class:`Skip` (or returns
None) is simply left out: that part has no data for this fit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import altair as alt
import polars as pl

ChartLike = alt.TopLevelMixin
ChartItem = ChartLike | Callable[[], ChartLike | None]
T = TypeVar("T")
TableItem = pl.DataFrame | Mapping[str, Any] | Callable[[], pl.DataFrame | Mapping[str, Any] | None]


class Skip(Exception):
    """Raised by a lazy chart/table when its data does not exist for this fit."""


@dataclass
class Section:
    """One heading of the report with its charts (first) and tables (after)."""

    title: str
    charts: list[ChartItem] = field(default_factory=list)
    tables: dict[str, TableItem] = field(default_factory=dict)
    intro: str = ""

    @property
    def anchor(self) -> str:
        """URL fragment for the table of contents."""
        return "s-" + (re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-") or "section")


def as_sections(sections: Sequence[Section] | Mapping[str, Any]) -> list[Section]:
    """Accept Section objects or a ``{title: chart | [charts] | Section}`` mapping."""
    if isinstance(sections, Mapping):
        out = []
        for title, value in sections.items():
            if isinstance(value, Section):
                out.append(value)
            elif isinstance(value, list | tuple):
                out.append(Section(str(title), charts=list(value)))
            else:
                out.append(Section(str(title), charts=[value]))
        return out
    out = list(sections)
    for s in out:
        if not isinstance(s, Section):
            raise TypeError(f"report sections must be Section objects, got {type(s).__name__}")
    return out


def resolve(item: Any) -> Any:
    """Build a lazy item; None means 'nothing to show' and becomes :class:`Skip`."""
    value = item() if callable(item) and not isinstance(item, alt.TopLevelMixin) else item
    if value is None:
        raise Skip
    return value


def once(make: Callable[[], T]) -> Callable[[], T]:
    """``make`` run on the first call only; later calls get its result, or its error, again."""
    outcome: list[tuple[bool, Any]] = []

    def get() -> T:
        if not outcome:
            try:
                outcome.append((True, make()))
            except Exception as err:  # noqa: BLE001 - replayed to every chart that needs it
                outcome.append((False, err))
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    return get
