"""What Vega logs while running a chart: the console warnings a browser would show.

vl-convert renders without surfacing Vega's warnings, so the check runs the
report's own JavaScript bundle under Node (``tests/vega_warnings.js``) with a
stub DOM and ``renderer: "none"``: the dataflow (data, scales, stacking) runs in
full, nothing is drawn. Without Node the tests that need it are skipped
(failed under CI=true).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
from pathlib import Path

import altair as alt
import pytest

from geommm.report.export import chart_spec, javascript_bundle

SCRIPT = Path(__file__).with_name("vega_warnings.js")


def node() -> str:
    """Path of ``node``; skips the test (fails it under CI) when there is none."""
    path = shutil.which("node")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is needed to check Vega's warnings under CI")
        pytest.skip("node is not installed: Vega's runtime warnings cannot be checked")
    return path


@functools.lru_cache(maxsize=1)
def _bundle_file() -> Path:
    import atexit
    import tempfile

    folder = tempfile.mkdtemp(prefix="geommm-vega-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = Path(folder) / "bundle.js"
    path.write_text(javascript_bundle(), encoding="utf-8")
    return path


def vega_messages(charts: list[alt.TopLevelMixin | dict]) -> list[list[str]]:
    """Everything Vega/Vega-Lite logged (warnings, errors) while running each chart."""
    specs = [c if isinstance(c, dict) else chart_spec(c) for c in charts]
    done = subprocess.run(
        [node(), str(SCRIPT), str(_bundle_file())],
        input=json.dumps(specs),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"vega_warnings.js failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout)
