"""TOML run configuration for ``geommm fit --config FILE``.

A config file lets a team keep one reviewed, versioned description of a model
run (data, formula, sampler settings, priors) instead of a long command line.
Its constraints live in ``geommm/data/schemas/fit_config.schema.json`` (standard JSON
Schema), so the file format is documented and checked in one place; this
module only reads TOML, runs the schema and turns schema errors into messages
that name the offending key.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from geommm.errors import GeoMMMError

__all__ = ["FIT_KEYS", "ConfigError", "FitConfig", "config_schema", "load_config", "parse_config"]

SCHEMA_NAME = "fit_config.schema.json"
#: Keys of the [fit] section, passed to ``GeoMMM.fit`` as keyword arguments.
FIT_KEYS = ("method", "sampler", "draws", "tune", "chains", "seed", "target_accept", "max_treedepth",
            "mass_matrix", "precision")


class ConfigError(GeoMMMError, ValueError):
    """A config file cannot be read or does not match ``fit_config.schema.json``."""


@dataclass(frozen=True)
class FitConfig:
    """A validated run configuration; ``None`` means "not set, use the default"."""

    source: Path | None = None
    panel: Path | None = None
    geo: str | None = None
    time: str | None = None
    population: str | None = None
    date_format: str | None = None
    lift_tests: Path | None = None
    formula: str | None = None
    likelihood: str | None = None
    fit: dict[str, Any] = field(default_factory=dict)
    priors: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None
    overwrite: bool | None = None

    def merged(self, **overrides: Any) -> FitConfig:
        """A copy where every override that is not None wins (command-line flags over file)."""
        top = {k: v for k, v in overrides.items() if v is not None and k not in FIT_KEYS}
        unknown = set(top) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(f"FitConfig has no field(s) {sorted(unknown)}")
        fit = {
            **self.fit,
            **{k: v for k, v in overrides.items() if v is not None and k in FIT_KEYS},
        }
        return dataclasses.replace(self, **top, fit=fit)


@lru_cache(maxsize=1)
def config_schema() -> dict[str, Any]:
    """The JSON Schema of config files (read once)."""
    from geommm.data.schema import schema_dir

    path = schema_dir() / SCHEMA_NAME
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:  # a broken install, not a user mistake
        raise RuntimeError(f"cannot read the config schema {path}: {exc}") from exc


def load_config(path: str | os.PathLike) -> FitConfig:
    """Read and validate a TOML config file; relative paths in it are relative to the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found (working directory: {Path.cwd()})")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path.name} is not UTF-8 text") from None
    return parse_config(data, source=path)


def parse_config(data: Mapping[str, Any], source: Path | None = None) -> FitConfig:
    """Validate an already-parsed config mapping and build a :class:`FitConfig`."""
    _validate(data, source)
    base = source.parent if source is not None else Path.cwd()
    d, m, o = (dict(data.get(name, {})) for name in ("data", "model", "output"))
    fit = dict(data.get("fit", {}))
    for key in ("draws", "tune", "chains", "seed", "max_treedepth"):
        if key in fit:
            fit[key] = int(fit[key])  # JSON Schema counts 2.0 as an integer; pymc does not
    if "target_accept" in fit:
        fit["target_accept"] = float(fit["target_accept"])
    return FitConfig(
        source=source,
        panel=_path(base, d.get("panel")),
        geo=d.get("geo"),
        time=d.get("time"),
        population=d.get("population"),
        date_format=d.get("date_format"),
        lift_tests=_path(base, d.get("lift_tests")),
        formula=m.get("formula"),
        likelihood=m.get("likelihood"),
        fit=fit,
        priors=_plain(dict(data.get("priors", {}))),
        out=_path(base, o.get("dir")),
        overwrite=o.get("overwrite"),
    )


def _path(base: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _plain(value: Any) -> Any:
    """TOML arrays become lists; ROI intervals are read as tuples like the Python API."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


# --- schema errors -> messages naming the key ------------------------------------------


def _validate(data: Mapping[str, Any], source: Path | None) -> None:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(config_schema())
    errors = sorted(
        validator.iter_errors(data),
        key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))),
    )
    if errors:
        where = source.name if source is not None else "config"
        raise ConfigError(f"{where}: {_message(errors[0])}")


def _message(error: Any) -> str:
    path = list(error.absolute_path)
    key = _key(path)
    kind, value, schema = error.validator, error.instance, error.schema
    if kind == "additionalProperties" and "properties" in schema:
        extra = sorted(set(value) - set(schema["properties"]))
        allowed = ", ".join(schema["properties"])
        inside = f" in [{key}]" if path else ""
        noun = "key" if len(extra) == 1 else "keys"
        names = ", ".join(repr(_key([*path, x])) for x in extra)
        return f"unknown {noun} {names}{inside}; allowed: {allowed}"
    if kind == "anyOf":
        deeper = _deeper(error)
        if deeper is not None:
            return _message(deeper)
    if kind == "required":
        missing = [r for r in error.validator_value if r not in value]
        return f"{key!r} needs key(s) {missing}"
    if kind == "type":
        wanted = {
            "integer": "an integer",
            "number": "a number",
            "string": "text",
            "boolean": "true or false",
            "object": "a table",
            "array": "a list",
        }.get(error.validator_value, error.validator_value)
        return f"{key!r} must be {wanted}{_what(schema)}, got {_show(value)}"
    if kind == "enum":
        options = ", ".join(repr(v) for v in error.validator_value)
        return f"{key!r} must be one of {options}, got {_show(value)}"
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if kind in bounds:
        limit = f"{bounds[kind]} {error.validator_value}"
        return f"{key!r} must be {limit}{_what(schema)}, got {_show(value)}"
    if kind == "minLength":
        return f"{key!r} must not be empty"
    described = schema.get("description") or error.message
    return f"{key!r} must be {described}, got {_show(value)}"


def _deeper(error: Any) -> Any | None:
    """For "matches none of these shapes", the error of the one shape of the right type, if any."""
    branches: dict[int, list[Any]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.schema_path[0], []).append(sub)
    depth = len(error.absolute_path)
    shape_misses = {"type", "required", "not"}
    same_type = [
        subs
        for subs in branches.values()
        if not any(s.validator in shape_misses and len(s.absolute_path) == depth for s in subs)
    ]
    if len(same_type) == 1:
        subs = sorted(same_type[0], key=lambda s: -len(s.absolute_path))
        return subs[0]
    return None


def _key(path: Sequence[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<top level>"


def _what(schema: Mapping[str, Any]) -> str:
    return f" ({schema['description']})" if schema.get("description") else ""


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
