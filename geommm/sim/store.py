"""A simulated panel as one object, and its files: panel, lift tests and truth on disk.

Files are written atomically and read back from any byte source, so the demo can
ship a panel inside the package and tests can round-trip one through a directory.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from geommm._atomic import atomic_path, write_text
from geommm.sim.lift import LIFT_SCHEMA
from geommm.sim.truth import SimTruth

__all__ = ["SimulatedPanel", "load", "load_from"]

#: SimTruth fields stored as their own parquet file (truth_<name>.parquet).
_TRUTH_TABLES = (
    "roi", "roi_national", "marginal_roi", "marginal_roi_national", "contributions", "lift_bau",
)
#: SimTruth fields stored in truth.json as they are (not as float arrays).
_PLAIN_FIELDS = ("channels", "geos", "channel_inputs", "channel_spend", "max_lag", "season_period")


@dataclass
class SimulatedPanel:
    """A simulated panel, the lift tests run inside it, the truth and the matching formula."""

    panel: pl.DataFrame
    lift_tests: pl.DataFrame
    truth: SimTruth
    formula: str
    settings: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: str | os.PathLike) -> Path:
        """Write panel.parquet, lift_tests.csv, truth.json and truth_*.parquet, each atomically."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        _write_parquet(self.panel, out / "panel.parquet")
        with atomic_path(out / "lift_tests.csv") as tmp:
            self.lift_tests.write_csv(tmp)
        for name in _TRUTH_TABLES:
            _write_parquet(getattr(self.truth, name), out / f"truth_{name}.parquet")
        write_text(out / "truth.json", json.dumps(_truth_json(self), indent=1))
        for name in ("lift_tests.csv", "truth.json"):
            (out / name).chmod(0o644)
        return out


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, compression="zstd", statistics=False)
    path.chmod(0o644)  # atomic writes go through a private (0600) temp file


def _truth_json(result: SimulatedPanel) -> dict[str, Any]:
    truth: dict[str, Any] = {}
    for f in fields(SimTruth):
        if f.name in _TRUTH_TABLES:
            continue
        value = getattr(result.truth, f.name)
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif f.name == "control_coef":
            value = {k: v.tolist() for k, v in value.items()}
        truth[f.name] = value
    return {"formula": result.formula, "settings": result.settings, "truth": truth}


def load(directory: str | os.PathLike) -> SimulatedPanel:
    """Read a panel written by :meth:`SimulatedPanel.save`."""
    root = Path(directory)
    return load_from(lambda name: (root / name).read_bytes())


def load_from(read: Callable[[str], bytes]) -> SimulatedPanel:
    """Load from any byte source (a directory, package resources): ``read(file_name) -> bytes``."""
    meta = json.loads(read("truth.json").decode("utf-8"))
    raw = meta["truth"]
    tables = {n: pl.read_parquet(io.BytesIO(read(f"truth_{n}.parquet"))) for n in _TRUTH_TABLES}
    values: dict[str, Any] = {}
    for f in fields(SimTruth):
        if f.name in tables:
            values[f.name] = tables[f.name]
        elif f.name == "control_coef":
            values[f.name] = {k: np.asarray(v, dtype="float64") for k, v in raw[f.name].items()}
        elif f.name in _PLAIN_FIELDS:
            values[f.name] = raw[f.name]
        elif f.name == "effect":  # absent from files written before effect_change
            values[f.name] = None if raw.get("effect") is None else np.asarray(raw["effect"], dtype="float64")
        else:
            values[f.name] = np.asarray(raw[f.name], dtype="float64")
    lifts = pl.read_csv(io.BytesIO(read("lift_tests.csv")), schema_overrides=LIFT_SCHEMA)
    return SimulatedPanel(
        panel=pl.read_parquet(io.BytesIO(read("panel.parquet"))),
        lift_tests=lifts.select(list(LIFT_SCHEMA)),
        truth=SimTruth(**values),
        formula=meta["formula"],
        settings=meta["settings"],
    )
