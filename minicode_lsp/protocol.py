"""The wire contract: command ids, notification methods, event types and payloads.

Mirrored by ``editors/vscode/src/protocol.ts`` and ``editors/neovim/lua/minicode/protocol.lua``;
``tests/contract`` checks that the three agree. Documented in ``docs/protocol.md``.

Everything on the wire is camelCase; the models accept either spelling.
"""

from __future__ import annotations

from typing import Any

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
    CheckStatus,
    ExportFormat,
    MemoryScope,
    PermissionMode,
    Profile,
    ReadinessState,
    SessionChange,
)


class Model(BaseModel):
    """Base of every wire model: camelCase aliases, either spelling accepted."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True)

    def wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class StrictArgs(Model):
    """Command arguments: unknown fields are ignored, wrong types are errors naming the field."""


# ------------------------------------------------------------------------------ arguments
class Range(Model):
    start: dict[str, int]
    end: dict[str, int]


class TaskContext(Model):
    uri: str | None = None
    range: Range | None = None
    diagnostics: list[dict[str, Any]] = Field(default_factory=list)
    selection_text: str | None = None


class TaskRunArgs(StrictArgs):
    prompt: str = Field(min_length=1)
    session_id: str | None = None
    context: TaskContext | None = None
    profile: Profile | None = None
    permission_mode: PermissionMode | None = None
    # Open the final answer as a markdown document (window/showDocument) when the turn ends.
    show_result: bool = False


class SessionIdArgs(StrictArgs):
    session_id: str = Field(min_length=1)


class OptionalSessionArgs(StrictArgs):
    session_id: str | None = None


class SessionListArgs(StrictArgs):
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = None
    query: str | None = None


class SessionReplayArgs(SessionIdArgs):
    from_seq: int = Field(default=0, ge=0)


class SessionShowArgs(SessionIdArgs):
    open_document: bool = False


class SessionExportArgs(SessionIdArgs):
    format: ExportFormat = "markdown"


class CheckpointListArgs(StrictArgs):
    session_id: str | None = None
    uri: str | None = None
    limit: int = Field(default=200, ge=1, le=10000)


class RewindTarget(Model):
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
    session_id: str | None = None
    target: RewindTarget = Field(default_factory=lambda: RewindTarget(latest=True))
    uris: list[str] | None = None
    # Also open the plan's unified diff as a document (window/showDocument), for editors with no plugin.
    show_document: bool = False


class RewindApplyArgs(RewindPreviewArgs):
    preview_id: str | None = None
    force: bool = False


class ReadinessArgs(StrictArgs):
    probe: bool = False


class MemoryShowArgs(StrictArgs):
    scope: MemoryScope | None = None


class MemoryAddArgs(StrictArgs):
    text: str = Field(min_length=1)
    scope: MemoryScope = "project"
    tags: list[str] = Field(default_factory=list)


class MemoryRemoveArgs(StrictArgs):
    id: str = Field(min_length=1)


class MemoryAcceptArgs(StrictArgs):
    id: str = Field(min_length=1)


class WorkspaceTrustArgs(StrictArgs):
    """Allow the workspace's .minicode.toml as it is now. With ``sha256`` (the hash the user was
    shown) it is recorded only if the file still has that content; without it the server asks
    the user first, showing the settings the allow would enable."""

    sha256: str | None = None


COMMAND_ARGS: dict[str, type[StrictArgs]] = {
    CMD_TASK_RUN: TaskRunArgs,
    CMD_TASK_CANCEL: SessionIdArgs,
    CMD_SESSION_LIST: SessionListArgs,
    CMD_SESSION_SHOW: SessionShowArgs,
    CMD_SESSION_REPLAY: SessionReplayArgs,
    CMD_SESSION_SUMMARIZE: SessionIdArgs,
    CMD_SESSION_EXPORT: SessionExportArgs,
    CMD_SESSION_DELETE: SessionIdArgs,
    CMD_CHECKPOINT_LIST: CheckpointListArgs,
    CMD_REWIND_PREVIEW: RewindPreviewArgs,
    CMD_REWIND_APPLY: RewindApplyArgs,
    CMD_REWIND_UNDO: OptionalSessionArgs,
    CMD_READINESS: ReadinessArgs,
    CMD_MEMORY_SHOW: MemoryShowArgs,
    CMD_MEMORY_ADD: MemoryAddArgs,
    CMD_MEMORY_REMOVE: MemoryRemoveArgs,
    CMD_MEMORY_ACCEPT: MemoryAcceptArgs,
    CMD_WORKSPACE_TRUST: WorkspaceTrustArgs,
}


# -------------------------------------------------------------------------------- results
class TaskRunResult(Model):
    session_id: str
    turn_id: str


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


class Event(Model):
    """A ``minicode/event`` notification."""

    session_id: str
    turn_id: str
    seq: int
    type: str
    data: dict[str, Any] = Field(default_factory=dict)
    at: float = 0.0


class SessionsChanged(Model):
    session_id: str
    change: SessionChange


def describe_validation_error(exc: ValidationError) -> str:
    """``field: message`` for the first few problems, as the errors on the wire name them."""
    parts = []
    for err in exc.errors()[:5]:
        field = ".".join(str(part) for part in err["loc"]) or "(arguments)"
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)
