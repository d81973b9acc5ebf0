"""The editor as the service sees it: open buffers, edits, notifications, questions, progress.

The LSP bridge implements it over pygls; ``HeadlessFrontend`` implements it for the CLI
(no open buffers, edits straight to disk, questions on the terminal when there is one).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..agent.fileio import atomic_write
from ..store.diffs import unified_diff
from .diskio import remove_file

log = logging.getLogger(__name__)


@dataclass
class FileEdit:
    """Replace a file's content (``new`` None deletes it; ``old`` None means it is absent now)."""

    path: Path
    old: bytes | None
    new: bytes | None
    # remakes the edit on the file's content at the moment it is applied (see agent.ports.Rederive)
    rederive: Callable[[bytes | None], bytes] | None = None


@dataclass(frozen=True)
class EditAnswer:
    """An editor's answer to an edit: true when it was applied, whole or in part. ``accepted``
    holds, for each file the user accepted only some hunks of, the whole text they accepted
    (a plain ``True`` from ``apply_edits`` means every file as proposed)."""

    applied: bool
    accepted: dict[Path, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.applied


class Frontend(Protocol):
    @property
    def supports_confirmation(self) -> bool:
        """The editor can ask the user to confirm an annotated edit (LSP change annotations)."""
        ...

    def open_text(self, path: Path) -> str | None:
        """The open buffer's text, or None when the file is not open in the editor."""
        ...

    async def apply_edits(
        self, edits: list[FileEdit], *, label: str, description: str, confirm: bool
    ) -> bool | EditAnswer:
        """Apply edits to open buffers through the editor (``old``: the buffer's content now);
        False when the user declined or the editor did not apply them; an ``EditAnswer`` with
        ``accepted`` when the user accepted only part of a file's change (per-hunk review). Optional members
        (looked up with getattr): ``can_edit_buffers`` (False: the server writes the disk even
        for open files), ``settle(paths)`` (wait, bounded, for the editor's echo of an earlier
        edit), ``did_write(path, data)`` (the server wrote an open file on disk)."""
        ...

    def publish(self, method: str, payload: dict[str, Any]) -> None: ...

    def notify_user(self, message: str) -> None:
        """A failure the user must act on (window/showMessage); nothing else goes here."""
        ...

    async def choose(self, message: str, actions: list[str]) -> str | None: ...

    async def show_document(self, path: Path) -> bool: ...

    async def progress_begin(self, key: str, title: str, message: str) -> Any: ...

    def progress_report(self, key: str, message: str) -> None: ...

    def progress_end(self, key: str, message: str) -> None: ...


class Asker(Protocol):
    """Asks the person at the terminal (``console.TerminalPrompt``): "yes", "no" or "always"."""

    async def ask(self, question: str, *, diff: str = "") -> str: ...


def _shown(path: Path, root: Path | None) -> str:
    try:
        return str(path.relative_to(root or Path.cwd()))
    except ValueError:
        return str(path)


class NoDocumentsNoProgress:
    """The part of the port a frontend with no documents to open and no progress UI shares
    (the CLI, ACP): every call is a no-op."""

    async def show_document(self, path: Path) -> bool:
        return False

    async def progress_begin(self, key: str, title: str, message: str) -> Any:
        return None

    def progress_report(self, key: str, message: str) -> None:
        pass

    def progress_end(self, key: str, message: str) -> None:
        pass


class HeadlessFrontend(NoDocumentsNoProgress):
    """For ``minicode-lsp run`` and the other CLI commands: the disk is the only truth.

    ``asker``: the terminal prompt; with it, edits are confirmed here with their diff shown
    (and "always" approves the session's later edits), and questions are yes/no/always."""

    def __init__(self, *, interactive: bool | None = None, on_publish: Any = None, asker: Asker | None = None,
                 root: Path | None = None) -> None:
        self.root = root
        self.interactive = (sys.stdin.isatty() if interactive is None else interactive) or asker is not None
        self.on_publish = on_publish
        self.asker = asker
        self.edits_approved = False  # "always for this session" was answered to an edit

    @property
    def supports_confirmation(self) -> bool:
        return self.asker is not None

    def open_text(self, path: Path) -> str | None:
        return None

    async def apply_edits(
        self, edits: list[FileEdit], *, label: str, description: str, confirm: bool
    ) -> bool:
        """``confirm``: only the question (with the diff); the caller writes the files, as it
        does for an editor's files that are not open (here none ever is). Without it: write."""
        if confirm:
            if self.edits_approved:
                return True
            names = ", ".join(e.path.name for e in edits)
            if self.asker is None:
                return await self.choose(f"{label}: apply changes to {names}?", ["Apply", "Decline"]) == "Apply"
            diff = "".join(unified_diff(e.old, e.new, _shown(e.path, self.root)) for e in edits)
            answer = await self.asker.ask(f"{label}: apply the change to {names}?", diff=diff)
            if answer == "always":
                self.edits_approved = True
            return answer in ("yes", "always")
        for edit in edits:
            if edit.new is None:
                remove_file(edit.path)
            else:
                atomic_write(edit.path, edit.new)
        return True

    def publish(self, method: str, payload: dict[str, Any]) -> None:
        if self.on_publish is not None:
            self.on_publish(method, payload)

    def notify_user(self, message: str) -> None:
        pass  # the CLI prints the stop reason and error itself

    async def choose(self, message: str, actions: list[str]) -> str | None:
        if not self.interactive:
            log.warning("no terminal to ask %r; answering no", message)
            return None
        if self.asker is not None:
            no = next((a for a in actions if a.lower().startswith(("deny", "decline", "no", "cancel"))), None)
            always = next((a for a in actions if "session" in a.lower() or "always" in a.lower()), None)
            if no is not None and actions[0] != no:
                answer = await self.asker.ask(message)
                if answer == "always":
                    return always or actions[0]
                return actions[0] if answer == "yes" else no
        sys.stderr.write(f"{message} [{'/'.join(actions)}] ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        for action in actions:
            if answer and action.lower().startswith(answer):
                return action
        return None

