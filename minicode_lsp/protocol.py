"""The wire contract: every command's arguments AND result, the notification payloads, the
event types and their ``data``, and the error codes (names and numbers in ``protocol_ids.py``).

This module is the one source. ``python -m minicode_lsp.contract_gen`` (``make contract``)
writes ``editors/vscode/src/protocol.ts``, ``editors/neovim/lua/minicode/protocol.lua`` and the
command, event and notification tables of ``docs/protocol.md`` from it; ``tests/contract``
regenerates them and compares byte for byte.

Everything on the wire is camelCase; the models accept either spelling. A result is sent with
the fields the service set (``Result.wire()``): a field with a default may be absent.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from .protocol_ids import *  # noqa: F403  (re-exported: the contract's names)
from .protocol_ids import (
    CMD_CHECKPOINT_LIST,
    CMD_MEMORY_ACCEPT,
    CMD_MEMORY_ADD,
    CMD_MEMORY_REMOVE,
    CMD_MEMORY_SHOW,
    CMD_READINESS,
    CMD_REWIND_APPLY,
    CMD_REWIND_PREVIEW,
    CMD_REWIND_UNDO,
    CMD_SESSION_DELETE,
    CMD_SESSION_EXPORT,
    CMD_SESSION_LIST,
    CMD_SESSION_REPLAY,
    CMD_SESSION_SHOW,
    CMD_SESSION_SUMMARIZE,
    CMD_TASK_CANCEL,
    CMD_TASK_RUN,
    CMD_WORKSPACE_TRUST,
    EV_APPROVAL_REQUESTED,
    EV_CONTEXT_COMPACTED,
    EV_CONTEXT_USAGE,
    EV_ERROR,
    EV_FILES_CHANGED,
    EV_MEMORY_INJECTED,
    EV_MODE_CHANGED,
    EV_MODEL_WAITING,
    EV_PROVIDER_FALLBACK,
    EV_TEXT_DELTA,
    EV_THOUGHT_DELTA,
    EV_TOOL_FINISHED,
    EV_TOOL_STARTED,
    EV_TURN_FINISHED,
    EV_TURN_STARTED,
    NOTIFY_EVENT,
    NOTIFY_READINESS,
    NOTIFY_SESSIONS,
    CheckStatus,
    ExportFormat,
    FileAction,
    GroupKind,
    MemoryScope,
    PermissionMode,
    Profile,
    ReadinessState,
    RewindAction,
    RewindStatus,
    SessionChange,
    StopReason,
)

GroupStatus = Literal["open", "closed"]
TurnStatus = Literal["running", "finished", "interrupted"]
MemoryStatus = Literal["active", "proposed"]
ApprovalKind = Literal["edit", "command"]


class Model(BaseModel):
    """Base of every wire model: camelCase aliases, either spelling accepted."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class StrictArgs(Model):
    """Command arguments: unknown fields are ignored, wrong types are errors naming the field."""


class Result(Model):
    """A command's result (or a notification's payload): sent with the fields that were set."""

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_unset=True, mode="json")


# ------------------------------------------------------------------------------ arguments
class Position(Model):
    line: int
    character: int


class Range(Model):
    start: Position
    end: Position


class TaskContext(Model):
    uri: str | None = None
    range: Range | None = None
    diagnostics: list[dict[str, Any]] = Field(default_factory=list)
    selection_text: str | None = None
    # Files the user mentioned (`@path` in a chat prompt): file URIs; those outside the
    # workspace are left out of the model's context note.
    files: list[str] = Field(default_factory=list, max_length=100)


class TaskRunArgs(StrictArgs):
    prompt: str = Field(min_length=1, description="non-empty")
    session_id: str | None = Field(default=None, description="resume, any unique prefix")
    context: TaskContext | None = None
    profile: Profile | None = None
    permission_mode: PermissionMode | None = None
    show_result: bool = Field(default=False, description="open the answer as a markdown document")


class SessionIdArgs(StrictArgs):
    session_id: str = Field(min_length=1)


class OptionalSessionArgs(StrictArgs):
    session_id: str | None = None


class SessionListArgs(StrictArgs):
    limit: int = Field(default=50, ge=1, le=1000, description="1-1000, default 50")
    cursor: str | None = None
    query: str | None = Field(default=None, description="text in titles and prompts")


