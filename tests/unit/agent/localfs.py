"""A FileSystem port on disk only, for the agent's unit tests (production goes through the
service's ``WorkspaceFileSystem``, which asks the editor).

Writes are atomic (``confined.write_bytes``) and keep the file's mode.
``on_before_write(path)`` runs before every write or delete so a checkpointer can save the
pre-image. ``confirm`` is ignored: there is no user to ask.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

log = logging.getLogger(__name__)

BeforeWrite = Callable[[Path], Awaitable[None] | None]


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
        from minicode_lsp.agent.tools import confined

        return await asyncio.to_thread(confined.read_bytes, path)

    async def write(self, path: Path, data: bytes, *, confirm: bool, label: str,
                    rederive: Callable[[bytes | None], bytes] | None = None) -> bytes:
        """No prompt and no await between the tool's read and this write: ``data`` is
        applied as computed (``rederive`` is only needed when something can change meanwhile)."""
        from minicode_lsp.agent.tools import confined

        await self._before(path)
        await asyncio.to_thread(confined.write_bytes, path, data)
        log.debug("wrote %s (%d bytes): %s", path, len(data), label)
        return data

    async def delete(self, path: Path, *, confirm: bool, label: str) -> None:
        from minicode_lsp.agent.tools import confined

        await self._before(path)
        if not path.exists():
            raise FileNotFoundError(path)
        confined.remove(path)
        log.debug("deleted %s: %s", path, label)
