"""Load the declarative table schemas in ``data_schemas/``.

The JSON files are the single source of truth for what a valid panel or
lift-test table looks like; this module only reads them into typed rules so
the validators never restate a constraint in code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import geommm
from geommm.errors import SchemaError

__all__ = ["Rule", "Schema", "load_schema", "schema_dir"]

# Rule fields the validators understand; a typo in a schema file fails loudly.
_RULE_FIELDS = {
    "description",
    "kind",
    "required",
    "nullable",
    "finite",
    "min",
    "exclusive_min",
    "max",
    "exclusive_max",
    "not_equal",
    "min_column",
    "exclusive_min_column",
    "unique",
    "default_from",
    "list_separator",
    "constant_within",
    "multiple",
    "accept_boolean",
    "frequency_days",
}
_KINDS = {"string", "numeric", "date"}


@dataclass(frozen=True)
class Rule:
    """Constraints on one column (or on every column playing one role)."""

    name: str
    description: str
    kind: str
    required: bool = False
    nullable: bool = False
    finite: bool = False
    min: float | None = None
    exclusive_min: float | None = None
    max: float | None = None
    exclusive_max: float | None = None
    not_equal: float | None = None
    min_column: str | None = None
    exclusive_min_column: str | None = None
    unique: bool = False
    default_from: str | None = None
    list_separator: str | None = None
    constant_within: str | None = None
    multiple: bool = False
    accept_boolean: bool = False
    frequency_days: int | None = None


@dataclass(frozen=True)
class Schema:
    """A parsed schema file: keys, grid and roles (panels) or columns (flat tables)."""

    name: str
    description: str
    path: Path
    keys: dict[str, Rule] = field(default_factory=dict)
    roles: dict[str, Rule] = field(default_factory=dict)
    columns: dict[str, Rule] = field(default_factory=dict)
    grid: dict[str, Any] = field(default_factory=dict)
    alternatives: tuple[tuple[str, ...], ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def schema_dir() -> Path:
    """Folder holding the schema files: inside the package (wheel) or beside it (repo checkout)."""
    package = Path(geommm.__file__).parent
    bundled = package / "data_schemas"
    return bundled if bundled.is_dir() else package.parent / "data_schemas"


def load_schema(name: str) -> Schema:
    """Read ``data_schemas/<name>.schema.json`` (e.g. ``"panel"``, ``"lift_tests"``)."""
    return _load(name, schema_dir())


@lru_cache(maxsize=None)
def _load(name: str, folder: Path) -> Schema:
    path = folder / f"{name}.schema.json"
    if not path.is_file():
        known = sorted(p.name.removesuffix(".schema.json") for p in folder.glob("*.schema.json"))
        raise SchemaError(f"No schema named {name!r} in {folder}; known schemas: {known}.")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SchemaError(f"Schema file {path} is not valid JSON: {exc}.") from exc
    section = lambda key: {  # noqa: E731 - tiny local helper
        rule_name: _rule(path, rule_name, spec) for rule_name, spec in raw.get(key, {}).items()
    }
    return Schema(
        name=raw.get("name", name),
        description=raw.get("description", ""),
        path=path,
        keys=section("keys"),
        roles=section("roles"),
        columns=section("columns"),
        grid=dict(raw.get("grid", {})),
        alternatives=tuple(tuple(g) for g in raw.get("alternatives", {}).get("groups", [])),
        raw=raw,
    )


def _rule(path: Path, name: str, spec: dict[str, Any]) -> Rule:
    unknown = set(spec) - _RULE_FIELDS
    if unknown:
        raise SchemaError(
            f"Schema file {path}: rule {name!r} has unknown field(s) {sorted(unknown)}; "
            f"allowed: {sorted(_RULE_FIELDS)}."
        )
    if spec.get("kind") not in _KINDS:
        raise SchemaError(
            f"Schema file {path}: rule {name!r} needs 'kind' in {sorted(_KINDS)}, "
            f"got {spec.get('kind')!r}."
        )
    if "description" not in spec:
        raise SchemaError(f"Schema file {path}: rule {name!r} has no 'description'.")
    return Rule(name=name, **spec)
