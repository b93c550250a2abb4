"""Writes are atomic: a crash mid-write leaves the previous file intact."""

from __future__ import annotations

import pytest

from geommm._atomic import atomic_path, write_text


def test_crash_mid_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "fit.nc"
    write_text(target, "old results")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old results"
    assert [p.name for p in tmp_path.iterdir()] == ["fit.nc"]  # no temp file left behind


def test_save_fit_is_atomic(map_fit, tmp_path, monkeypatch):
    target = tmp_path / "fit.nc"
    target.write_text("previous fit")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(type(map_fit.idata), "to_netcdf", boom)
    with pytest.raises(OSError):
        map_fit.save(target)
    assert target.read_text() == "previous fit"