class SessionReplayArgs(SessionIdArgs):
    from_seq: int = Field(default=0, ge=0)
    before_seq: int | None = Field(default=None, ge=1, description="only events with seq < beforeSeq")
    limit: int | None = Field(default=None, ge=1, le=100_000,
                              description="at most this many events, the newest of those asked for (a page)")


class SessionShowArgs(SessionIdArgs):
    open_document: bool = Field(default=False, description="open the transcript with window/showDocument")


class SessionExportArgs(SessionIdArgs):
    format: ExportFormat = Field(default="markdown", description="default markdown")


class CheckpointListArgs(StrictArgs):
    session_id: str | None = None
    uri: str | None = None
    limit: int = Field(default=200, ge=1, le=10000)


class RewindTarget(Model):
    """Exactly one field is set. Ids: any unique prefix, any case."""

    latest: bool | None = None
    steps: int | None = Field(default=None, ge=1)
    group_id: str | None = None
    turn_id: str | None = None
    session: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RewindTarget:
        given = [
            name
            for name in ("latest", "steps", "group_id", "turn_id", "session")
            if getattr(self, name) not in (None, False)
        ]
        if len(given) != 1:
            raise ValueError("target needs exactly one of latest, steps, groupId, turnId, session")
        return self


class RewindPreviewArgs(StrictArgs):
    session_id: str | None = Field(default=None, description="default: the newest session")
    target: RewindTarget = Field(default_factory=lambda: RewindTarget(latest=True),
                                 description="exactly one of latest, steps, groupId, turnId, session; default latest")
    uris: list[str] | None = None
    show_document: bool = Field(default=False, description="also open the diff as a document")


class RewindApplyArgs(RewindPreviewArgs):
    preview_id: str | None = Field(default=None, description="a preview's id, or the same fields as preview")
    force: bool = Field(default=False, description="write conflict markers")


class ReadinessArgs(StrictArgs):
    probe: bool = Field(default=False, description="re-probe providers now")


class MemoryShowArgs(StrictArgs):
    scope: MemoryScope | None = None


class MemoryAddArgs(StrictArgs):
    text: str = Field(min_length=1)
    scope: MemoryScope = Field(default="project", description="default project")
    tags: list[str] = Field(default_factory=list)


class MemoryRemoveArgs(StrictArgs):
    id: str = Field(min_length=1, description="any unique prefix")


class MemoryAcceptArgs(StrictArgs):
    """Accept a reflection proposal as a memory entry."""

    id: str = Field(min_length=1, description="any unique prefix")


class WorkspaceTrustArgs(StrictArgs):
    """Allow the workspace's .minicode.toml as it is now. With ``sha256`` (the hash the user was
    shown) it is recorded only if the file still has that content; without it the server asks
    the user first, showing the settings the allow would enable."""

    sha256: str | None = Field(default=None, description="the content hash the user was shown")


# -------------------------------------------------------------------------------- results
class TaskRunResult(Result):
    session_id: str
    turn_id: str


class TaskCancelResult(Result):
    cancelled: bool


class SessionSummary(Result):
    """A session as ``minicode.session.list`` lists it. Times are ISO-8601 UTC strings."""

    id: str
    title: str
    created_at: str
    updated_at: str
    turn_count: int
    last_stop_reason: StopReason | None = None
    workspace: str


class SessionListResult(Result):
    sessions: list[SessionSummary]
    next_cursor: str | None = None


class ToolCall(Result):
    """A tool call of a turn, as recorded when it finished."""

    id: str
    name: str
    arguments: dict[str, Any]
    is_error: bool
    summary: str


class GroupFile(Result):
    uri: str
    path: str
    action: FileAction
    skipped: str | None = Field(default=None, description="why the change was not recorded")


class EditGroup(Result):
    """A checkpoint group: the files one tool call (or one rewind) changed, with their pre-images."""

    id: str
    session_id: str | None
    turn_id: str | None = Field(description="null for groups outside a turn (a rewind's safety group)")
    tool_call_id: str | None
    kind: GroupKind
    label: str
    created_at: str
    status: GroupStatus
    rewound: bool = Field(description="whether a rewind has undone this group")
    files: list[GroupFile]


class Usage(Result):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None


class TurnInfo(Result):
    id: str
    seq: int
    prompt: str
    profile: str
    permission_mode: str
    status: TurnStatus
    stop_reason: StopReason | None
    tool_calls: list[ToolCall]
    groups: list[EditGroup] = Field(description="the turn's edit groups, oldest first")
    usage: Usage
    provider: str
    started_at: str
    finished_at: str | None
    error: str | None


