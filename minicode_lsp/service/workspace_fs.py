"""The agent's FileSystem port: open buffers first, edits through the editor, checkpoints always.

Every write records the file's pre-image in the open checkpoint group before anything
changes, and its post-image after, so a crash in between still leaves a rewindable group.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
from collections.abc import Callable
from pathlib import Path

from ..agent.fileio import MAX_FILE_BYTES, atomic_write, encoding_of
from ..agent.ports import EditConflict, PartlyAccepted, Rederive, UserDeclined
from ..agent.tools import confined
from ..store.diffs import unified_diff
from .diskio import read_disk, remove_file
from .frontend import FileEdit, Frontend

log = logging.getLogger(__name__)

# (path, bytes-or-None) -> None
Recorder = Callable[[Path, bytes | None], None]
Reader = Callable[[Path, int | None], bytes | None]


class WorkspaceFileSystem:
    def __init__(self, frontend: Frontend, *, before_write: Recorder, after_write: Recorder) -> None:
        self.frontend = frontend
        self.before_write = before_write
        self.after_write = after_write
        # what ``read`` last returned for a path: the text the tool's next write was made from
        self._read: dict[Path, bytes | None] = {}

    async def read(self, path: Path) -> bytes | None:
        data = await read_current(self.frontend, path, reader=confined.read_disk)
        self._read[path] = data
        return data

    async def write(self, path: Path, data: bytes, *, confirm: bool, label: str,
                    rederive: Rederive | None = None) -> bytes:
        written = await self._change(path, data, confirm=confirm, label=label, rederive=rederive)
        assert written is not None
        return written

    async def delete(self, path: Path, *, confirm: bool, label: str) -> None:
        await self._change(path, None, confirm=confirm, label=label, rederive=None)

    async def _change(self, path: Path, data: bytes | None, *, confirm: bool, label: str,
                      rederive: Rederive | None) -> bytes | None:
        # ``data`` was computed from what the tool read just before: that is the edit's base
        if path in self._read:
            base = self._read.pop(path)
        else:
            base = await read_current(self.frontend, path, max_bytes=None, reader=confined.read_disk)
        proposed: dict[Path, bytes | None] = {}
        written = await apply_changes(
            self.frontend,
            [FileEdit(path=path, old=base, new=data, rederive=rederive)],
            label=label,
            description=f"MiniCode agent: {label}",
            confirm=confirm,
            before_write=self.before_write,
            writer=confined.write_bytes,
            remover=confined.remove,
            reader=confined.read_disk,
            partial=proposed,
        )
        self.after_write(path, written[0])
        if path in proposed:
            raise PartlyAccepted(path, left_out(path, proposed[path], written[0]))
        return written[0]


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


def _current(frontend: Frontend, path: Path, reader: Reader) -> bytes | None:
    text = frontend.open_text(path)
    disk = reader(path, None)
    return disk if text is None else _encoded(text, disk)


def rederive_edit(edit: FileEdit, current: bytes | None) -> bytes | None:
    """What ``edit`` becomes on ``current``, the file as it is when the edit is applied.

    Unchanged since the edit was computed: the edit as computed. Else the edit's own
    ``rederive`` (edit_file makes its replacement again), or a three-way merge of the edit
    (base: what it was computed from) with what changed meanwhile. ``EditConflict`` when it no
    longer applies; nothing that is not the edit's own change is ever overwritten.
    """
    if current == edit.old:
        return edit.new
    shown = edit.path.name
    if edit.rederive is not None and edit.new is not None:
        return edit.rederive(current)
    if edit.new is None:
        raise EditConflict(f"{shown} changed after it was read; it was not deleted. Read it again.")
    if current is None:
        raise EditConflict(f"{shown} was deleted after it was read; nothing was written")
    if edit.old is None:
        raise EditConflict(f"{shown} was created by someone else meanwhile; nothing was written. Read it first.")
    merged = merge_three(edit.old, edit.new, current)
    if merged is None:
        raise EditConflict(
            f"{shown} changed after it was read, in the same lines this write changes; nothing was "
            "written. Read the file again and redo the change on its current content."
        )
    return merged


def merge_three(base: bytes, ours: bytes, theirs: bytes) -> bytes | None:
    """``ours`` and ``theirs`` both made from ``base``, merged line by line; None on a conflict."""
    from merge3 import Merge3

    m3 = Merge3(base.splitlines(keepends=True), ours.splitlines(keepends=True), theirs.splitlines(keepends=True))
    out: list[bytes] = []
    for group in m3.merge_groups():
        kind = group[0]
        if kind == "conflict":
            return None
        out.extend(group[1])  # unchanged / a / b / same: the lines to keep
    return b"".join(out)


def describe_change(edits: list[FileEdit]) -> str:
    """'a.py (+3 -1 lines), b.py (new, 12 lines)': the files and the size of the change."""
    parts = []
    for e in edits:
        if e.new is None:
            parts.append(f"{e.path.name} (delete)")
            continue
        new_lines = e.new.splitlines()
        if e.old is None:
            parts.append(f"{e.path.name} (new, {len(new_lines)} lines)")
            continue
        old_lines = e.old.splitlines()
        if len(old_lines) + len(new_lines) > 20000:
            parts.append(f"{e.path.name} ({len(e.new) - len(e.old):+d} bytes)")
            continue
        added = removed = 0
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False).get_opcodes():
            if tag != "equal":
                removed += i2 - i1
                added += j2 - j1
        parts.append(f"{e.path.name} (+{added} -{removed} lines)")
    return ", ".join(parts)


APPLY, DECLINE = "Apply", "Decline"


def made_of_hunks(old: bytes | None, new: bytes | None, accepted: bytes) -> bool:
    """Is ``accepted`` ``old`` with some of the changes from ``old`` to ``new`` (and nothing
    else)? Then merging ``new`` into it changes nothing but the hunks left out."""
    if new is None:
        return False
    if old is None:
        return accepted == new
    return merge_three(old, new, accepted) == new


def left_out(path: Path, proposed: bytes | None, written: bytes | None) -> str:
    """What the model hears when the user accepted only some hunks of its edit."""
    diff = unified_diff(proposed, written, path.name)
    return (f"the user accepted only some of the changes to {path.name} and rejected the rest. The file as "
            f"written (b/) differs from your proposal (a/) as follows:\n{diff}")


def unsaved_in_editor(frontend: Frontend, paths: list[Path]) -> list[Path]:
    """The paths open in the editor whose text differs from the disk (unsaved changes)."""
    out = []
    for path in paths:
        if frontend.open_text(path) is None:
            continue
        if current_bytes(frontend, path) != read_disk(path):
            out.append(path)
    return out


async def apply_changes(
    frontend: Frontend, edits: list[FileEdit], *, label: str, description: str, confirm: bool,
    before_write: Recorder | None = None,
    writer: Callable[[Path, bytes], None] = atomic_write, remover: Callable[[Path], None] = remove_file,
    reader: Reader = read_disk, partial: dict[Path, bytes | None] | None = None,
) -> list[bytes | None]:
    """Ask (ask mode), re-derive each edit on the text as it is now, then apply it: through the
    editor for open buffers of an editor that applies edits, else atomically on disk by the
    server. Returns what was written (None: deleted), in the order of ``edits``.

    Raises ``UserDeclined`` when the user refuses (or the editor does not answer), and
    ``EditConflict`` when an edit no longer applies; then nothing is written. A file that is
    not open in the editor is never sent to it: the server writes it on disk after approval.

    An editor that reviews hunk by hunk may answer with the text the user accepted of a file
    (only some of its hunks): that text is checked to be made of the edit's own hunks, then
    it is what lands (written on disk for a file that is not open, re-derived on the disk as
    it is then); ``partial`` (when given) gets each such file's full proposal.
    """
    can_edit = bool(getattr(frontend, "can_edit_buffers", True))
    # An editor that shows annotated edits for confirmation (VS Code, the Neovim plugin) gets
    # every file, open or not, as one edit to confirm; the server still writes the files that
    # were not open on disk itself once it is accepted. Any other editor gets one question
    # naming the files and the size of the change, and only edits of its open buffers.
    annotate = confirm and can_edit and frontend.supports_confirmation
    if confirm and not annotate:
        answer = await frontend.choose(
            f"MiniCode wants to {label}: {describe_change(edits)}. Apply?", [APPLY, DECLINE])
        if answer != APPLY:
            raise UserDeclined(label)
    settle = getattr(frontend, "settle", None)
    moved_on = getattr(frontend, "moved_on", None)
    paths = [e.path for e in edits]
    for attempt in (1, 2):
        if settle is not None:  # an earlier edit's didChange still on its way: give it a moment
            await settle(paths)
        # From here to sending the edit there is no await: nothing can change underneath.
        is_open = [can_edit and frontend.open_text(e.path) is not None for e in edits]
        currents = [_current(frontend, e.path, reader) for e in edits]
        results = [rederive_edit(e, cur) for e, cur in zip(edits, currents, strict=True)]
        for edit, current in zip(edits, currents, strict=True):
            if before_write is not None:
                before_write(edit.path, current)
        to_editor = [FileEdit(path=e.path, old=cur, new=new)
                     for e, cur, new, op in zip(edits, currents, results, is_open, strict=True) if op or annotate]
        if not to_editor:
            break
        landed = await frontend.apply_edits(to_editor, label=label, description=description, confirm=annotate)
        if landed:
            for i, edit in enumerate(edits):
                text = getattr(landed, "accepted", {}).get(edit.path)
                if text is None:
                    continue
                accepted = _encoded(text, currents[i])
                if accepted == results[i]:
                    continue  # every hunk accepted
                if not made_of_hunks(currents[i], results[i], accepted):
                    if is_open[i]:  # the editor applied it to its buffer: the record follows the buffer
                        log.warning("%s: the editor accepted a text that is not made of this edit's hunks", label)
                    else:
                        raise EditConflict(f"{edit.path.name}: the editor answered with a text that is not made "
                                           "of this edit's changes; nothing was written")
                if partial is not None:
                    partial[edit.path] = results[i]
                results[i] = accepted
            break
        # Refused. An editor that checks versions refuses an edit made for a version it has
        # left (the user typed, or an earlier edit's didChange is still on its way): once its
        # didChange has come, the edit is made again on that text and sent once more.
        if attempt == 1 and moved_on is not None and await moved_on([e.path for e in to_editor]):
            log.info("%s: the document changed while the edit was on its way; made again on the new text", label)
            continue
        raise UserDeclined(label)
    did_write = getattr(frontend, "did_write", None)
    for i, (edit, new, op) in enumerate(zip(edits, results, is_open, strict=True)):
        if op:
            continue
        # not open when the edit was made: the server writes the disk, on what is there now
        # (it may have changed while the user looked at the edit)
        # (a text accepted in part is merged: the edit's own rederive would bring back every hunk)
        again = None if partial is not None and edit.path in partial else edit.rederive
        new = rederive_edit(FileEdit(path=edit.path, old=currents[i], new=new, rederive=again),
                            reader(edit.path, None))
        results[i] = new
        if new is None:
            remover(edit.path)
        else:
            writer(edit.path, new)
        if did_write is not None:
            did_write(edit.path, new)
    return results
