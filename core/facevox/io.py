"""Small I/O helpers: atomic writes, so nothing is ever left half-written, and output checks."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from facevox.registry import FacevoxError

__all__ = ["OutputPathError", "atomic_path", "atomic_write_bytes", "atomic_write_text", "check_output_path"]


class OutputPathError(FacevoxError, ValueError):
    """An output path cannot be written: empty, a folder where a file is wanted, or not writable."""


def check_output_path(path: str | os.PathLike[str], folder: bool = False) -> Path:
    """Check, before any work, that an output file (or folder) can be written at ``path``.

    Args:
        path: the output as the user gave it.
        folder: ``path`` names a folder of outputs (it may exist, or is created with its
            parents) instead of one file.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        OutputPathError: ``path`` is empty; a file is wanted and ``path`` is an existing folder
            or something other than a regular file (a device, a FIFO...), or its folder does not
            exist; a folder is wanted and ``path`` is an existing non-folder; or the folder that
            would receive the output is not writable.
    """
    raw = os.fspath(path)
    if not str(raw).strip():
        raise OutputPathError("the output path is empty; name the file to write")
    target = Path(raw)
    try:
        mode: int | None = os.stat(target).st_mode
    except OSError:
        mode = None
    if folder:
        if mode is not None and not stat.S_ISDIR(mode):
            raise OutputPathError(f"{target} exists and is not a folder; name a folder for the outputs")
        parent = target
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir():
            raise OutputPathError(f"cannot create folder {target}: {parent} is not a folder")
    else:
        if mode is not None and stat.S_ISDIR(mode):
            raise OutputPathError(f"{target} is a folder; name the file to write inside it")
        if mode is not None and not stat.S_ISREG(mode):
            raise OutputPathError(f"{target} exists and is not a regular file (a device, a FIFO...); "
                                  "name a new or a regular file")
        parent = target.parent
        if not parent.is_dir():
            what = "is not a folder" if parent.exists() else "does not exist"
            raise OutputPathError(f"cannot write {target}: folder {parent} {what}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {target}: folder {parent} is not writable")
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Write to the yielded path (any library that takes a file name works). If the block
    raises, the temporary file is removed and ``path`` is untouched.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        FileNotFoundError: the parent folder of ``path`` does not exist.
    """
    target = Path(path)
    if not overwrite and target.exists():
        raise FileExistsError(f"{target} exists; pass overwrite=True (CLI: --overwrite) to replace it")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"folder {target.parent} does not exist (writing {target.name})")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions of a new file
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + rename); returns the path."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, overwrite: bool = True) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite)
