"""Running one tool call for the loop: permissions, checkpoint groups and events.

``ToolRunner.execute`` emits ``tool.started``/``tool.finished`` around the call, applies the
permission mode (plan refuses writes and commands, ask asks the approver for commands and
the FileSystem to confirm edits), opens a checkpoint group around every call that may
change files and emits ``files.changed`` when the group holds changes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .. import events as ev
from .. import prompts
from ..messages import ToolCall
from ..ports import GroupResult, Ports
from .base import ToolContext, ToolOutput
from .paths import display_path
from .registry import Tool, dispatch, get_tool

log = logging.getLogger(__name__)

T = TypeVar("T")
Emit = Callable[[str, dict[str, Any]], Awaitable[None]]
SUMMARY_CHARS = 200


class Cancelled(Exception):
    """The turn's cancel event was set while something was running."""


async def _stop(task: asyncio.Future[Any]) -> None:
    """Cancel a task and wait for its cleanup (a command's process group is killed there)."""
    task.cancel()
    await asyncio.wait({task}, timeout=2.0)
    if task.done() and not task.cancelled():
        task.exception()  # retrieved: nothing to report


async def race(aw: Awaitable[T], cancel: asyncio.Event) -> T:
    """Await ``aw`` unless ``cancel`` is set first (then raise ``Cancelled``)."""
    task = asyncio.ensure_future(aw)
    stopper = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        await _stop(task)
        raise
    finally:
        stopper.cancel()
    if task.done():
        return task.result()
    await _stop(task)
    raise Cancelled


# What of a tool's result goes into the tool.finished event (the model gets all of it).
OUTPUT_CHARS = 4000


def summarize(out: ToolOutput) -> str:
    """The result's first line; when its last sentence only announces what follows ("edited
    calc.py: replaced 1 occurrence. Lines 1-2 now read:"), without that sentence (the summary is
    shown alone). A line of code that ends in ":" (a file read) is left as it is."""
    lines = out.content.strip().splitlines()
    first = lines[0].rstrip() if lines else ""
    if first.endswith(":") and len(lines) > 1:
        head, sep, _ = first[:-1].rpartition(". ")
        if sep:
            first = head + "."
    return first if len(first) <= SUMMARY_CHARS else first[: SUMMARY_CHARS - 3] + "..."


@dataclass
class Executed:
    output: ToolOutput
    kind: str  # "read", "edit" or "shell" ("read" for unknown tools)
    changed: list[str] = field(default_factory=list)  # absolute paths the checkpoint group recorded


