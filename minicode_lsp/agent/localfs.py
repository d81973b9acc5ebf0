"""A FileSystem port on disk only: used by the CLI and by tests.

Writes are atomic (temporary file in the same directory, fsync, rename) and keep the
file's mode. ``on_before_write(path)`` runs before every write or delete so a
checkpointer can save the pre-image. ``confirm`` is ignored: there is no user to ask
(the CLI runs in ``auto`` or ``plan`` mode).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import stat
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger(__name__)

BeforeWrite = Callable[[Path], Awaitable[None] | None]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, keeping an existing file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".minicode-tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class LocalFileSystem:
    def __init__(self, on_before_write: BeforeWrite | None = None) -> None:
        self.on_before_write = on_before_write

    async def _before(self, path: Path) -> None:
        if self.on_before_write is None:
            return
        result = self.on_before_write(path)
        if inspect.isawaitable(result):
            await result

    # Paths come resolved from ``tools.paths``; ``tools.confined`` walks them without following
    # a link, so a folder swapped for a link after the check is refused, never written through.
    async def read(self, path: Path) -> bytes | None:
        from .tools import confined

        return await asyncio.to_thread(confined.read_bytes, path)

    async def write(self, path: Path, data: bytes, *, confirm: bool, label: str,
                    rederive: Callable[[bytes | None], bytes] | None = None) -> bytes:
        """No prompt and no await between the tool's read and this write: ``data`` is
        applied as computed (``rederive`` is only needed when something can change meanwhile)."""
        from .tools import confined

        await self._before(path)
        await asyncio.to_thread(confined.write_bytes, path, data)
        log.debug("wrote %s (%d bytes): %s", path, len(data), label)
        return data

    async def delete(self, path: Path, *, confirm: bool, label: str) -> None:
        from .tools import confined

        await self._before(path)
        if not path.exists():
            raise FileNotFoundError(path)
        confined.remove(path)
        log.debug("deleted %s: %s", path, label)
