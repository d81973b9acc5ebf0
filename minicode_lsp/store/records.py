"""The store's record types: what its modules return to the service (sessions, turns,
tool calls, events, edit groups and their files, memory entries), and the one time helper.

A leaf module: it imports nothing of the store, so every store module (and the service)
can use these types without importing each other. Times are epoch seconds, in the
database (every ``*_at`` column is REAL) and in the records; :func:`iso` is the one helper
that gives the ISO-8601 UTC text the wire carries (:func:`file_stamp`: the time in a file name).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

GroupKind = Literal["edit", "shell", "rewind"]
# a persisted stat-cache row of a shell snapshot (store/shell_state.py):
# (rel, size, mtime_ns, inode, sha, mode, ctime_ns)
StateRow = tuple[str, int, int, int, str | None, int, int]
FileAction = Literal["create", "modify", "delete"]


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> ISO-8601 UTC with milliseconds and a ``Z``."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def file_stamp() -> str:
    """The time now for a file name (local time, to the second): ``20260102T030405``."""
    return time.strftime("%Y%m%dT%H%M%S")


def estimate_tokens(text: str) -> int:
    """A provider-independent estimate: about four characters per token."""
    return max(1, math.ceil(len(text) / 4))


# ------------------------------------------------------------------ sessions
@dataclass
class SessionRow:
    id: str
    title: str
    workspace: str
    created_at: float
    updated_at: float
    turns: int
    last_stop_reason: str | None


@dataclass
class ToolCallRow:
    turn_id: str
    tool_call_id: str
    name: str
    arguments: dict[str, Any]
    is_error: bool
    summary: str


@dataclass
class TurnRow:
    id: str
    session_id: str
    seq: int
    prompt: str
    profile: str
    permission_mode: str
    status: str  # running | finished | interrupted
    stop_reason: str | None
    usage: dict[str, Any]
    provider: str
    pid: int | None
    started_at: float
    finished_at: float | None
    error: str | None
    tool_calls: list[ToolCallRow] = field(default_factory=list)


@dataclass
class EventRow:
    session_id: str
    seq: int
    turn_id: str | None
    type: str
    data: dict[str, Any]
    at: float


# ---------------------------------------------------------------- checkpoints
@dataclass(frozen=True)
class GroupFile:
    path: str
    action: FileAction
    pre_sha: str | None  # None: the file was absent (or skipped)
    post_sha: str | None  # None: absent, or unknown when not post_known
    skipped_reason: str | None = None
    post_known: bool = True
    pre_kind: str = "file"  # file | link (the image is its target) | dir (no image)
    post_kind: str = "file"
    pre_mode: int | None = None  # permission bits; None: absent or not recorded
    post_mode: int | None = None

    @property
    def uri(self) -> str:
        return Path(self.path).as_uri()


@dataclass(frozen=True)
class Group:
    id: str
    session_id: str | None
    turn_id: str | None
    tool_call_id: str | None
    kind: GroupKind
    label: str
    created_at: float
    ordinal: int
    status: Literal["open", "closed"]
    rewound_by: str | None = None
    files: tuple[GroupFile, ...] = ()


# --------------------------------------------------------------------- memory
@dataclass
class MemoryEntry:
    id: str
    text: str
    scope: str
    tags: list[str]
    created_at: float
    source_session: str | None
    status: str  # active | proposed
    _words: frozenset[str] = field(default_factory=frozenset, repr=False, compare=False)

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text)
