"""The headline card: the answers a planner reads first, as plain sentences with numbers.

Each line is computed from one ``Fit`` table (or the budget ``Allocation``) and
carries its number with its interval, so the first screen of the report answers
"what should I do and how sure are we" before any chart. A line whose table
fails says so in its place; the other lines stand.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from geommm.analysis.tables import CLEAR_MOVE, NATIONAL

#: Moves smaller than this share of current spend are "keep" in the sentence.
SMALL_MOVE = 0.005
#: How many channels, geos or cells a sentence names before "and N more".
NAMED = 4


@dataclass(frozen=True)
class Line:
    """One headline: its topic, the sentence, and a tone ("good", "bad" or "neutral")."""

    topic: str
    text: str
    tone: str = "neutral"


def number(x: float) -> str:
    """A readable amount: thousands separators for big values, 3 significant digits else."""
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def signed(x: float) -> str:
    return ("+" if x > 0 else "") + number(x).replace("-", "−")


def percent(x: float) -> str:
    return f"{x:+.0%}".replace("-", "−")


def interval(low: float, high: float, hdi_prob: float, *, sign: bool = False) -> str:
    show = signed if sign else number
    return f"{hdi_prob:.0%} HDI {show(low)} to {show(high)}"


def _and_more(items: list[str], n_more: int) -> str:
    text = ", ".join(items)
    return text + (f" and {n_more} more" if n_more > 0 else "")


# ---------------------------------------------------------------------- budget
def _by_channel(table: pl.DataFrame) -> pl.DataFrame:
    return (
        table.group_by("channel", maintain_order=True)
        .agg(pl.col("current_spend", "optimal_spend", "lower_spend", "upper_spend").sum())
        .with_columns(
            (pl.col("optimal_spend") - pl.col("current_spend")).alias("change"),
            pl.when(pl.col("current_spend") > 0)
            .then(pl.col("optimal_spend") / pl.col("current_spend") - 1)
            .alias("change_pct"),
        )
    )


def _moves(table: pl.DataFrame, label: Callable[[dict], str]) -> tuple[list[str], list[str]]:
    """'name +20% (+12,000)' for rows that go up and down, biggest moves first."""
    up, down = [], []
    for row in table.sort(pl.col("change").abs(), descending=True).iter_rows(named=True):
        pct = row["change_pct"]
        if pct is None or abs(pct) < SMALL_MOVE:
            continue
        text = f"{label(row)} {percent(pct)} ({signed(row['change'])})"
        (up if row["change"] > 0 else down).append(text)
    return up, down


def _bounds_text(table: pl.DataFrame, by: str) -> str:
    spent = table.filter(pl.col("current_spend") > 0)
    if spent.height == 0:
        return ""
    low = (spent["lower_spend"] / spent["current_spend"]).round(3).unique()
    high = (spent["upper_spend"] / spent["current_spend"]).round(3).unique()
    unit = "channel" if by == "channel" else "geo × channel"
    if low.len() == 1 and high.len() == 1:
        return f"each {unit} kept within {low[0]:g}–{high[0]:g}× its current spend"
    return f"each {unit} kept within its own bounds"


def budget_line(allocation: Any) -> Line:
    """The recommended move: channels (and geos) up and down, expected gain with its HDI."""
    table, s = allocation.table, allocation.summary
    by = s.get("by", "channel")
    hdi = s.get("hdi_prob", 0.9)
    gain, low, high = s["expected_lift_mean"], s["expected_lift_hdi_low"], s["expected_lift_hdi_high"]
    channels = _by_channel(table)
    up, down = _moves(channels, lambda r: r["channel"])
    same = abs(s["budget"] - s["current_spend"]) <= 1e-6 * max(s["current_spend"], 1.0)
    budget = (
        f"the same budget of {number(s['budget'])}"
        if same
        else f"a budget of {number(s['budget'])} (now {number(s['current_spend'])})"
    )
    weeks = f" over {s['weeks']} weeks" if s.get("weeks") else ""
    bounds = _bounds_text(table, by)
    if not up and not down:
        text = (
            f"Keep the current split of {budget[4:] if same else budget}{weeks}: no move "
            f"{'with ' + bounds if bounds else 'within the bounds'} raises the expected KPI."
        )
        return Line("Budget", text)
    parts = []
    if up:
        parts.append("raise " + _and_more(up[:NAMED], len(up) - NAMED))
    if down:
        parts.append("cut " + _and_more(down[:NAMED], len(down) - NAMED))
    text = f"Spend {budget}{weeks} differently: {'; '.join(parts)}"
    text += f" ({bounds})." if bounds else "."
    if by == "geo":
        geo_up, geo_down = _moves(table, lambda r: f"{r['geo']} {r['channel']}")
        biggest = (geo_up[:2] + geo_down[:2])[:3]
        if biggest:
            text += f" Largest geo moves: {', '.join(biggest)}."
    now = s.get("current_kpi_mean")
    share = f", {gain / now:+.1%} on the KPI media drives now" if now else ""
    has_interval = all(isinstance(v, int | float) and math.isfinite(v) for v in (low, high))
    spread = interval(low, high, hdi, sign=True) if has_interval else "no interval saved with this plan"
    text += f" Expected extra KPI {signed(gain)} ({spread}){share}."
    sure = has_interval and low > 0
    if not sure:
        text += " The interval includes no gain: the move is a bet, not a sure thing."
    text += _uncertain_moves_text(table, by)
    return Line("Budget", text, "good" if sure else "neutral")


def _uncertain_moves_text(table: pl.DataFrame, by: str) -> str:
    """Names the moves whose direction the posterior does not support (P < 0.8)."""
    if "move_probability" not in table.columns:
        return ""
    shaky = table.filter(pl.col("move_probability") < CLEAR_MOVE).sort("move_probability")
    if shaky.height == 0:
        return ""
    name = (lambda r: r["channel"]) if by == "channel" else (lambda r: f"{r['geo']} {r['channel']}")
    items = [f"{name(r)} (P {r['move_probability']:.2f})" for r in shaky.iter_rows(named=True)]
    return (
        f" Within their own uncertainty (probability the direction is right below "
        f"{CLEAR_MOVE:.0%}): {_and_more(items[:NAMED], len(items) - NAMED)}."
    )


# ---------------------------------------------------------------------- channels
def marginal_roi_line(marginal_roi: pl.DataFrame, hdi_prob: float = 0.9) -> Line:
    """Best and worst channel by the return on their next unit of spend."""
    ranked = marginal_roi.filter(pl.col("roi_mean").is_finite()).sort("roi_mean", descending=True)
    if ranked.height == 0:
        return Line("Next unit of spend", "No channel has a finite marginal ROI to compare.")

    def say(row: dict) -> str:
        return (
            f"{row['channel']}: marginal ROI {number(row['roi_mean'])} "
            f"({interval(row['roi_hdi_low'], row['roi_hdi_high'], hdi_prob)})"
        )

    best = ranked.row(0, named=True)
    if ranked.height == 1:
        return Line("Next unit of spend", f"Only one channel, {say(best)}.")
    worst = ranked.row(-1, named=True)
    text = f"Earns most in {say(best)}; least in {say(worst)}."
    if best["roi_hdi_low"] > worst["roi_hdi_high"]:
        text += " Their intervals do not overlap: moving spend from the second to the first pays."
    else:
        text += " Their intervals overlap: the ranking is not certain."
    return Line("Next unit of spend", text)


def standout_geos_line(roi_by_geo: pl.DataFrame, roi_national: pl.DataFrame, hdi_prob: float = 0.9) -> Line:
    """Geo x channel cells whose ROI interval excludes the channel's national ROI."""
    national = roi_national.select("channel", pl.col("roi_mean").alias("national_roi"))
    cells = roi_by_geo.filter(pl.col("geo") != NATIONAL).join(national, on="channel", how="inner")
    out = cells.filter(
        (pl.col("roi_hdi_low") > pl.col("national_roi"))
        | (pl.col("roi_hdi_high") < pl.col("national_roi"))
    ).with_columns(
        (pl.col("roi_mean") / pl.col("national_roi")).alias("ratio"),
    )
    if out.height == 0:
        return Line(
            "Geos",
            f"No geo's ROI interval excludes its channel's national ROI ({cells.height} geo × "
            "channel cells): plan the geos alike unless you have other evidence.",
        )
    out = out.sort((pl.col("ratio").log().abs()), descending=True, nulls_last=True)
    named = [
        f"{r['geo']} {r['channel']} {number(r['roi_mean'])} "
        f"({'above' if r['roi_mean'] > r['national_roi'] else 'below'} "
        f"national {number(r['national_roi'])}; {interval(r['roi_hdi_low'], r['roi_hdi_high'], hdi_prob)})"
        for r in out.head(NAMED).iter_rows(named=True)
    ]
    return Line(
        "Geos",
        f"{out.height} of {cells.height} geo × channel ROIs stand out from the national ROI "
        f"(interval excludes it): {_and_more(named, out.height - NAMED)}.",
    )


