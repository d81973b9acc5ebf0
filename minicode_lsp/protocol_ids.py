"""The wire contract's names and numbers: command ids, notification methods, event types,
enumerations and error codes. Plain constants, no pydantic: the server's startup imports only
this (the argument models in ``protocol.py`` load with the first command). ``protocol.py``
re-exports every name here, so ``from minicode_lsp import protocol as p; p.CMD_TASK_RUN`` works.
"""

from __future__ import annotations

from typing import Literal

# --------------------------------------------------------------------------- commands
CMD_TASK_RUN = "minicode.task.run"
CMD_TASK_CANCEL = "minicode.task.cancel"
CMD_SESSION_LIST = "minicode.session.list"
CMD_SESSION_SHOW = "minicode.session.show"
CMD_SESSION_REPLAY = "minicode.session.replay"
CMD_SESSION_SUMMARIZE = "minicode.session.summarize"
CMD_SESSION_EXPORT = "minicode.session.export"
CMD_SESSION_DELETE = "minicode.session.delete"
CMD_CHECKPOINT_LIST = "minicode.checkpoint.list"
CMD_REWIND_PREVIEW = "minicode.rewind.preview"
CMD_REWIND_APPLY = "minicode.rewind.apply"
CMD_REWIND_UNDO = "minicode.rewind.undo"
CMD_READINESS = "minicode.readiness"
CMD_MEMORY_SHOW = "minicode.memory.show"
CMD_MEMORY_ADD = "minicode.memory.add"
CMD_MEMORY_REMOVE = "minicode.memory.remove"
CMD_MEMORY_ACCEPT = "minicode.memory.accept"
CMD_WORKSPACE_TRUST = "minicode.workspace.trust"

COMMAND_IDS: tuple[str, ...] = (
    CMD_TASK_RUN,
    CMD_TASK_CANCEL,
    CMD_SESSION_LIST,
    CMD_SESSION_SHOW,
    CMD_SESSION_REPLAY,
    CMD_SESSION_SUMMARIZE,
    CMD_SESSION_EXPORT,
    CMD_SESSION_DELETE,
    CMD_CHECKPOINT_LIST,
    CMD_REWIND_PREVIEW,
    CMD_REWIND_APPLY,
    CMD_REWIND_UNDO,
    CMD_READINESS,
    CMD_MEMORY_SHOW,
    CMD_MEMORY_ADD,
    CMD_MEMORY_REMOVE,
    CMD_MEMORY_ACCEPT,
    CMD_WORKSPACE_TRUST,
)

# ---------------------------------------------------------------- notifications (server -> client)
NOTIFY_EVENT = "minicode/event"
NOTIFY_READINESS = "minicode/readiness"
NOTIFY_SESSIONS = "minicode/sessions"

NOTIFICATIONS: tuple[str, ...] = (NOTIFY_EVENT, NOTIFY_READINESS, NOTIFY_SESSIONS)

# An extension field of the client's ``workspace/applyEdit`` result: {uri: the whole text the
# user accepted} for each file of which a per-hunk review accepted only some hunks.
APPLY_EDIT_ACCEPTED_TEXT = "minicodeAcceptedText"

# ----------------------------------------------------------------------------- event types
EV_TURN_STARTED = "turn.started"
EV_TEXT_DELTA = "text.delta"
EV_TOOL_STARTED = "tool.started"
EV_TOOL_FINISHED = "tool.finished"
EV_FILES_CHANGED = "files.changed"
EV_APPROVAL_REQUESTED = "approval.requested"
EV_PROVIDER_FALLBACK = "provider.fallback"
EV_TURN_FINISHED = "turn.finished"
EV_ERROR = "error"
EV_CONTEXT_USAGE = "context.usage"
EV_CONTEXT_COMPACTED = "context.compacted"
EV_MEMORY_INJECTED = "memory.injected"
EV_MODE_CHANGED = "mode.changed"  # the session's permission mode was set (ACP set_mode); turnId null
EV_THOUGHT_DELTA = "thought.delta"
EV_MODEL_WAITING = "model.waiting"

EVENT_TYPES: tuple[str, ...] = (
    EV_TURN_STARTED,
    EV_TEXT_DELTA,
    EV_TOOL_STARTED,
    EV_TOOL_FINISHED,
    EV_FILES_CHANGED,
    EV_APPROVAL_REQUESTED,
    EV_PROVIDER_FALLBACK,
    EV_TURN_FINISHED,
    EV_ERROR,
    EV_CONTEXT_USAGE,
    EV_CONTEXT_COMPACTED,
    EV_MEMORY_INJECTED,
    EV_MODE_CHANGED,
    EV_THOUGHT_DELTA,
    EV_MODEL_WAITING,
)

# --------------------------------------------------------------------------- enumerations
StopReason = Literal[
    "done",
    "max_steps",
    "cancelled",
    "await_user",
    "blocked",
    "provider_error",
    "verification_failed",
    "context_exhausted",
    "interrupted",
]
STOP_REASONS: tuple[str, ...] = (
    "done",
    "max_steps",
    "cancelled",
    "await_user",
    "blocked",
    "provider_error",
    "verification_failed",
    "context_exhausted",
    "interrupted",
)
# Each stop reason as a user reads it: the CLI, the VS Code and Neovim chat views say the same
STOP_LABELS: dict[str, str] = {
    "done": "done",
    "max_steps": "step budget used up",
    "cancelled": "cancelled",
    "await_user": "waiting for you",
    "blocked": "blocked",
    "provider_error": "provider error",
    "verification_failed": "not verified",
    "context_exhausted": "context exhausted",
    "interrupted": "interrupted",
}
Profile = Literal["single", "single-deep"]
PermissionMode = Literal["ask", "auto", "plan"]
ReadinessState = Literal["ready", "degraded", "blocked"]
CheckStatus = Literal["ok", "warn", "fail"]
GroupKind = Literal["edit", "shell", "rewind"]
FileAction = Literal["create", "modify", "delete"]
RewindAction = Literal["restore", "delete", "recreate"]
RewindStatus = Literal["clean", "merged", "conflict", "skipped"]
SessionChange = Literal["created", "updated", "deleted"]
MemoryScope = Literal["project", "user"]
ExportFormat = Literal["markdown", "jsonl"]

# JSON-RPC error codes used by the server (LSP reserves -32899..-32800 for itself).
ERR_INVALID_PARAMS = -32602
ERR_UNKNOWN_SESSION = -32001
ERR_AMBIGUOUS_ID = -32002
ERR_STALE_PREVIEW = -32003
ERR_BUSY = -32004
ERR_NOT_FOUND = -32005
ERR_OUTSIDE_WORKSPACE = -32006
ERR_NOT_READY = -32007  # no store, or no provider that can run: minicode.readiness says why
