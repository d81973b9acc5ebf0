"""Fakes at the agent's boundaries: a scripted in-process Provider and recording ports.

Reusable by other tests: ``make_ports(tmp_path)`` gives ``Ports`` over a real directory
(``LocalFileSystem`` underneath), and ``ScriptedProvider`` answers from a queue.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from minicode_lsp.agent.messages import Message, ToolCall, ToolSpec, Usage
from minicode_lsp.agent.ports import ApprovalDecision, ChangedFile, GroupResult, Ports, UserDeclined
from minicode_lsp.agent.providers.base import ModelReply, ProviderError, ProviderSpec

from .localfs import LocalFileSystem

_ids = itertools.count(1)

Script = ModelReply | ProviderError | Callable[[list[Message]], "ModelReply | Awaitable[ModelReply]"]


def text(s: str, *, usage: Usage | None = None) -> ModelReply:
    """A final answer: text and no tool calls."""
    return ModelReply(Message(role="assistant", text=s), usage or Usage(10, 5), "stop")


def call(name: str, _text: str = "", **arguments: Any) -> ModelReply:
    """One tool call."""
    return calls((name, arguments), text=_text)


def calls(*items: tuple[str, dict[str, Any]], text: str = "") -> ModelReply:
    tcs = [ToolCall(id=f"call_{next(_ids)}", name=n, arguments=a) for n, a in items]
    return ModelReply(Message(role="assistant", text=text, tool_calls=tcs), Usage(10, 5), "tool_calls")


@dataclass
class Request:
    system: str
    messages: list[Message]
    tools: list[str]
    max_tokens: int | None = None


class ScriptedProvider:
    """A Provider answering from a queue; raises the queued ProviderError items.

    When the queue runs dry it answers ``text("(script exhausted)")``.
    """

    def __init__(self, *script: Script, name: str = "scripted") -> None:
        self.spec = ProviderSpec(name=name, kind="openai", base_url="http://127.0.0.1:9", model="fake")
        self.script: list[Script] = list(script)
        self.requests: list[Request] = []

    def enqueue(self, *items: Script) -> None:
        self.script.extend(items)

    async def complete(
        self,
        *,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec],
        on_text: Callable[[str], Awaitable[None]] | None = None,
        on_thought: Callable[[str], Awaitable[None]] | None = None,
        max_tokens: int | None = None,
        on_wait: Callable[[float], Awaitable[None]] | None = None,
    ) -> ModelReply:
        self.requests.append(Request(system, list(messages), [t.name for t in tools], max_tokens))
        item = self.script.pop(0) if self.script else text("(script exhausted)")
        if isinstance(item, BaseException):
            raise item
        if callable(item):
            produced = item(list(messages))
            item = await produced if asyncio.iscoroutine(produced) else produced  # type: ignore[assignment]
        assert isinstance(item, ModelReply)
        if on_text is not None and item.message.text:
            await on_text(item.message.text)
        return item


class RecordingEvents:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def emit(self, type: str, data: dict[str, Any]) -> None:
        self.events.append((type, data))

    def types(self) -> list[str]:
        return [t for t, _ in self.events]

    def of(self, type: str) -> list[dict[str, Any]]:
        return [d for t, d in self.events if t == type]


class ScriptedApprover:
    def __init__(self, *decisions: ApprovalDecision, default: ApprovalDecision = "once") -> None:
        self.decisions = list(decisions)
        self.default = default
        self.asked: list[str] = []

    async def approve_command(self, command: str, cwd: Path) -> ApprovalDecision:
        self.asked.append(command)
        return self.decisions.pop(0) if self.decisions else self.default


def _snapshot(root: Path) -> dict[Path, str]:
    out = {}
    for p in root.rglob("*"):
        if p.is_file() and ".git" not in p.relative_to(root).parts:
            out[p] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@dataclass
class Group:
    tool_call_id: str
    tool: str
    kind: str
    label: str
    files: dict[Path, Literal["create", "modify", "delete"]] = field(default_factory=dict)
    before: dict[Path, str] | None = None


class RecordingCheckpoints:
    """Edit groups from the paths the file system touched; shell groups by snapshot diff."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.groups: list[Group] = []
        self.open: Group | None = None

    def touched(self, path: Path, existed: bool, deleting: bool) -> None:
        if self.open is not None:
            action: Literal["create", "modify", "delete"] = (
                "delete" if deleting else "modify" if existed else "create"
            )
            self.open.files.setdefault(path, action)

    async def begin(self, *, tool_call_id: str, tool: str, kind: str, label: str) -> None:
        assert self.open is None, "groups do not nest"
        self.open = Group(tool_call_id, tool, kind, label)
        if kind == "shell":
            self.open.before = _snapshot(self.root)

    async def end(self) -> GroupResult | None:
        group, self.open = self.open, None
        assert group is not None, "end() without begin()"
        self.groups.append(group)
        if group.before is not None:
            after = _snapshot(self.root)
            for p in set(group.before) | set(after):
                if p not in after:
                    group.files[p] = "delete"
                elif p not in group.before:
                    group.files[p] = "create"
                elif after[p] != group.before[p]:
                    group.files[p] = "modify"
        if not group.files:
            return None
        files = [ChangedFile(p, a) for p, a in sorted(group.files.items())]
        return GroupResult(group_id=f"g{len(self.groups)}", files=files)


