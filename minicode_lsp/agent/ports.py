"""Ports: what the agent needs from the world, implemented by the service and the LSP bridge.

The agent imports nothing else of the package; the service hands it objects that satisfy
these protocols. Paths given to ports are absolute, already resolved and confined by
``agent.tools.paths`` (the workspace roots, never ``.git`` or the store).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

ApprovalDecision = Literal["once", "session", "deny"]
GroupKind = Literal["edit", "shell"]


class UserDeclined(Exception):
    """The user declined an edit or a command (ask mode)."""


class PartlyAccepted(Exception):
    """The user accepted only some hunks of an edit (a per-hunk review): what they accepted was
    written and checkpointed; the message says what of the proposal was left out."""

    def __init__(self, path: Path, message: str) -> None:
        super().__init__(message)
        self.path = path


class EditConflict(Exception):
    """The file changed between the computation of an edit and its application, and the edit
    no longer applies to what is there now; nothing was written. The message says why."""


# Given the file's bytes at the moment an edit is applied (None: absent), the bytes to write
# there; raises ``EditConflict`` when the edit no longer applies.
Rederive = Callable[[bytes | None], bytes]


class FileSystem(Protocol):
    """Buffer-aware file access.

    ``read`` returns the open editor buffer's text (encoded back to bytes in the file's
    encoding) when the file is open, else the disk bytes; ``None`` when the file does not
    exist. ``write`` sends a versioned ``workspace/applyEdit`` for open documents and writes
    atomically on disk otherwise; with ``confirm`` the edit needs the user's confirmation and
    ``UserDeclined`` is raised when they refuse. The implementation records the pre-image of
    every path it touches in the checkpoint group that is open at the time.

    ``data`` was computed from what ``read`` returned just before; if the file changed by the
    time the edit is applied (the user typed while the approval prompt was open, the editor's
    change for an earlier edit arrived late), the edit is re-derived from the file as it is
    then: by ``rederive`` when given, else by a three-way merge; ``EditConflict`` when it no
    longer applies. ``write`` returns the bytes actually written; when the user accepted only
    some hunks of the edit, it raises ``PartlyAccepted`` after writing what they accepted.
    """

    async def read(self, path: Path) -> bytes | None: ...

    async def write(self, path: Path, data: bytes, *, confirm: bool, label: str,
                    rederive: Rederive | None = None) -> bytes: ...

    async def delete(self, path: Path, *, confirm: bool, label: str) -> None: ...


class Approver(Protocol):
    """Asks the user to allow a shell command (ask mode)."""

    async def approve_command(self, command: str, cwd: Path) -> ApprovalDecision: ...


class EventSink(Protocol):
    """Receives agent events (``minicode/event`` types); the service numbers and stores them."""

    async def emit(self, type: str, data: dict[str, Any]) -> None: ...


@dataclass
class ChangedFile:
    path: Path
    action: Literal["create", "modify", "delete"]


@dataclass
class GroupResult:
    group_id: str
    files: list[ChangedFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class Checkpoints(Protocol):
    """Opens and closes one edit group around each tool call that may change files.

    ``begin(kind="edit")`` is cheap (pre-images are recorded by the FileSystem as it writes);
    ``begin(kind="shell")`` snapshots the workspace, and ``end`` compares after the command.
    ``end`` returns ``None`` when nothing changed.
    """

    async def begin(self, *, tool_call_id: str, tool: str, kind: GroupKind, label: str) -> None: ...

    async def end(self) -> GroupResult | None: ...


@dataclass
class Ports:
    fs: FileSystem
    approver: Approver
    events: EventSink
    checkpoints: Checkpoints
    # Workspace roots (resolved); the first is the default cwd. Paths outside are refused.
    roots: list[Path]
    # Absolute paths the file tools must never touch besides ``.git`` (e.g. the store).
    forbidden: list[Path] = field(default_factory=list)
    # Globs on file names the file tools never read or write (agent.secretFiles).
    secret_files: list[str] = field(default_factory=list)
    # Environment for run_command: already stripped of provider API keys by the service.
    command_env: dict[str, str] | None = None
    # Tools beyond the built-in ones (``agent.tools.registry.Tool``, kind "external" or "read"):
    # the user's MCP servers' tools, named ``mcp__<server>__<tool>``.
    tools: list[Any] = field(default_factory=list)
    # The longest a run_command may run (``agent.commandTimeoutS``); also its default.
    command_timeout_s: float | None = None
    # The turn's ``agent.tools.run_command.CommandProcesses``: processes a command leaves behind
    # live until the turn ends (the service ends them). None: they end with the command.
    processes: Any = None
    # Which of these paths are open in the editor with unsaved text (the buffer differs from the
    # disk): a command run then reads the old file. None: the frontend cannot tell.
    unsaved: Callable[[list[Path]], list[Path]] | None = None
    # Files the agent's edits changed in this session's earlier turns (not rewound): a command
    # run while one of them is unsaved in the editor warns like one of this turn's.
    edited_before: list[Path] = field(default_factory=list)
