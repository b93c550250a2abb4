"""Atomic, durable file writes: a crash mid-write leaves the previous file intact.

The new content goes to a temporary file beside the target, is flushed to disk
and then renamed over the target; the folder is flushed too, so after a power
cut the name points at either the old or the new file, never at a half-written
one. The temporary file is created with mode 0666 minus the umask, as any
ordinary file would be, so results are as readable as the user's other files.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically."""
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(21, "Is a folder, not a file", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _new_file(target)
    try:
        yield tmp_path
        _flush(tmp_path)
        os.replace(tmp_path, target)
        _flush_folder(target.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _new_file(target: Path) -> Path:
    """Create an empty, uniquely named file beside ``target`` (mode 0666 minus the umask)."""
    for _ in range(100):
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return candidate
    raise FileExistsError(17, "No free temporary name", str(target.parent))


def _flush(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _flush_folder(folder: Path) -> None:
    """fsync the folder so the rename itself survives a crash (where the OS allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a folder; the rename is still atomic
        pass
    finally:
        os.close(fd)
