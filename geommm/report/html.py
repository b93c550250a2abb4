"""One self-contained, offline HTML report from charts and tables.

The Vega/Vega-Lite/vega-embed JavaScript is inlined (from vl-convert), every
chart is built and validated one at a time, and a chart or table that fails
becomes a visible error box so the rest of the report survives.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl
from altair.utils.schemapi import debug_mode

from geommm._atomic import write_text
from geommm.report.export import chart_spec, javascript_bundle, save_chart
from geommm.report.page import CSS, EMBED_SCRIPT, PAGE
from geommm.report.sections import Section, Skip, as_sections, resolve
from geommm.report.tables import format_cell, html_table, mapping_table

__all__ = ["build_report", "write_report", "save_chart", "Section"]

_DIAGNOSTIC_FACTS = {
    "divergences": "divergences",
    "max_r_hat": "max R-hat",
    "min_ess_bulk": "min bulk ESS",
    "min_ess_tail": "min tail ESS",
}
_VERDICT_ADVICE = {
    "fail": " — do not trust the numbers below until this is fixed.",
    "warning": " — check these before relying on the numbers below.",
}
_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def _error_box(what: str, err: BaseException) -> str:
    message = f"{what} could not be built: {type(err).__name__}: {err}"
    return f'<div class="error" role="alert">{html.escape(message)}</div>'


def _finite(value: Any) -> Any:
    """NaN/inf are not JSON: make them null (Vega treats null as missing)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _spec_json(spec: dict[str, Any]) -> str:
    """JSON safe to sit inside a <script> element (no '<', '>' or '&' left raw)."""
    try:
        text = json.dumps(spec, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(spec), separators=(",", ":"), allow_nan=False)
    return text.translate(_JSON_ESCAPES)


class _Renderer:
    """Turns sections into HTML, numbering chart containers across the whole page."""

    def __init__(self, validate: bool = True) -> None:
        self.n_charts = 0
        self.validate = validate

    def chart(self, item: Any, where: str) -> str:
        try:
            spec = chart_spec(resolve(item), validate=self.validate)
            payload = _spec_json(spec)
        except Skip:
            return ""
        except Exception as err:  # noqa: BLE001 - one bad chart must not lose the report
            return _error_box(f"A chart in '{where}'", err)
        self.n_charts += 1
        ident = f"chart-{self.n_charts}"
        return (
            f'<div class="chart-box"><div class="chart" id="{ident}" data-spec="{ident}-spec">'
            f'</div></div>\n<script type="application/json" id="{ident}-spec">{payload}</script>'
        )

    def table(self, name: str, item: Any) -> str:
        try:
            value = resolve(item)
            if isinstance(value, pl.DataFrame):
                return html_table(value, caption=name)
            if isinstance(value, Mapping):
                return mapping_table(value, caption=name)
            raise TypeError(f"expected a polars.DataFrame or a dict, got {type(value).__name__}")
        except Skip:
            return ""
        except Exception as err:  # noqa: BLE001
            return _error_box(f"The table '{name}'", err)

    def section(self, section: Section) -> str:
        parts = [self.chart(item, section.title) for item in section.charts]
        parts += [self.table(name, item) for name, item in section.tables.items()]
        parts = [p for p in parts if p]
        if not parts:
            return ""
        intro = f'<p class="intro">{html.escape(section.intro)}</p>' if section.intro else ""
        return (
            f'<section id="{section.anchor}"><h2>{html.escape(section.title)}</h2>'
            f"{intro}\n" + "\n".join(parts) + "</section>"
        )


