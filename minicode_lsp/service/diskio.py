"""Atomic file writes and text decoding that round-trips bytes."""

from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path

from ..agent.fileio import NotRegularFile, read_regular


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder, fsync, rename; keep the file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".minicode-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def remove_file(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def remove_temps(path: Path) -> None:
    """Remove the temporary files an ``atomic_write`` killed half-way left next to ``path``."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.minicode-tmp"):
        remove_file(tmp)


def read_disk(path: Path, max_bytes: int | None = None) -> bytes | None:
    """The file's bytes; None when absent or a directory. Never opens a FIFO, device or socket:
    those raise ``NotRegularFile`` (an OSError), as a file over ``max_bytes`` raises ``FileTooLarge``."""
    try:
        return read_regular(path, max_bytes)
    except NotRegularFile:
        if path.is_dir():
            return None
        raise


def encoding_of(data: bytes | None) -> str:
    if data is None:
        return "utf-8"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "latin-1"


def decode(data: bytes) -> str:
    return data.decode(encoding_of(data))
