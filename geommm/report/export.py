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
import vl_convert as vlc

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
    """Vega + Vega-Lite + vega-embed as one inline-able script (~0.9 MB, built once)."""
    bundle = vlc.javascript_bundle(vl_version=vegalite_version())
    # a literal "</script" would end the inline <script> element early
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


def chart_spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """Validated Vega-Lite dict with the geommm theme under the chart's own config."""
    if not isinstance(chart, alt.TopLevelMixin):
        raise TypeError(f"expected an Altair chart, got {type(chart).__name__}")
    with alt.data_transformers.disable_max_rows():
        spec = chart.to_dict()
    spec["config"] = merged_config(spec.get("config"))
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
