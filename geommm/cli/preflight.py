"""``geommm validate PANEL --formula "..."``: the pre-flight findings, decision first.

Blocking problems come first (the fit would stop on them), then warnings, then
information; the exit code is 1 when anything blocks, so a pipeline can stop
before a long fit.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from geommm.cli.console import out, step

_HEADINGS = {
    "blocking": "BLOCKING: the fit would stop on these (fix them, or fit with preflight=\"warn\")",
    "warning": "WARNINGS: the fit runs, but these numbers will lean on the priors",
    "info": "INFO",
}


def show_preflight(args: argparse.Namespace, panel: Any, lift_tests: Any | None) -> int:
    """Run the pre-flight checks (and the simulation with ``--simulate``), print the
    findings grouped by severity, and return 1 if any finding blocks the fit."""
    import geommm as gm

    kwargs = {"population": args.population, "simulate": args.simulate,
              "n_sims": args.n_sims, "roi": args.roi, "seed": args.seed}
    label = "pre-flight checks" + (
        f" and {args.n_sims} simulated market(s), each refitted" if args.simulate else "")
    with step(label):
        table = gm.preflight(panel, args.formula, lift_tests, **kwargs)
    out()
    counts = {s: table.filter(table["severity"] == s).height for s in _HEADINGS}
    out(
        f"pre-flight: {counts['blocking']} blocking, {counts['warning']} warning(s), "
        f"{counts['info']} note(s)"
    )
    for severity, heading in _HEADINGS.items():
        rows = table.filter(table["severity"] == severity)
        if rows.height == 0:
            continue
        out()
        out(heading)
        for message in rows["message"]:
            out(textwrap.fill(message, width=100, initial_indent="  - ", subsequent_indent="    "))
    return 1 if counts["blocking"] else 0