class SessionDetail(SessionSummary):
    """``minicode.session.show``: the whole tree of a session."""

    running: bool
    turns: list[TurnInfo]
    safety_groups: list[EditGroup] = Field(
        description="the groups outside any turn (the safety groups rewinds leave, themselves rewindable), oldest first")
    document_uri: str | None = Field(default=None, description="the transcript, with openDocument")


class ReplayEvent(Result):
    seq: int
    turn_id: str | None = Field(description="null for events outside a turn (mode.changed)")
    type: str = Field(description="one of EventTypes")
    data: dict[str, Any]
    at: float = Field(default=0.0, description="epoch seconds (always sent)")


class SessionReplayResult(Result):
    events: list[ReplayEvent]
    older: bool | None = Field(default=None, description="with limit: older events asked for were left out "
                               "(fetch them with beforeSeq = the first event's seq)")
    turn_started: ReplayEvent | None = Field(default=None, description="with limit: the turn.started event of the "
                                             "page's first turn, when the page begins after it (its prompt)")


class SessionSummarizeResult(Result):
    markdown: str
    model_summary: bool = Field(description="a summary written by the configured model is included")


class SessionExportResult(Result):
    content: str
    format: ExportFormat


class EmptyResult(Result):
    pass


class CheckpointListResult(Result):
    groups: list[EditGroup] = Field(description="newest first")


class RewindFile(Result):
    uri: str
    path: str
    action: RewindAction
    status: RewindStatus
    diff: str = Field(description="unified diff, current -> restored")
    will_apply: bool = Field(description="false when the file is left out (a conflict without force)")
    reason: str | None = None
    new_text: str | None = Field(default=None, description="the restored text (absent when the rewind deletes the file)")


class RewindPreview(Result):
    preview_id: str
    session_id: str | None
    files: list[RewindFile]
    groups: list[str] = Field(description="the ids of the groups the rewind undoes")
    conflicts: int
    document_uri: str | None = Field(default=None, description="the diff, with showDocument")


class RewindApplied(Result):
    applied: bool
    safety_group_id: str | None
    files: list[RewindFile] = Field(default_factory=list)
    reason: str | None = None


class RewindUndone(Result):
    applied: bool
    restored_group_id: str
    files: list[RewindFile] = Field(default_factory=list)
    reason: str | None = None


class ReadinessCheck(Model):
    name: str
    status: CheckStatus
    detail: str = ""
    fix: str = ""


class ProviderStatus(Model):
    name: str
    kind: str
    model: str
    base_url: str
    status: CheckStatus
    detail: str = ""


class ReadinessReport(Model):
    state: ReadinessState
    checks: list[ReadinessCheck] = Field(default_factory=list)
    providers: list[ProviderStatus] = Field(default_factory=list)
    fallback: list[str] = Field(default_factory=list)


class MemoryEntry(Result):
    id: str
    text: str
    scope: MemoryScope
    tags: list[str]
    created_at: str
    source_session: str | None
    status: MemoryStatus = Field(description="proposed: by reflection, not used until accepted")


class MemoryListResult(Result):
    entries: list[MemoryEntry] = Field(description="newest first")


class MemoryEntryResult(Result):
    entry: MemoryEntry


class MemoryRemoveResult(Result):
    removed: bool


class WorkspaceTrustResult(Result):
    path: str
    sha256: str
    trusted: bool
    settings: list[str] = Field(description="what the allow enables")
    reason: str | None = None


# ---------------------------------------------------------------------------- notifications
class MinicodeEvent(ReplayEvent):
    """A ``minicode/event`` notification."""

    session_id: str



class SessionsChanged(Result):
    """A ``minicode/sessions`` notification."""

    session_id: str
    change: SessionChange


NOTIFICATION_PAYLOADS: dict[str, type[BaseModel]] = {
    NOTIFY_EVENT: MinicodeEvent,
    NOTIFY_READINESS: ReadinessReport,
    NOTIFY_SESSIONS: SessionsChanged,
}


# ------------------------------------------------------------------------------ event data
class TurnStartedData(Result):
    prompt: str
    profile: str
    permission_mode: str
    instruction_sources: list[str] = Field(default_factory=list)


class TextData(Result):
    """``text.delta``: answer text; ``thought.delta``: the model's reasoning (show it folded; never
    part of the answer)."""

    text: str


class ToolStartedData(Result):
    tool_call_id: str
    name: str
    arguments: dict[str, Any]


