"""Lift tests: do the experiments fit the panel, and can each one teach the model?

A test must name a channel of the formula and geos of the panel, and lie inside
the panel's weeks, or the model cannot replay it. Two tests of the same channel
in the same geos with overlapping windows measure partly the same weeks, while the
model counts them as independent evidence. A go-dark in geos where the channel was
already dark before the test changed nothing real; the business-as-usual spend
the model assumes for it (spread evenly over the window) is then a guess.

Thresholds:

- ``lift_unknown_channel``, ``lift_unknown_geo``, ``lift_outside_panel`` (blocking):
  the model cannot replay the test.
- ``lift_overlap`` (warning): two tests of one channel share a geo and their windows
  (start .. measure_end) overlap; (info) the same for tests of different channels.
- ``lift_already_dark`` (warning): a go-dark whose channel had no spend in its geos
  in the ``PRE_WEEKS`` panel weeks before it started, nor in any other geo during
  the test (nothing suggests it was running).
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import numpy as np
import polars as pl

from geommm.workflows.preflight.design import Design
from geommm.workflows.preflight.findings import Finding

#: Panel weeks before a go-dark that are looked at for spend.
PRE_WEEKS = 4


def check(design: Design) -> list[Finding]:
    """Tests the model cannot replay (blocking), overlapping windows, go-darks on dark channels."""
    lifts = design.lift_tests
    if lifts is None or lifts.height == 0:
        return []
    out: list[Finding] = []
    usable = []
    for row in lifts.iter_rows(named=True):
        problems = _unreplayable(design, row)
        out += problems
        if not problems:
            usable.append(row)
    out += _overlaps(usable)
    out += [f for row in usable if (f := _already_dark(design, row)) is not None]
    return out


def _unreplayable(design: Design, row: dict) -> list[Finding]:
    test, channel = str(row["test_id"]), row["channel"]
    out = []
    if channel not in design.channels:
        out.append(Finding(
            "blocking", "lift_unknown_channel",
            f"lift test {test!r} is on channel {channel!r}, which the formula does not have "
            f"(channels {list(design.channels)}); fix the name or drop the test.",
            value=0.0, threshold=0.0, channel=channel,
        ))
    missing = [g for g in row["geo_list"] if g not in design.geos]
    if missing:
        out.append(Finding(
            "blocking", "lift_unknown_geo",
            f"lift test {test!r} ran in geo(s) {missing} that are not in the panel "
            f"({len(missing)} of {len(row['geo_list'])} test geos missing); fix the geo names "
            "or add the geos to the panel.",
            value=float(len(missing)), threshold=0.0, channel=channel, geo=", ".join(missing),
        ))
    first, last = design.panel.times[0], design.panel.times[-1]
    start, end = np.datetime64(row["start"], "D"), np.datetime64(row["measure_end"], "D")
    slack = np.timedelta64(6, "D")
    if start < first - slack or end > last + slack:
        weeks = max(int((first - start) / np.timedelta64(7, "D")),
                    int((end - last) / np.timedelta64(7, "D")), 1)
        out.append(Finding(
            "blocking", "lift_outside_panel",
            f"lift test {test!r} ({row['start']} .. {row['measure_end']}) reaches about "
            f"{weeks} week(s) outside the panel ({first} .. {last}); the experiment must lie "
            "inside the panel: extend the panel or drop the test.",
            value=float(weeks), threshold=0.0, channel=channel,
        ))
    return out


def _overlaps(rows: list[dict]) -> list[Finding]:
    out = []
    for a, b in itertools.combinations(rows, 2):
        shared = sorted(set(a["geo_list"]) & set(b["geo_list"]))
        if not shared or a["start"] > b["measure_end"] or b["start"] > a["measure_end"]:
            continue
        days = (min(a["measure_end"], b["measure_end"]) - max(a["start"], b["start"])).days + 1
        same = a["channel"] == b["channel"]
        tests = f"lift tests {str(a['test_id'])!r} and {str(b['test_id'])!r}"
        if same:
            text = (
                f"{tests} on {a['channel']!r} overlap for {days} day(s) in geo(s) {shared}: "
                "they measure partly the same weeks, but the model counts them as independent "
                "evidence; merge them into one test or drop one."
            )
        else:
            text = (
                f"{tests} ({a['channel']!r}, {b['channel']!r}) overlap for {days} day(s) in "
                f"geo(s) {shared}: each measured lift includes the other channel's change; the "
                "model replays both, so this is fine if both spend changes are in the panel."
            )
        out.append(Finding(
            "warning" if same else "info", "lift_overlap", text, value=float(days),
            threshold=0.0, channel=a["channel"] if same else f"{a['channel']}+{b['channel']}",
            geo=", ".join(shared),
        ))
    return out


def _already_dark(design: Design, row: dict) -> Finding | None:
    """A go-dark with no sign that anything was switched off: no spend in its geos in the
    weeks before it, and none in any other geo during it (a national pause)."""
    if not row["spend_delta"] < 0 or len(row["geo_list"]) >= len(design.geos):
        return None
    c = design.channels.index(row["channel"])
    geos = [design.geos.index(g) for g in row["geo_list"]]
    times = pl.Series(design.panel.times).cast(pl.Date)
    start = row["start"]
    before = ((times < start) & (times >= start - timedelta(days=7 * PRE_WEEKS))).to_numpy()
    during = ((times >= start) & (times <= row["end"])).to_numpy()
    if not before.any():
        return None
    spent_before = float(design.spend[np.ix_(geos, np.flatnonzero(before), [c])].sum())
    spent_elsewhere = float(design.spend[:, during, c].sum())
    if spent_before > 0 or spent_elsewhere > 0:
        return None
    return Finding(
        "warning", "lift_already_dark",
        f"lift test {str(row['test_id'])!r} is a go-dark of {row['channel']!r}, but the channel "
        f"had no spend in its geo(s) {row['geo_list']} in the {int(before.sum())} week(s) "
        "before it, nor in any other geo during it (spend 0): the channel looks paused "
        "everywhere, so the test may have switched nothing off, and the business-as-usual "
        "spend the model assumes for it is a guess; check the dates, geos and spend_delta.",
        value=spent_before + spent_elsewhere, threshold=0.0, channel=row["channel"],
        geo=", ".join(row["geo_list"]),
    )
