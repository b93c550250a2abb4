"""Where a refreshed fit came from: its parent's id and file hash, the weeks added, when.

Saved with the fit (``store.py``) and shown by ``Fit.lineage`` after ``load_fit``, so a
chain of refreshes can be audited back to the first fit.
"""

from __future__ import annotations

import datetime as dt


def lineage_record(parent, cont, method: str) -> dict:
    """The lineage of a child of ``parent`` fitted on ``cont`` (a ``Continued`` panel)."""
    times = cont.panel.times
    previous = parent.lineage or {}
    return {
        "parent_id": getattr(parent, "fit_id", None),
        "parent_file_sha256": getattr(parent, "file_sha256", None),
        "parent_weeks": [str(parent.panel.times[0]), str(parent.panel.times[-1])],
        "new_weeks": [str(times[cont.first_new]), str(times[-1])],
        "n_new_weeks": int(cont.n_new_weeks),
        "restated_cells": len(cont.restated),
        "method": method,
        "refreshed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "generation": int(previous.get("generation", 0)) + 1,
        "root_id": previous.get("root_id") or getattr(parent, "fit_id", None),
    }
