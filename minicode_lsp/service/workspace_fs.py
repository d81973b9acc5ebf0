"""The agent's FileSystem port: open buffers first, edits through the editor, checkpoints always.

Every write records the file's pre-image in the open checkpoint group before anything
changes, and its post-image after, so a crash in between still leaves a rewindable group.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from ..agent.fileio import MAX_FILE_BYTES
from ..agent.ports import UserDeclined
from ..agent.tools import confined
from .diskio import atomic_write, encoding_of, read_disk, remove_file
from .frontend import FileEdit, Frontend

log = logging.getLogger(__name__)

# (path, bytes-or-None) -> None
Recorder = Callable[[Path, bytes | None], None]


class WorkspaceFileSystem:
    def __init__(self, frontend: Frontend, *, before_write: Recorder, after_write: Recorder) -> None:
        self.frontend = frontend
        self.before_write = before_write
        self.after_write = after_write

    async def read(self, path: Path) -> bytes | None:
        return await read_current(self.frontend, path, reader=confined.read_disk)

    async def write(self, path: Path, data: bytes, *, confirm: bool, label: str) -> None:
        await self._change(path, data, confirm=confirm, label=label)

    async def delete(self, path: Path, *, confirm: bool, label: str) -> None:
        await self._change(path, None, confirm=confirm, label=label)

    async def _change(self, path: Path, data: bytes | None, *, confirm: bool, label: str) -> None:
        current = await read_current(self.frontend, path, max_bytes=None, reader=confined.read_disk)
        self.before_write(path, current)
        await apply_changes(
            self.frontend,
            [FileEdit(path=path, old=current, new=data)],
            label=label,
            description=f"MiniCode agent: {label}",
            confirm=confirm,
            writer=confined.write_bytes,
            remover=confined.remove,
        )
        self.after_write(path, data)


async def read_current(frontend: Frontend, path: Path, *, max_bytes: int | None = MAX_FILE_BYTES,
                       reader: Callable[[Path, int | None], bytes | None] = read_disk) -> bytes | None:
    """``current_bytes`` with the disk read off the event loop (a slow disk or a big file never
    stalls the server); regular files only (``NotRegularFile`` otherwise), at most ``max_bytes``.
    The agent's tools pass ``confined.read_disk`` (no link followed, no shared file read)."""
    text = frontend.open_text(path)
    disk = await asyncio.to_thread(reader, path, max_bytes)
    if text is None:
        return disk
    return _encoded(text, disk)


def _encoded(text: str, disk: bytes | None) -> bytes:
    enc = encoding_of(disk)
    try:
        return text.encode(enc)
    except UnicodeEncodeError:
        return text.encode("utf-8")


def current_bytes(frontend: Frontend, path: Path) -> bytes | None:
    """The open buffer's text (in the file's encoding) or the disk bytes; None when absent."""
    text = frontend.open_text(path)
    if text is None:
        return read_disk(path)
    return _encoded(text, read_disk(path))


async def apply_changes(
    frontend: Frontend, edits: list[FileEdit], *, label: str, description: str, confirm: bool,
    writer: Callable[[Path, bytes], None] = atomic_write, remover: Callable[[Path], None] = remove_file,
) -> None:
    """Apply through the editor when a file is open or confirmation is needed; else to disk.

    Raises ``UserDeclined`` when the user refuses. After the editor applied an edit to a file
    that is not open, the disk is written too, so the change never lives only in an unsaved
    buffer.
    """
    via_editor = [e for e in edits if confirm or frontend.open_text(e.path) is not None]
    on_disk = [e for e in edits if e not in via_editor]
    if via_editor:
        if confirm and not frontend.supports_confirmation:
            names = ", ".join(e.path.name for e in via_editor)
            answer = await frontend.choose(f"MiniCode: {label} ({names})?", ["Apply", "Decline"])
            if answer != "Apply":
                raise UserDeclined(label)
            confirm = False
        applied = await frontend.apply_edits(via_editor, label=label, description=description, confirm=confirm)
        if not applied:
            raise UserDeclined(label)
        for edit in via_editor:
            if frontend.open_text(edit.path) is None:
                on_disk.append(edit)
    for edit in on_disk:
        if edit.new is None:
            remover(edit.path)
        else:
            writer(edit.path, edit.new)