class ToolFinishedData(Result):
    tool_call_id: str
    name: str
    is_error: bool
    summary: str
    output: str = Field(description="the first 4,000 characters")
    unsaved_files: list[str] | None = Field(
        default=None, description="files the agent's edits changed in this session that were unsaved in the editor when a command ran")
    declined: bool | None = Field(
        default=None, description="true: the user declined this call (ask mode), nothing ran; not a failure of the tool")


class ChangedFile(Result):
    uri: str
    action: FileAction


class FilesChangedData(Result):
    group_id: str
    uris: list[str]
    files: list[ChangedFile]
    skipped: list[str] | None = None


class ApprovalRequestedData(Result):
    tool_call_id: str
    name: str
    kind: ApprovalKind
    path: str | None = None
    command: str | None = None
    cwd: str | None = None


class ProviderFallbackData(Result):
    from_provider: str
    to_provider: str
    reason: str


class ContextUsageData(Result):
    """One per model request."""

    estimated_tokens: int
    window: int
    ratio: float = Field(description="estimatedTokens / window")


class ContextCompactedData(Result):
    dropped_messages: int
    covered_messages: int
    summary_tokens: int
    method: Literal["model", "fallback"]
    reason: Literal["threshold", "context_too_long"]
    before_tokens: int
    after_tokens: int


class MemoryInjectedData(Result):
    entries: list[MemoryEntry]


class ModeChangedData(Result):
    """The session's permission mode was set from an ACP client (turnId null)."""

    mode: PermissionMode


class ModelWaitingData(Result):
    """Every 5 s while the model has not sent the first byte of its reply."""

    seconds: int
    provider: str


class TurnFinishedData(Result):
    stop_reason: StopReason
    usage: Usage
    text: str
    provider: str | None
    error: str | None
    steps: int
    files_changed: list[str]
    working_memory: dict[str, Any] | None = Field(
        default=None, description="the task's state the next turn of the session starts from")
    memory_proposals: list[MemoryEntry] | None = Field(
        default=None, description="entries reflection stored as proposed (see minicode.memory.accept)")


class ErrorData(Result):
    message: str
    hint: str | None = None
    status: int | None = None


EVENT_DATA: dict[str, type[Result]] = {
    EV_TURN_STARTED: TurnStartedData,
    EV_TEXT_DELTA: TextData,
    EV_TOOL_STARTED: ToolStartedData,
    EV_TOOL_FINISHED: ToolFinishedData,
    EV_FILES_CHANGED: FilesChangedData,
    EV_APPROVAL_REQUESTED: ApprovalRequestedData,
    EV_PROVIDER_FALLBACK: ProviderFallbackData,
    EV_TURN_FINISHED: TurnFinishedData,
    EV_ERROR: ErrorData,
    EV_CONTEXT_USAGE: ContextUsageData,
    EV_CONTEXT_COMPACTED: ContextCompactedData,
    EV_MEMORY_INJECTED: MemoryInjectedData,
    EV_MODE_CHANGED: ModeChangedData,
    EV_THOUGHT_DELTA: TextData,
    EV_MODEL_WAITING: ModelWaitingData,
}


# ------------------------------------------------------------------------------- commands
COMMANDS: dict[str, tuple[type[StrictArgs], type[BaseModel]]] = {
    CMD_TASK_RUN: (TaskRunArgs, TaskRunResult),
    CMD_TASK_CANCEL: (SessionIdArgs, TaskCancelResult),
    CMD_SESSION_LIST: (SessionListArgs, SessionListResult),
    CMD_SESSION_SHOW: (SessionShowArgs, SessionDetail),
    CMD_SESSION_REPLAY: (SessionReplayArgs, SessionReplayResult),
    CMD_SESSION_SUMMARIZE: (SessionIdArgs, SessionSummarizeResult),
    CMD_SESSION_EXPORT: (SessionExportArgs, SessionExportResult),
    CMD_SESSION_DELETE: (SessionIdArgs, EmptyResult),
    CMD_CHECKPOINT_LIST: (CheckpointListArgs, CheckpointListResult),
    CMD_REWIND_PREVIEW: (RewindPreviewArgs, RewindPreview),
    CMD_REWIND_APPLY: (RewindApplyArgs, RewindApplied),
    CMD_REWIND_UNDO: (OptionalSessionArgs, RewindUndone),
    CMD_READINESS: (ReadinessArgs, ReadinessReport),
    CMD_MEMORY_SHOW: (MemoryShowArgs, MemoryListResult),
    CMD_MEMORY_ADD: (MemoryAddArgs, MemoryEntryResult),
    CMD_MEMORY_REMOVE: (MemoryRemoveArgs, MemoryRemoveResult),
    CMD_MEMORY_ACCEPT: (MemoryAcceptArgs, MemoryEntryResult),
    CMD_WORKSPACE_TRUST: (WorkspaceTrustArgs, WorkspaceTrustResult),
}
COMMAND_ARGS: dict[str, type[StrictArgs]] = {name: spec[0] for name, spec in COMMANDS.items()}