class RecordingFileSystem(LocalFileSystem):
    """LocalFileSystem that records calls; with ``decline`` a confirmed write is refused."""

    def __init__(self, checkpoints: RecordingCheckpoints | None = None, *, decline: bool = False) -> None:
        super().__init__()
        self.checkpoints = checkpoints
        self.decline = decline
        self.writes: list[tuple[Path, bool, str]] = []
        self.deletes: list[tuple[Path, bool, str]] = []
        self.buffers: dict[Path, bytes] = {}  # "open editor buffers": read wins over disk

    async def read(self, path: Path) -> bytes | None:
        if path in self.buffers:
            return self.buffers[path]
        return await super().read(path)

    async def write(self, path: Path, data: bytes, *, confirm: bool, label: str, rederive: Any = None) -> bytes:
        self.writes.append((path, confirm, label))
        if confirm and self.decline:
            raise UserDeclined(label)
        if self.checkpoints is not None:
            self.checkpoints.touched(path, path.exists(), False)
        return await super().write(path, data, confirm=confirm, label=label)

    async def delete(self, path: Path, *, confirm: bool, label: str) -> None:
        self.deletes.append((path, confirm, label))
        if confirm and self.decline:
            raise UserDeclined(label)
        if self.checkpoints is not None:
            self.checkpoints.touched(path, True, True)
        await super().delete(path, confirm=confirm, label=label)


@dataclass
class FakePorts:
    ports: Ports
    fs: RecordingFileSystem
    events: RecordingEvents
    approver: ScriptedApprover
    checkpoints: RecordingCheckpoints


def make_ports(
    root: Path,
    *,
    decline: bool = False,
    decisions: tuple[ApprovalDecision, ...] = (),
    forbidden: list[Path] | None = None,
    command_env: dict[str, str] | None = None,
) -> FakePorts:
    root = root.resolve()
    checkpoints = RecordingCheckpoints(root)
    fs = RecordingFileSystem(checkpoints, decline=decline)
    events = RecordingEvents()
    approver = ScriptedApprover(*decisions)
    ports = Ports(
        fs=fs,
        approver=approver,
        events=events,
        checkpoints=checkpoints,
        roots=[root],
        forbidden=forbidden or [],
        command_env=command_env,
    )
    return FakePorts(ports, fs, events, approver, checkpoints)


async def run_tool(fake: FakePorts, name: str, *, confirm: bool = False, **arguments: Any) -> Any:
    """Dispatch one tool call through the registry; returns the ToolOutput."""
    from minicode_lsp.agent.tools.base import ToolContext
    from minicode_lsp.agent.tools.registry import dispatch

    ctx = ToolContext(ports=fake.ports, confirm=confirm)
    return await dispatch(ToolCall(id=f"call_{next(_ids)}", name=name, arguments=arguments), ctx)
