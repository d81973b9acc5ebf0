"""Removing files and the temporary files of a killed write; reading a path that may be a folder.

(Writes, text decoding and binary detection: ``agent/fileio.py``.)
"""

from __future__ import annotations

import glob
from pathlib import Path

from ..agent.fileio import NotRegularFile, read_regular


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
