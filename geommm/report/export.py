"""Chart -> Vega-Lite JSON / PNG / SVG / HTML, and the offline JavaScript bundle.

Everything goes through vl-convert, which ships Vega, Vega-Lite and
vega-embed inside its wheel, so nothing is ever fetched from a CDN.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import altair as alt
import jsonschema
import vl_convert as vlc
from altair.utils.schemapi import SchemaValidationError

from geommm._atomic import atomic_path, write_text
from geommm.report.theme import merged_config


def vegalite_version() -> str | None:
    """The Vega-Lite minor version matching the installed Altair (None = vl-convert's latest)."""
    match = re.match(r"v?(\d+\.\d+)", alt.SCHEMA_VERSION)
    if match and match.group(1) in vlc.get_vegalite_versions():
        return match.group(1)
    return None


@functools.lru_cache(maxsize=1)
def javascript_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one inline-able script (~0.9 MB).

    vl-convert takes 1-3 s to bundle it, so it is built once per vl-convert and
    Vega-Lite version and kept in the user's cache folder (``$XDG_CACHE_HOME/geommm``
    or ``~/.cache/geommm``); a cache that cannot be read or written is skipped."""
    version = vegalite_version()
    cached = _cache_dir() / f"vega-bundle-{getattr(vlc, '__version__', 'unknown')}-{version}.js"
    try:
        return cached.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pass
    bundle = vlc.javascript_bundle(vl_version=version)
    # a literal "</script" would end the inline <script> element early
    bundle = re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_text(cached, bundle)
    except OSError:
        pass
    return bundle


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "geommm"


def chart_spec(chart: alt.TopLevelMixin, validate: bool = True) -> dict[str, Any]:
    """Vega-Lite dict with the geommm theme under the chart's own config, validated
    against the Vega-Lite schema unless ``validate`` is False.

    Validation sees the inline data cut to a few rows: jsonschema walking every row
    of a 10,000-row table took most of a report's time, and the schema says nothing
    about a row beyond "an object". Even so it takes ~0.1 s a chart; the standard
    report skips it for geommm's own charts (tests/test_report_charts.py validates
    every one of them)."""
    if not isinstance(chart, alt.TopLevelMixin):
        raise TypeError(f"expected an Altair chart, got {type(chart).__name__}")
    with alt.data_transformers.disable_max_rows():
        spec = chart.to_dict(validate=False)
    if validate:
        try:
            type(chart).validate(_few_rows(spec))
        except jsonschema.ValidationError as err:
            raise SchemaValidationError(chart, err) from None
    spec["config"] = merged_config(spec.get("config"))
    return spec


#: Inline rows kept when a spec is validated (the rest are the same shape).
_ROWS_VALIDATED = 20


def _few_rows(spec: Any) -> Any:
    """A copy of ``spec`` whose inline datasets and ``values`` lists hold at most a few rows."""
    if isinstance(spec, dict):
        out = {}
        for key, value in spec.items():
            if key == "datasets" and isinstance(value, dict):
                out[key] = {k: v[:_ROWS_VALIDATED] if isinstance(v, list) else v for k, v in value.items()}
            elif key == "values" and isinstance(value, list):
                out[key] = value[:_ROWS_VALIDATED]
            else:
                out[key] = _few_rows(value)
        return out
    if isinstance(spec, list):
        return [_few_rows(v) for v in spec]
    return spec


def save_chart(chart: alt.TopLevelMixin, path: str | os.PathLike, *, scale: float = 2.0) -> Path:
    """Write a chart as .png, .svg or .html (self-contained, offline), chosen by suffix."""
    target = Path(path)
    suffix = target.suffix.lower()
    spec = chart_spec(chart)
    version = vegalite_version()
    if suffix == ".png":
        data = vlc.vegalite_to_png(spec, vl_version=version, scale=scale)
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
        return target
    if suffix == ".svg":
        return write_text(target, vlc.vegalite_to_svg(spec, vl_version=version))
    if suffix in (".html", ".htm"):
        return write_text(target, vlc.vegalite_to_html(spec, vl_version=version, bundle=True))
    raise ValueError(f"save_chart: unsupported file type {suffix!r}; use .png, .svg or .html")
