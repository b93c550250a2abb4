"""Each fit-many job's result on disk, written the moment the job finishes.

A run of many fits can take hours; a killed run (Ctrl-C, a lost machine, the OOM
killer) must not cost the fits that were done. Every finished job gets its own
folder under ``<out>/fits/``: its ROI tables first, then ``status.json`` last, each
written atomically, so a folder with a ``status.json`` is complete. A rerun on the
same output folder loads the jobs whose status says ok and whose definition is
unchanged (same fingerprint) and refits only the missing, failed or changed ones.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from geommm._atomic import atomic_path, write_text

#: Sub-folder of the output folder that holds one folder per job.
FOLDER = "fits"
STATUS_FILE = "status.json"
TABLES = {"roi": "roi_channel.parquet", "roi_geo": "roi_geo.parquet"}  # parquet keeps the types


def job_dir(out: Path, name: str) -> Path:
    """``<out>/fits/<readable name>-<hash>``: the hash keeps "a/b" and "a_b" apart."""
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:60] or "job"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return Path(out) / FOLDER / f"{readable}-{digest}"


def fingerprint(job: Any) -> str:
    """Hash of what defines the fit: formula, priors, settings, data path (and its size and
    modification time). A table passed in memory counts by its shape and row hashes."""
    spec = asdict(job)
    for key in ("data", "lift_tests"):
        spec[key] = _describe(spec[key])
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _describe(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (str, Path)):
        path = Path(value)
        stat = path.stat() if path.exists() else None
        return [str(path), stat.st_size if stat else None, stat.st_mtime_ns if stat else None]
    frame = value if isinstance(value, pl.DataFrame) else pl.from_pandas(value)
    return [list(frame.columns), frame.height, int(frame.hash_rows(seed=0).sum())]


def save_result(out: Path, job: Any, result: dict[str, Any], status_keys) -> Path:
    """Write ``result`` (from ``run_job``) of ``job``: tables first, ``status.json`` last."""
    folder = job_dir(out, job.name)
    folder.mkdir(parents=True, exist_ok=True)
    status = {k: result.get(k) for k in status_keys if k != "resumed"}
    status["fingerprint"] = fingerprint(job)
    (folder / STATUS_FILE).unlink(missing_ok=True)  # incomplete until the new status lands
    if result.get("ok"):
        for key, file in TABLES.items():
            with atomic_path(folder / file) as tmp:
                result[key].write_parquet(tmp)
    write_text(folder / STATUS_FILE, json.dumps(status, indent=1, default=_plain))
    return folder


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else str(value)


def load_done(out: Path, job: Any) -> dict[str, Any] | None:
    """The stored result of ``job`` when it finished ok with the same definition, else None."""
    folder = job_dir(out, job.name)
    try:
        status = json.loads((folder / STATUS_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not status.get("ok") or status.get("fingerprint") != fingerprint(job):
        return None
    try:
        tables = {key: pl.read_parquet(folder / file) for key, file in TABLES.items()}
    except (FileNotFoundError, OSError, pl.exceptions.PolarsError):
        return None
    status.pop("fingerprint", None)
    return {**status, **tables, "job": job.name, "resumed": True}
