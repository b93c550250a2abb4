"""Colours, ordering and a light Vega-Lite config shared by every geommm chart.

Kept in one place so a channel or a component has the same colour in every
chart of a report, and so users can restyle by editing one dict.
"""

from __future__ import annotations

from typing import Any

#: Order in which contribution types are stacked and listed (bottom to top).
#: ("interaction": what a log KPI's counterfactuals leave of the KPI, docs/log_kpi.md)
COMPONENT_TYPE_ORDER: tuple[str, ...] = (
    "baseline", "trend", "seasonality", "control", "treatment", "organic", "media", "interaction",
)

#: One colour per contribution type (media channels get their own palette).
COMPONENT_TYPE_COLORS: dict[str, str] = {
    "baseline": "#9aa5b1",
    "trend": "#7b8794",
    "seasonality": "#c3cbd3",
    "control": "#e4a66b",
    "media": "#2f6fb3",
    "treatment": "#8e6bb8",
    "organic": "#3f9b6e",
    "interaction": "#b08ccf",
    "total": "#1f2933",
}

#: Colours for "what we measured" vs "what the model says".
MEASURED_COLOR = "#d1495b"
MODEL_COLOR = "#2f6fb3"
ACTUAL_COLOR = "#1f2933"
CURRENT_COLOR = "#9aa5b1"
OPTIMAL_COLOR = "#2f6fb3"
BAD_COLOR = "#c62828"
GOOD_COLOR = "#2e7d32"
HOLDOUT_COLOR = "#f2d492"

#: Colour scheme for media channels and geos (categorical).
CATEGORY_SCHEME = "tableau10"
MANY_CATEGORY_SCHEME = "tableau20"

#: Convergence rules of thumb used by the diagnostics chart (Vehtari et al. 2021).
R_HAT_LIMIT = 1.01
ESS_LIMIT = 400

#: Default Vega-Lite config merged *under* a chart's own config when exporting.
CONFIG: dict[str, Any] = {
    "font": "Helvetica, Arial, sans-serif",
    "view": {"stroke": None},
    "axis": {
        "labelFontSize": 11,
        "titleFontSize": 12,
        "titleFontWeight": "normal",
        "gridColor": "#e6e9ed",
        "domainColor": "#9aa5b1",
        "tickColor": "#9aa5b1",
    },
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal"},
    "title": {"fontSize": 14, "anchor": "start", "fontWeight": "bold", "subtitleColor": "#52606d"},
    "header": {"labelFontSize": 12, "titleFontSize": 12},
}


def merged_config(own: dict[str, Any] | None) -> dict[str, Any]:
    """Return CONFIG overlaid with a chart's own config (the chart wins)."""
    return _deep_merge(CONFIG, own or {})


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


#: Media channels get saturated colours; the rest of the KPI gets muted ones.
MEDIA_PALETTE: tuple[str, ...] = (
    "#2f6fb3",
    "#e15759",
    "#59a14f",
    "#b07aa1",
    "#f28e2b",
    "#76b7b2",
    "#edc948",
    "#ff9da7",
    "#9c755f",
    "#4e79a7",
)
CONTROL_PALETTE: tuple[str, ...] = ("#e4a66b", "#c98b4f", "#f0c49a", "#a86f3a")
BASE_PALETTE: dict[str, tuple[str, ...]] = {
    "baseline": ("#9aa5b1", "#b6bec7"),
    "trend": ("#7b8794", "#616e7c"),
    "seasonality": ("#c3cbd3", "#d9dee3"),
    "treatment": ("#8e6bb8", "#b59bd6", "#6d4f94"),
    "organic": ("#3f9b6e", "#7cc29e", "#2b7350"),
}


def component_colors(components: list[tuple[str, str]]) -> tuple[list[str], list[str]]:
    """Colour domain and range for (component, component_type) pairs, in the given order."""
    domain: list[str] = []
    colors: list[str] = []
    used: dict[str, int] = {}
    for name, kind in components:
        if name in domain:
            continue
        i = used.get(kind, 0)
        used[kind] = i + 1
        if kind == "media":
            palette: tuple[str, ...] = MEDIA_PALETTE
        elif kind == "control":
            palette = CONTROL_PALETTE
        else:
            palette = BASE_PALETTE.get(kind, ("#9aa5b1",))
        domain.append(name)
        colors.append(palette[i % len(palette)])
    return domain, colors
