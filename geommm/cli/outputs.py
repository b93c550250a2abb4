"""The files a command leaves behind: checked folder, atomic writes, one layout.

Every file is written through ``geommm._atomic`` so an interrupted run never
leaves a half-written table that looks complete, and a folder with earlier
results is only reused when the user says ``--overwrite``.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geommm._atomic import atomic_path, write_text
from geommm.cli.console import UserError, note, one_line

if TYPE_CHECKING:
    from geommm.analysis.optimize import Allocation
    from geommm.fit import Fit

#: What ``geommm optimize --by`` allocates over; each writes allocation_<by>.csv.
ALLOCATION_BY = ("channel", "geo")


def allocation_file(by: str) -> str:
    return f"allocation_{by}.csv"


#: Files ``geommm fit`` / ``geommm demo`` (and ``optimize`` into their folder) may write.
#: With --overwrite they are all removed before the new results are written, so the
#: folder never mixes two runs; other files are left alone.
RESULT_FILES = (
    "fit.nc",
    "roi_channel.csv",
    "roi_geo.csv",
    "marginal_roi_channel.csv",
    "marginal_roi_geo.csv",
    "contributions.csv",
    "fit_metrics.csv",
    "lift_test_check.csv",
    "organic_effects.csv",
    "treatment_effects.csv",
    "diagnostics.json",
    *(allocation_file(by) for by in ALLOCATION_BY),
    "allocation_channel_summary.json",
    "allocation_geo_summary.json",
    "report.html",
)


def prepare_dir(path: Path, overwrite: bool) -> Path:
    """Check ``path`` can take results now, before any long step runs."""
    if path.exists() and not path.is_dir():
        raise UserError(f"output {path} exists and is not a folder; choose another --out")
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise UserError(
            f"output folder {path} is not empty; pass --overwrite to replace its results "
            "or choose another --out"
        )
    path.mkdir(parents=True, exist_ok=True)
    probe_writable(path)
    return path


def prepare_file(path: Path, overwrite: bool, own: Path | None = None) -> Path:
    """Check ``path`` can take a result file now, before any long step runs.

    An existing file is replaced only with ``overwrite``, unless it is ``own``: the
    command's default output in a fit's folder, one of that fit's own results.
    """
    if path.is_dir():
        raise UserError(f"output {path} is a folder; give a file name, e.g. {path / 'out'}")
    is_own = own is not None and path.resolve() == own.resolve()
    if path.exists() and not (overwrite or is_own):
        raise UserError(
            f"output file {path} already exists; pass --overwrite to replace it "
            "or choose another --out"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    probe_writable(path.parent)
    return path


def probe_writable(folder: Path) -> None:
    """Create and delete a file in ``folder`` now, so a run never ends unable to save.

    Permission bits alone do not tell (root ignores them; immutable folders,
    read-only mounts and quotas refuse writes anyway), so this really writes.
    """
    try:
        fd, name = tempfile.mkstemp(prefix=".geommm-probe-", dir=folder)
        try:
            os.write(fd, b"geommm")
        finally:
            os.close(fd)
            os.unlink(name)
    except OSError as exc:
        raise UserError(
            f"output folder {folder} is not writable ({exc.strerror or exc}); fix its "
            "permissions or choose another --out"
        ) from None


def remove_results(folder: Path, known: Iterable[str] = RESULT_FILES) -> None:
    """Delete the result files of an earlier run (only these names; nothing else)."""
    for name in known:
        old = folder / name
        if old.is_file() or old.is_symlink():
            old.unlink()


def write_csv(frame: Any, path: Path) -> Path:
    """Write a polars table as CSV, atomically."""
    with atomic_path(path) as tmp:
        frame.write_csv(tmp)
    return path


def write_json(data: Any, path: Path) -> Path:
    """Write JSON (NaN and infinity become null, which every JSON reader accepts)."""
    write_text(path, json.dumps(_finite(data), indent=2, default=str) + "\n")
    return path


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def save_fit(fit: Fit, path: Path) -> Path:
    fit.save(path)
    return path


def diagnostics_record(fit: Fit) -> dict[str, Any]:
    """Diagnostics plus the sampler settings and timings, for diagnostics.json."""
    return {**fit.diagnostics().to_dict(), "settings": fit.settings.to_dict()}


def write_tables(
    fit: Fit, folder: Path, ready: dict[str, Any] | None = None, problems: list[str] | None = None
) -> list[Path]:
    """The standard result tables of a fit; ``ready`` holds tables already computed, by file name.

    A table that fails is reported in ``problems`` and skipped, so one broken
    table never costs the user the fit they waited for.
    """
    tables = {
        "roi_channel.csv": lambda: fit.roi(by="channel"),
        "roi_geo.csv": lambda: fit.roi(by="geo"),
        "marginal_roi_channel.csv": lambda: fit.marginal_roi(by="channel"),
        "marginal_roi_geo.csv": lambda: fit.marginal_roi(by="geo"),
        "contributions.csv": lambda: fit.contributions(by=["geo", "time"]),
        "fit_metrics.csv": fit.fit_metrics,
    }
    if fit.lift_tests is not None and len(fit.lift_tests):
        tables["lift_test_check.csv"] = fit.lift_test_check
    if getattr(fit.spec, "organic", ()):  # organic(...) terms: incremental KPI, no ROI
        tables["organic_effects.csv"] = lambda: _national_then_geo(fit.organic_effects)
    if getattr(fit.spec, "treatments", ()):
        tables["treatment_effects.csv"] = lambda: _national_then_geo(fit.treatment_effects)
    ready = ready or {}
    problems = problems if problems is not None else []
    written = []
    for name, make in tables.items():
        try:
            table = ready[name] if name in ready else make()
        except Exception as exc:  # noqa: BLE001 - reported, see docstring
            problems.append(failed(name, exc))
            continue
        written.append(write_csv(table, folder / name))
    written.append(write_json(diagnostics_record(fit), folder / "diagnostics.json"))
    return written


def _national_then_geo(table: Any) -> Any:
    """A ``by="national"`` table's rows followed by its ``by="geo"`` rows (same columns)."""
    import polars as pl

    return pl.concat([table(by="national"), table(by="geo")])


def failed(what: str, exc: BaseException) -> str:
    """Record a failed output on stderr now; the text is repeated in the final error line."""
    text = f"{what} ({type(exc).__name__}: {one_line(exc)})"
    note(f"warning: could not write {text}")
    return text


def write_report(fit: Fit, path: Path, allocation: Allocation | None = None) -> Path:
    """Write the fit's HTML report (with the budget section when given an allocation)."""
    fit.report(path, allocation=allocation)
    return path


def try_report(
    fit: Fit, path: Path, allocation: Allocation | None = None, problems: list[str] | None = None
) -> Path | None:
    """Like :func:`write_report`, but a failure goes into ``problems``: the fit results stand."""
    try:
        return write_report(fit, path, allocation=allocation)
    except Exception as exc:  # noqa: BLE001 - results are already on disk; say what failed
        if problems is not None:
            problems.append(failed(path.name, exc))
        else:
            failed(path.name, exc)
        return None
