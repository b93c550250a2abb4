"""Write requirements.lock: exact pins of geommm's runtime dependencies, as installed here.

The Docker image installs from this file (``pip install --no-deps -r requirements.lock``),
so a build months from now gets the versions tested today. Run it from a venv where
geommm's tests pass:

    python scripts/lock.py            # geommm's core dependencies
    python scripts/lock.py mlflow     # plus the [mlflow] extra

It walks the installed distributions' requirements from pyproject.toml's list (markers
evaluated for this interpreter and platform: Linux, CPython 3.11 for the image) and pins
every one it reaches. Nothing is downloaded.
"""

from __future__ import annotations

import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def closure(requirements: list[str]) -> dict[str, str]:
    """canonical name -> installed version, for ``requirements`` and everything they need."""
    env = default_environment()
    pins: dict[str, str] = {}
    todo = [(Requirement(r), ()) for r in requirements]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        req, extras = todo.pop()
        if req.marker is not None and not any(
            req.marker.evaluate({**env, "extra": e}) for e in (extras or ("",))
        ):
            continue
        name = canonicalize_name(req.name)
        key = (name, tuple(sorted(req.extras)))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = distribution(req.name)
        except PackageNotFoundError:
            sys.exit(f"{req.name} is required but not installed; install geommm's dependencies first")
        if not req.specifier.contains(dist.version, prereleases=True):
            sys.exit(f"installed {req.name} {dist.version} does not satisfy {req}")
        pins[name] = dist.version
        for sub in dist.requires or []:
            todo.append((Requirement(sub), tuple(sorted(req.extras))))
    return pins


def main(extras: list[str]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    pins = closure(wanted)
    pins.pop("geommm", None)
    label = f"geommm[{','.join(extras)}]" if extras else "geommm"
    lines = [
        f"# Exact runtime dependencies of {label} for the Docker image (CPython "
        f"{sys.version_info.major}.{sys.version_info.minor}, Linux).",
        "# Written by scripts/lock.py from a venv where the tests pass; do not edit by hand.",
        *(f"{name}=={version}" for name, version in sorted(pins.items())),
    ]
    (ROOT / "requirements.lock").write_text("\n".join(lines) + "\n")
    print(f"requirements.lock: {len(pins)} pins for {label}")


if __name__ == "__main__":
    main(sys.argv[1:])
