"""Run ``geommm`` in-process and check its one-line errors (shared by the CLI tests)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from geommm.cli import main


def run(*argv: object) -> tuple[int, str, str]:
    """``geommm ARGV`` in-process: (exit code, stdout, stderr)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
            code = exc.code if isinstance(exc.code, int) else 1
    return code, stdout.getvalue(), stderr.getvalue()


def assert_user_error(code: int, err: str, *fragments: str) -> None:
    """Exit 1 with one ``error: ...`` line naming every fragment, and no traceback."""
    assert code == 1, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def _can_write(folder: Path) -> bool:
    try:
        (folder / ".probe").write_text("x")
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True


@contextlib.contextmanager
def unwritable_folder(folder: Path) -> Iterator[Path]:
    """``folder`` made unwritable for this process: read-only mode, or immutable as root."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    immutable = False
    if _can_write(folder):  # root ignores permission bits
        folder.chmod(0o755)
        done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
        immutable = done.returncode == 0
        if not immutable or _can_write(folder):
            pytest.skip("cannot make a folder unwritable here")
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=False)
        os.chmod(folder, 0o755)
