"""The package's layering, checked on the source with ``ast`` (no geommm module is imported).

Layers, lowest first. A module may import its own layer and any layer below it,
never one above; imports inside functions count as much as those at the top of
a file (a lazy import is still a dependency); imports under ``if TYPE_CHECKING:``
are exempt (type hints only, never run).

====  =========  ==============================================================
rank  layer      modules
====  =========  ==============================================================
0     base       ``errors.py``, ``_atomic.py``, ``_version.py``, ``_hooks.py``, ``_gc_pause.py``:
                 typed errors, safe file writes, the version, callbacks run after each
                 fit, the cycle collector paused while compiling
1     data       ``data/`` (read + validate tables), ``media/`` (the media transform)
2     formula    ``formula/``: the formula parsed into a ModelSpec
3     sim        ``sim.py`` or ``sim/``: the simulator may use data, media and formula
                 but nothing at or above model (its truth is the yardstick, so it keeps
                 its own maths); only workflows and above may import it
4     model      ``model/``: design, priors, the PyMC graph, lift cells (no file reading)
5     analysis   ``analysis/``: ROI, contributions, curves, optimiser on posterior draws
6     fit        ``fit.py``, ``mmm.py`` (GeoMMM), ``sampling.py`` (+ ``advi.py``), ``store.py``,
                 ``_jax_speed.py`` (nutpie JAX speed-ups, used only by sampling) and
                 ``chain_processes.py`` + ``_chain_worker.py`` (NUTS chains in processes),
                 ``warm_start.py`` (NUTS started from a previous posterior)
7     workflows  ``workflows/`` (validation, batch: procedures made of whole fits) and
                 ``batch.py`` (the deprecated shim that re-exports workflows.batch)
8     report     ``report/``: charts and the HTML report
9     app        ``__init__.py`` (re-exports lazily from every layer), ``cli/``,
                 ``demo/``, ``config.py`` (reads the CLI's TOML), ``mlflow.py`` (experiment
                 tracking): the user's entry points
====  =========  ==============================================================

A new top-level module fails :func:`test_every_module_has_a_layer` until it is
placed in ``LAYER``. Besides the order, ``model/`` must not import the data
layer's file readers: the caller reads and checks tables, the model gets them.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "geommm"

LAYERS = (
    "base", "data", "formula", "sim", "model", "analysis", "fit", "workflows", "report", "app",
)
RANK = {name: i for i, name in enumerate(LAYERS)}

#: First name under ``geommm.`` -> layer (see the table in the module docstring).
LAYER = {
    "errors": "base", "_atomic": "base", "_version": "base", "_checks": "base", "_interrupts": "base",
    "_progress": "base", "_hooks": "base", "_gc_pause": "base",
    "data": "data", "media": "data",
    "formula": "formula",
    "sim": "sim",
    "model": "model",
    "analysis": "analysis",
    "fit": "fit", "mmm": "fit", "sampling": "fit", "store": "fit", "_jax_speed": "fit", "_jax_graph": "fit", "approx": "fit",
    "chain_processes": "fit", "_chain_worker": "fit", "warm_start": "fit",
    "approx_corrected": "fit", "mode_search": "fit", "advi": "fit", "variables_map": "fit",
    "workflows": "workflows", "batch": "workflows",
    "report": "report",
    "__init__": "app", "cli": "app", "demo": "app", "config": "app", "mlflow": "app",
}

#: Data-layer modules and names that read files; ``model/`` may import none of them. It may
#: name a validated type (``from geommm.data.panel import Panel``), but importing a data
#: module whole hides which names it uses, so that counts as using the readers.
READER_MODULES = {"geommm.data.io", "geommm.data.lift_tests", "geommm.data.geolift"}
READER_NAMES = {"read_table", "from_geolift", "check_lift_tests", "validate_lift_tests"}

#: Known violations, owned by other work on issue 14. Each entry is
#: (importing module, imported module); the integrator empties this list.
#: An entry that no longer matches a violation fails the test: delete it then.
ALLOWED = {
    # The one deliberate upward call: Fit.report() is the API contract's convenience
    # (DESIGN.md: fit.report("report.html")); it imports the report lazily, inside the
    # method, and the report itself only calls Fit's public methods.
    ("geommm.fit", "geommm.report"),
    # Fit.refresh() / Fit.what_changed(): one-line doors into workflows/refresh.py and
    # workflows/what_changed.py (issue 16), imported inside the methods like the report.
    ("geommm.fit", "geommm.workflows.refresh"),
    ("geommm.fit", "geommm.workflows.what_changed"),
    # GeoMMM.fit runs the pre-flight data checks (issue 22: "blocking findings stop
    # GeoMMM.fit"); they live with the identification simulation in
    # workflows/preflight, and the fit imports them inside the method.
    ("geommm.mmm", "geommm.workflows.preflight"),
}


# --- reading the source ----------------------------------------------------------------


def module_name(path: Path) -> str:
    """``geommm/model/lift.py`` -> ``geommm.model.lift``; an ``__init__`` is its package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_sources() -> dict[str, tuple[str, bool]]:
    """Module name -> (source text, is a package) for every ``.py`` file under geommm/."""
    return {
        module_name(p): (p.read_text(encoding="utf-8"), p.name == "__init__.py")
        for p in sorted(PACKAGE.rglob("*.py"))
    }


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(source: str, importer: str, is_package: bool, known: set[str]):
    """Yield (line, imported module, names) for every geommm import in ``source``.

    Walks the whole tree (function bodies too) except ``if TYPE_CHECKING:`` blocks.
    ``from geommm.x import y`` counts as importing ``geommm.x.y`` when that is a
    module, else name ``y`` of ``geommm.x``; ``names`` is empty when a whole module
    is imported. Relative imports are resolved against ``importer``.
    """
    stack: list[ast.AST] = [ast.parse(source)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "geommm":
                    yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = importer.split(".")[: len(importer.split(".")) - node.level + is_package]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != "geommm":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                whole = full in known
                yield node.lineno, full if whole else base, () if whole else (alias.name,)


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return LAYER.get(parts[1] if len(parts) > 1 else "__init__")


def violations(sources: dict[str, tuple[str, bool]]) -> list[tuple[str, str, str]]:
    """(importer, imported, why) for every import against the layering rules."""
    known = set(sources)
    found = []
    for importer, (source, is_package) in sources.items():
        own = layer_of(importer)
        for line, target, names in imports(source, importer, is_package, known):
            where = f"{importer} (line {line}) imports {target}"
            theirs = layer_of(target)
            if own is None or theirs is None:
                continue  # reported by test_every_module_has_a_layer
            if RANK[theirs] > RANK[own]:
                found.append((importer, target, f"{where}: layer {own} may not import {theirs}"))
            elif theirs == "sim" and own != "sim" and RANK[own] < RANK["workflows"]:
                why = f"{where}: only workflows and above use the simulator"
                found.append((importer, target, why))
            if own == "model" and (
                target in READER_MODULES
                or (target.split(".")[:2] == ["geommm", "data"] and _reads(names))
            ):
                found.append((importer, target, f"{where}: model/ may not use the data readers"))
    return found


def _reads(names: tuple[str, ...]) -> bool:
    """A whole module (no names) or any reader among the names."""
    return not names or any(n.startswith("read_") or n in READER_NAMES for n in names)


# --- the tests -------------------------------------------------------------------------


def test_every_module_has_a_layer():
    unplaced = sorted(m for m in package_sources() if layer_of(m) is None)
    assert not unplaced, f"add these to LAYER in {Path(__file__).name}: {unplaced}"


def test_no_module_imports_a_higher_layer():
    found = violations(package_sources())
    new = sorted({why for importer, target, why in found if (importer, target) not in ALLOWED})
    assert not new, "layering violations:\n" + "\n".join(new)


def test_allow_list_only_shrinks():
    found = {(importer, target) for importer, target, _ in violations(package_sources())}
    stale = sorted(ALLOWED - found)
    assert not stale, f"these imports are gone or now allowed; delete them from ALLOWED: {stale}"


def test_checker_sees_lazy_imports_and_skips_type_checking():
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from geommm.fit import Fit\n"
        "def f():\n"
        "    from geommm.data.io import read_table\n"
        "    from geommm.analysis import roi\n"
        "    from . import priors\n"
        "    import geommm\n"
        "from geommm.data.panel import Panel\n"
        "from geommm.data import read_panel\n"
    )
    sources = {
        "geommm.model.lift": (source, False),
        "geommm.model.priors": ("", False),
        "geommm.analysis.roi": ("", False),
    }
    found = {(importer, target) for importer, target, _ in violations(sources)}
    assert found == {
        ("geommm.model.lift", "geommm.data.io"),  # a reader, inside a function
        ("geommm.model.lift", "geommm.analysis.roi"),
        ("geommm.model.lift", "geommm"),  # the package root is the top layer
        ("geommm.model.lift", "geommm.data"),  # read_panel; the Panel type alone is fine
    }


def test_old_batch_path_still_works_with_a_warning(monkeypatch):
    import geommm

    monkeypatch.delitem(sys.modules, "geommm.batch", raising=False)
    monkeypatch.delattr(geommm, "batch", raising=False)  # restored afterwards
    with pytest.warns(DeprecationWarning, match=r"geommm\.workflows\.batch"):
        old = importlib.import_module("geommm.batch")
    from geommm.workflows import batch

    assert old.run_fits is batch.run_fits and old.FitJob is batch.FitJob


def test_package_root_points_at_the_workflows():
    import geommm as gm
    from geommm.workflows import batch, validation

    assert gm.evaluate_holdout is validation.evaluate_holdout
    assert gm.time_slice_cv is validation.time_slice_cv
    assert gm.batch.run_fits is batch.run_fits


#: One concept per module: past this many lines a module is split by concept.
MAX_MODULE_LINES = 400


def test_no_module_is_over_the_line_limit():
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these by concept (over {MAX_MODULE_LINES} lines): {long}"