class ToolRunner:
    def __init__(
        self, ports: Ports, *, mode: str, cancel: asyncio.Event, approved_commands: set[str], emit: Emit
    ) -> None:
        self.ports = ports
        self.mode = mode
        self.cancel = cancel
        self.approved_commands = approved_commands
        self.emit = emit
        # files the agent's file tools changed in this session (earlier turns, then this one)
        self.edited: list[Path] = list(dict.fromkeys(ports.edited_before))

    async def execute(self, call: ToolCall, *, gate: bool = False) -> Executed:
        """Run one call; ``gate`` marks the verification gate's own test run: a command like any
        other (asked in ask mode, refused in plan mode, shown in the transcript)."""
        tool = get_tool(call.name, self.ports.tools)
        await self.emit(
            ev.TOOL_STARTED, {"toolCallId": call.id, "name": call.name, "arguments": call.arguments}
        )
        changed: list[str] = []
        out = await self._check_permission(call, tool, gate)
        unsaved: list[str] = []
        if out is None:
            unsaved = self._unsaved_edits() if tool is not None and tool.kind == "shell" else []
            out = await self._dispatch(call, tool, changed)
            if tool is not None and tool.kind == "edit":
                self.edited.extend(Path(p) for p in changed if Path(p) not in self.edited)
            if unsaved:
                out = ToolOutput(prompts.UNSAVED_WARNING.format(files=", ".join(unsaved)) + "\n" + out.content,
                                 out.is_error, {**out.meta, "unsaved": unsaved})
        data: dict[str, Any] = {"toolCallId": call.id, "name": call.name, "isError": out.is_error,
                                "summary": summarize(out), "output": out.content[:OUTPUT_CHARS]}
        if unsaved:
            data["unsavedFiles"] = unsaved
        if out.meta.get("declined"):
            data["declined"] = True
        await self.emit(ev.TOOL_FINISHED, data)
        return Executed(out, tool.kind if tool else "read", changed)

    def _unsaved_edits(self) -> list[str]:
        """The files this session's edits changed that are unsaved in the editor (shown paths)."""
        if not self.edited or self.ports.unsaved is None:
            return []
        try:
            dirty = self.ports.unsaved(list(self.edited))
        except Exception:
            log.exception("could not ask the editor which files are unsaved")
            return []
        return [display_path(p, self.ports.roots) for p in dirty]

    async def _check_permission(self, call: ToolCall, tool: Tool | None, gate: bool) -> ToolOutput | None:
        """A refusal result, or None when the call may run."""
        if tool is None or call.arguments_error is not None or tool.read_only:
            return None
        if self.mode == "plan":
            return ToolOutput(
                prompts.PLAN_REFUSAL.format(tool=call.name), is_error=True, meta={"plan_refused": True}
            )
        if self.mode != "ask":
            return None
        if tool.kind == "edit":
            path = call.arguments.get("path") if isinstance(call.arguments, dict) else None
            await self.emit(
                ev.APPROVAL_REQUESTED,
                {"toolCallId": call.id, "name": call.name, "kind": "edit", "path": path},
            )
            return None  # the FileSystem asks (confirm=True) and raises UserDeclined
        command = call.arguments.get("command")
        key = command
        if tool.kind == "external":  # an MCP server's tool: asked like a command, remembered by name
            key = call.name
            command = f"{call.name} {json.dumps(call.arguments, ensure_ascii=False)[:400]}"
        if not isinstance(command, str) or not command.strip() or key in self.approved_commands:
            return None
        root = self.ports.roots[0]
        await self.emit(
            ev.APPROVAL_REQUESTED,
            {
                "toolCallId": call.id,
                "name": call.name,
                "kind": "command",
                "command": command,
                "cwd": str(root),
            },
        )
        try:
            decision = await race(self.ports.approver.approve_command(command, root), self.cancel)
        except Cancelled:
            raise
        except Exception as e:
            log.exception("asking to approve a command failed")
            return ToolOutput(f"could not ask the user to approve the command ({e}); it was not run", True)
        if decision == "session":
            self.approved_commands.add(str(key))
        elif decision != "once":
            return ToolOutput(prompts.COMMAND_REFUSED, is_error=True, meta={"declined": True})
        return None

    async def _dispatch(self, call: ToolCall, tool: Tool | None, changed: list[str]) -> ToolOutput:
        ctx = ToolContext(
            ports=self.ports,
            confirm=self.mode == "ask" and tool is not None and tool.kind == "edit",
            cancel=self.cancel,
            tool_call_id=call.id,
        )
        if tool is None or tool.read_only or call.arguments_error is not None:
            return await race(dispatch(call, ctx, self.ports.tools), self.cancel)
        kind = "edit" if tool.kind == "edit" else "shell"
        label = f"{call.name} {call.arguments.get('path') or call.arguments.get('command') or ''}".strip()
        began = await self._begin_group(call, kind, label)
        try:
            out = await race(dispatch(call, ctx, self.ports.tools), self.cancel)
        finally:
            if began:
                changed.extend(await self._end_group())
        return out

    async def _begin_group(self, call: ToolCall, kind: str, label: str) -> bool:
        try:
            await self.ports.checkpoints.begin(
                tool_call_id=call.id,
                tool=call.name,
                kind="edit" if kind == "edit" else "shell",
                label=label[:200],
            )
            return True
        except Exception:
            log.exception("could not open a checkpoint group for %s", call.name)
            return False

    async def _end_group(self) -> list[str]:
        try:
            group = await self.ports.checkpoints.end()
        except Exception:
            log.exception("could not close the checkpoint group")
            return []
        if group is None or not group.files:
            return []
        await self.emit(ev.FILES_CHANGED, files_changed_data(group))
        return [str(f.path) for f in group.files]


def files_changed_data(group: GroupResult) -> dict[str, Any]:
    """The ``files.changed`` event's data for a checkpoint group's changes."""
    files = [{"uri": f.path.as_uri(), "action": f.action} for f in group.files]
    return {"groupId": group.group_id, "uris": [f["uri"] for f in files], "files": files}
