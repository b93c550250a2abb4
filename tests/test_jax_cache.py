"""geommm's JAX compilation cache heals entries a killed process left half-written."""

from __future__ import annotations

import os

import numpy as np
import pytest

from geommm import _jax_speed


def _half_written(path, key: str = "jit_call-abc") -> str:
    """An entry as a process killed between JAX's two writes leaves it: no -atime file."""
    entry = path / f"{key}-cache"
    entry.write_bytes(b"x" * 100)
    os.utime(entry, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    return key


def test_repair_gives_each_entry_its_access_time(tmp_path):
    key = _half_written(tmp_path)
    (tmp_path / "whole-cache").write_bytes(b"y")
    (tmp_path / "whole-atime").write_bytes((5).to_bytes(8, "little"))
    assert _jax_speed.repair_cache(str(tmp_path)) == 1
    atime = tmp_path / f"{key}-atime"
    assert int.from_bytes(atime.read_bytes(), "little") == 1_700_000_000_000_000_000  # the entry's mtime
    assert int.from_bytes((tmp_path / "whole-atime").read_bytes(), "little") == 5  # untouched
    assert _jax_speed.repair_cache(str(tmp_path)) == 0


def test_jax_writes_to_a_repaired_cache(tmp_path):
    """Without the repair JAX's eviction check fails on the half-written entry (every
    later write to the cache is lost); after it, writes go through."""
    lru = pytest.importorskip("jax._src.lru_cache")
    pytest.importorskip("filelock")
    _half_written(tmp_path)
    cache = lru.LRUCache(str(tmp_path), max_size=10_000)
    with pytest.raises(FileNotFoundError):
        cache.put("new", b"z" * 10)
    _jax_speed.repair_cache(str(tmp_path))
    cache.put("new", b"z" * 10)
    assert cache.get("new") == b"z" * 10


def _lowered():
    import jax
    import jax.numpy as jnp

    return jax.jit(lambda x: jnp.sum(jnp.sin(x) ** 2)).lower(jnp.arange(4.0))


def _spy_compiles(monkeypatch) -> list:
    """Every ``compiler_options`` a Lowered.compile is called with, on this jaxlib
    treated as measured and without GEOMMM_KEEP_XLA_FLAGS."""
    from jax._src import stages

    seen, original = [], stages.Lowered.compile

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("compiler_options"))
        return original(self, *args, **kwargs)

    monkeypatch.delenv("GEOMMM_KEEP_XLA_FLAGS", raising=False)
    monkeypatch.setattr(_jax_speed, "_YNN_FLAG_VERSIONS", {_jaxlib_version()})
    monkeypatch.setattr(stages.Lowered, "compile", spy)
    return seen


def test_quick_compile_gives_the_same_function(monkeypatch):
    """The first look's compile options change how XLA builds the code, not what it
    computes."""
    seen = _spy_compiles(monkeypatch)
    x = np.linspace(0.0, 1.0, 4)
    quick = _jax_speed.compile_quickly(_lowered())
    assert seen == [_jax_speed.QUICK_COMPILE_OPTIONS]
    plain = _lowered().compile()
    assert float(quick(x)) == pytest.approx(float(plain(x)), rel=1e-14)


def test_quick_compile_falls_back_on_an_option_xla_does_not_know(monkeypatch):
    """A jaxlib without the option compiles with XLA's defaults instead of failing."""
    seen = _spy_compiles(monkeypatch)
    monkeypatch.setattr(_jax_speed, "QUICK_COMPILE_OPTIONS", {"xla_no_such_option_at_all": True})
    assert float(_jax_speed.compile_quickly(_lowered())(np.zeros(4))) == 0.0
    assert seen == [{"xla_no_such_option_at_all": True}, None]  # refused, then the default


def _jaxlib_version() -> tuple[int, int]:
    import jaxlib

    return tuple(int(p) for p in jaxlib.__version__.split(".")[:2])