def _header_value(key: str, value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(
            f"{html.escape(str(k))}={format_cell(v, str(k))}" for k, v in value.items()
        )
    if isinstance(value, list | tuple):
        return html.escape(", ".join(str(v) for v in value))
    if "formula" in key.lower():
        return f"<code>{html.escape(str(value))}</code>"
    return format_cell(value, key)


def _diagnostics_banner(diag: Mapping[str, Any]) -> str:
    verdict = str(diag.get("verdict", "unknown"))
    facts_text = "; ".join(
        f"{label} {format_cell(diag[key], key)}"
        for key, label in _DIAGNOSTIC_FACTS.items()
        if key in diag
    )
    if verdict == "ok":
        return (
            f'<div class="banner ok"><strong>Sampler diagnostics: ok.</strong> {facts_text}</div>'
        )
    messages = "".join(f"<li>{html.escape(str(m))}</li>" for m in diag.get("messages") or [])
    if verdict == "approximate":  # a first look by design, not a failed sampler
        return (
            f'<div class="banner note"><strong>APPROXIMATE fit ({html.escape(str(diag.get("method", "")))}).'
            f"</strong> Intervals come from an approximation; refit with NUTS before acting."
            f"<ul>{messages}</ul></div>"
        )
    advice = _VERDICT_ADVICE.get(verdict, "")
    return (
        f'<div class="banner bad" role="alert"><strong>Sampler diagnostics: '
        f"{html.escape(verdict.upper())}</strong>{advice} {facts_text}<ul>{messages}</ul></div>"
    )


def _header(header: Mapping[str, Any] | None) -> str:
    if not header:
        return ""
    rows, banner = [], ""
    for key, value in header.items():
        if str(key).lower() == "diagnostics" and isinstance(value, Mapping):
            banner = _diagnostics_banner(value)
            continue
        rows.append(f"<dt>{html.escape(str(key))}</dt><dd>{_header_value(str(key), value)}</dd>")
    listing = f'<dl class="header">{"".join(rows)}</dl>' if rows else ""
    return banner + listing


def _headline(lines: Sequence[Any]) -> str:
    """The answer card: one list item per headline line (topic in bold, tone as a class)."""
    items = "".join(
        f'<li class="{html.escape(line.tone)}"><strong>{html.escape(line.topic)}.</strong> '
        f"{html.escape(line.text)}</li>"
        for line in lines
    )
    return (
        '<section id="headline" class="headline" aria-label="The answer">'
        f"<h2>The answer in brief</h2><ul>{items}</ul></section>"
    )


def render_report(
    sections: Sequence[Section] | Mapping[str, Any],
    *,
    title: str = "geommm report",
    header: Mapping[str, Any] | None = None,
    tables: Mapping[str, Any] | None = None,
    headline: Sequence[Any] | None = None,
    validate_charts: bool = True,
) -> tuple[str, int]:
    """The report as an HTML string, plus how many chart containers it holds.

    With ``headline`` lines (``report.headline.Line``) the page opens with the
    answer card and the ``header`` (settings, diagnostics) moves to the end.
    ``validate_charts=False`` skips the Vega-Lite schema check of each chart (for
    charts already validated by tests, as geommm's own are)."""
    from geommm._version import __version__

    all_sections = as_sections(sections)
    if tables:
        all_sections.append(Section("Key tables", tables=dict(tables)))
    renderer = _Renderer(validate_charts)
    # Altair validates every chart object as it is built (its debug mode), inline data
    # rows included; chart_spec validates each finished chart once instead.
    with debug_mode(False):
        rendered = [(s, renderer.section(s)) for s in all_sections]
    rendered = [(s, body) for s, body in rendered if body]
    toc = " ".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s, _ in rendered)
    top, bottom = _header(header), ""
    if headline:
        bottom = (
            '<section id="s-settings"><h2>Settings and diagnostics</h2>' + top + "</section>"
            if top
            else ""
        )
        top = _headline(headline)
        toc += ' <a href="#s-settings">Settings and diagnostics</a>' if bottom else ""
    page = PAGE.format(
        title=html.escape(title),
        version=html.escape(__version__),
        generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        css=CSS,
        header=top,
        toc=f'<nav class="toc">{toc}</nav>' if toc else "",
        sections="\n".join(body for _, body in rendered) + bottom,
        bundle=javascript_bundle(),
        embed=EMBED_SCRIPT,
    )
    return page, renderer.n_charts


def build_report(
    sections: Sequence[Section] | Mapping[str, Any],
    path: str | os.PathLike,
    *,
    title: str = "geommm report",
    header: Mapping[str, Any] | None = None,
    tables: Mapping[str, pl.DataFrame] | None = None,
    headline: Sequence[Any] | None = None,
    validate_charts: bool = True,
) -> Path:
    """Write one offline HTML file with ``sections`` (charts then tables) and extra ``tables``.

    ``sections`` is a list of :class:`Section` or a ``{heading: chart | [charts]}``
    dict; charts and tables may be zero-argument callables, built lazily so a
    failure shows as an error box. ``header`` is shown on top as name/value
    pairs; a ``"diagnostics"`` entry (dict with ``verdict``, ``messages``)
    becomes a red banner unless the verdict is "ok". ``tables`` are appended
    under "Key tables". The file is written atomically.
    """
    page, _ = render_report(sections, title=title, header=header, tables=tables, headline=headline,
                            validate_charts=validate_charts)
    return write_text(path, page)


def write_report(
    fit: Any, path: str | os.PathLike, *, title: str | None = None, allocation: Any = None
) -> Path:
    """Write the standard report of a fitted model (a ``Fit``) to ``path``.

    It opens with the headline card (the budget move, best and worst channel,
    standout geos, the diagnostics verdict), then a one-screen summary; settings
    and diagnostics come last. A table that fails shows as an error box in its
    place; a fit without lift tests has no lift-test section. The budget shows
    ``allocation`` (from ``fit.optimize_budget``) or, without one, the plan for
    today's budget under the default bounds.
    """
    from geommm.report.from_fit import FitTables, fit_header, fit_headline, fit_sections

    tables = FitTables(fit, allocation, background=True)
    return build_report(
        fit_sections(fit, tables=tables),
        path,
        title=title or "geommm: media mix model report",
        header=fit_header(fit),
        headline=fit_headline(fit, tables),
        validate_charts=False,  # geommm's own charts: tests/test_report_charts.py validates them
    )