def prior_driven_line(fit: Any) -> Line | None:
    """Channels whose national ROI the data barely moved from its prior (fit.identification()):
    their number is the prior's, and a lift test or an ROI prior is the fix."""
    import polars as pl

    if fit is None or fit.settings.method != "nuts":  # a mode has no posterior width to compare
        return None
    table = fit.identification().filter(pl.col("geo") == "national")
    weak = table.filter(pl.col("verdict") != "identified")
    if weak.is_empty():
        return Line("What the data can tell", "Every channel's ROI is identified by the data "
                    "(its posterior is far narrower than its prior).", "good")
    parts = [f"{r['channel']} ({r['verdict']}: posterior {1 - r['contraction']:.0%} of the prior's width)"
             for r in weak.iter_rows(named=True)]
    prior_driven = weak.filter(pl.col("verdict") == "prior-driven").height > 0
    text = ("Not pinned down by the data: " + ", ".join(parts) + ". Their ROI leans on the prior; "
            "a Geo-Lift test (see Next experiment) or an ROI prior is the fix.")
    return Line("What the data can tell", text, "bad" if prior_driven else "neutral")


# ---------------------------------------------------------------------- diagnostics
_VERDICT_WORDS = {
    "ok": ("ok", "good"),
    "warning": ("WARNING — check before relying on these numbers", "bad"),
    "fail": ("FAIL — do not trust these numbers until this is fixed", "bad"),
}


