"""Atomic writes leave the old file intact on failure and no temporary behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from facevox.io import atomic_path, atomic_write_text


def test_failed_write_keeps_old_content(tmp_path: Path) -> None:
    target = atomic_write_text(tmp_path / "out.txt", "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_overwrite_refused_without_flag(tmp_path: Path) -> None:
    target = atomic_write_text(tmp_path / "out.txt", "old")
    with pytest.raises(FileExistsError, match="--overwrite"):
        atomic_write_text(target, "new", overwrite=False)
    assert atomic_write_text(target, "new").read_text() == "new"


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_write_text(tmp_path / "nope" / "x.txt", "x")


def test_written_files_get_normal_permissions(tmp_path: Path) -> None:
    import os

    mask = os.umask(0o022)
    try:
        target = atomic_write_text(tmp_path / "out.txt", "x")
    finally:
        os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o644
