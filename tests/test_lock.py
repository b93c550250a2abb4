"""requirements.lock (the Docker image's pinned install) agrees with pyproject.toml and resolves.

No Docker here: the image runs ``pip install --no-deps -r requirements.lock``, so these
tests check what that command needs. Offline: every line is an exact pin and every
dependency pyproject.toml declares is pinned inside its range. Against the package
index: pip finds every pin for this interpreter (``--dry-run``), and the pinned set is
closed (each pin's own requirements, read from the index's metadata, are pinned too).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

packaging = pytest.importorskip("packaging")
from packaging.markers import default_environment  # noqa: E402
from packaging.requirements import Requirement  # noqa: E402
from packaging.utils import canonicalize_name  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"


def _pins() -> dict[str, str]:
    pins = {}
    for number, line in enumerate(LOCK.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        spec = list(req.specifier)
        assert len(spec) == 1 and spec[0].operator == "==", f"requirements.lock:{number}: {line!r} is not an exact pin"
        name = canonicalize_name(req.name)
        assert name not in pins, f"requirements.lock:{number}: {req.name} pinned twice"
        pins[name] = spec[0].version
    return pins


def _unmet(requirements: list[str], pins: dict[str, str], needed_by: str) -> list[str]:
    env = default_environment()
    problems = []
    for text in requirements:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
            continue  # another platform, Python or an extra the image does not install
        name = canonicalize_name(req.name)
        if name not in pins:
            problems.append(f"{needed_by} needs {req} but the lock has no {req.name}")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{needed_by} needs {req} but the lock pins {req.name}=={pins[name]}")
    return problems


def test_lock_pins_every_dependency_of_pyproject_inside_its_range():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = _pins()
    assert "geommm" not in pins  # the image installs geommm itself from the source
    problems = _unmet(project["dependencies"], pins, "pyproject.toml")
    assert not problems, "re-run `python scripts/lock.py`:\n" + "\n".join(problems)


def test_dockerfile_installs_from_the_lock_without_resolving():
    text = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --no-deps -r requirements.lock" in text
    assert 'ENTRYPOINT ["geommm"]' in text and "USER " in text


@pytest.mark.slow  # ~60 s here: pip asks the index about each of the ~66 pins in turn
def test_pip_resolves_the_lock_and_the_pins_are_closed(tmp_path):
    """What ``pip install --no-deps -r requirements.lock`` does in a fresh venv, short of
    installing: every pin found on the index, and no pin missing a requirement."""
    help_text = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--help"], capture_output=True, text=True
    ).stdout
    if "--dry-run" not in help_text or "--report" not in help_text:
        pytest.skip("this pip has no --dry-run/--report (pip >= 22.2 needed)")
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--ignore-installed",
         "--quiet", "--report", str(report), "-r", str(LOCK)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    items = json.loads(report.read_text())["install"]
    pins = _pins()
    found = {canonicalize_name(i["metadata"]["name"]): i["metadata"]["version"] for i in items}
    assert found == pins
    problems = []
    for item in items:
        meta = item["metadata"]
        problems += _unmet(meta.get("requires_dist", []), pins, f"{meta['name']} {meta['version']}")
    assert not problems, "re-run `python scripts/lock.py`:\n" + "\n".join(problems)