# What each command does beyond its shapes (docs/protocol.md's command table).
COMMAND_NOTES: dict[str, str] = {
    CMD_TASK_RUN: "at once; the turn runs in the background. `-32004` when that session already has a running turn",
    CMD_TASK_CANCEL: "the turn ends within about 1 s, every process of a running command ended (its whole tree, "
                     "however detached); the session is free within 2 s even if the turn will not end",
    CMD_SESSION_LIST: "newest first",
    CMD_SESSION_SHOW: "the whole tree: turns with their tool calls and edit groups, and the groups outside any "
                      "turn (`safetyGroups`)",
    CMD_SESSION_REPLAY: "in `seq` order; nothing is re-executed",
    CMD_SESSION_SUMMARIZE: "prompts, files changed, commands run, stop reasons, tokens; plus a summary written by "
                           "the configured model when one answers within 20 s (`modelSummary: true`)",
    CMD_SESSION_EXPORT: "jsonl: one JSON record a line, each ending with a newline",
    CMD_SESSION_DELETE: "`-32004` while it has a running turn, in this process or any other on the same store",
    CMD_CHECKPOINT_LIST: "newest first",
    CMD_REWIND_PREVIEW: "see Rewind semantics below",
    CMD_REWIND_APPLY: "`applied: false` with a `reason` when the user declined, every file was left out (conflicts "
                      "without `force`) or the rewind could not be completed (e.g. a folder on the way is a "
                      "symbolic link); nothing was written then (a rewind is all or nothing). `-32003` when a file "
                      "changed since the preview; `-32004` while a turn of the session is running",
    CMD_REWIND_UNDO: "brings back what the latest rewind replaced; all or nothing like apply; `-32004` while a turn "
                     "of the session is running",
    CMD_READINESS: "also sent as `minicode/readiness` whenever it changes",
    CMD_MEMORY_SHOW: "newest first; `status` is `active` or `proposed` (proposed by reflection, not used until "
                     "accepted)",
    CMD_MEMORY_ADD: "",
    CMD_MEMORY_REMOVE: "",
    CMD_MEMORY_ACCEPT: "with `status: \"active\"`: a proposed entry takes part in later turns. `-32005` when no "
                       "entry has that id",
    CMD_WORKSPACE_TRUST: "allows the workspace's `.minicode.toml` as it is now (see docs/security.md). Without "
                         "`sha256` the server first asks the user (`window/showMessageRequest`, the settings it "
                         "would enable listed); with it, the allow is recorded only if the file still has that "
                         "content. `trusted: false` with a `reason` when there is no file, the user declined, the "
                         "content changed, or the editor has not trusted the workspace",
}

# JSON-RPC error codes and what they mean (docs/protocol.md's error table).
ERROR_NOTES: dict[str, str] = {
    "ERR_INVALID_PARAMS": "invalid arguments (the message names the field) or unknown command",
    "ERR_UNKNOWN_SESSION": "unknown session id",
    "ERR_AMBIGUOUS_ID": "ambiguous id prefix (the message lists the matches)",
    "ERR_STALE_PREVIEW": "stale rewind preview: preview again",
    "ERR_BUSY": "busy: the session has a running turn",
    "ERR_NOT_FOUND": "not found (preview id, group id, nothing to undo, memory entry)",
    "ERR_OUTSIDE_WORKSPACE": "a path or URI outside the workspace",
    "ERR_NOT_READY": "not ready: the store could not be opened (every command but `minicode.readiness` says why; readiness answers `blocked` with a failing `store` check), or `task.run` found no "
                     "provider that can run (an API key variable is not set); `minicode.readiness` has the "
                     "details and the fix",
}


def describe_validation_error(exc: ValidationError) -> str:
    """``field: message`` for the first few problems, as the errors on the wire name them."""
    parts = []
    for err in exc.errors()[:5]:
        field = ".".join(str(part) for part in err["loc"]) or "(arguments)"
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)