def diagnostics_line(diag: Mapping[str, Any]) -> Line:
    """The sampler's verdict in one line, with the numbers behind it."""
    verdict = str(diag.get("verdict", "unknown"))
    words, tone = _VERDICT_WORDS.get(verdict, (verdict, "neutral"))
    facts = []
    if diag.get("divergences") is not None:
        facts.append(f"{diag['divergences']} divergences")
    for key, label, fmt in (
        ("max_r_hat", "max R-hat", "{:.3f}"),
        ("min_ess_bulk", "min bulk ESS", "{:,.0f}"),
    ):
        value = diag.get(key)
        if isinstance(value, int | float) and math.isfinite(value):
            facts.append(f"{label} {fmt.format(value)}")
    text = f"{words}" + (f" ({', '.join(facts)})" if facts else "") + "."
    messages = [str(m) for m in diag.get("messages") or []]
    if verdict != "ok" and messages:
        text += " " + messages[0] + (f" (+{len(messages) - 1} more at the end)" if len(messages) > 1 else "")
    return Line("Sampler diagnostics", text, tone)


# ---------------------------------------------------------------------- the card
def _safe(topic: str, make: Callable[[], Line | None]) -> Line | None:
    try:
        return make()
    except Exception as err:  # noqa: BLE001 - one failed answer must not cost the others
        return Line(topic, f"could not be computed: {type(err).__name__}: {err}", "bad")


def headline(tables: Any, fit: Any = None) -> list[Line]:
    """The headline lines from the report's shared tables (``from_fit.FitTables``).

    ``tables`` needs ``allocation``, ``marginal_roi_by_channel``, ``roi_by_geo``,
    ``roi_by_channel`` and ``diagnostics`` (each a zero-argument callable).
    """
    lines = [
        _safe("Budget", lambda: budget_line(tables.allocation())),
        _safe("Next unit of spend", lambda: marginal_roi_line(tables.marginal_roi_by_channel())),
        _safe("Geos", lambda: standout_geos_line(tables.roi_by_geo(), tables.roi_by_channel())),
        _safe("What the data can tell", lambda: prior_driven_line(fit)),
        _safe("Sampler diagnostics", lambda: diagnostics_line(tables.diagnostics())),
    ]
    return [line for line in lines if line is not None]
