"""Recorded events -> ACP ``session/update`` payloads (live and when a session is loaded).

One mapping serves both: a live turn's events as they are published, and a stored session's
events replayed by ``session/load``. Pure data in, SDK models out; the diff lookup (a group id to
its files' before/after text) is passed in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acp import helpers
from acp.schema import ToolCallLocation, ToolKind, UsageUpdate

from .. import protocol_ids as p

# group id -> [(absolute path, old text or None, new text or None)]
DiffLookup = Callable[[str], list[tuple[str, str | None, str | None]]]

TOOL_KINDS: dict[str, ToolKind] = {
    "read_file": "read",
    "list_files": "search",
    "search": "search",
    "edit_file": "edit",
    "write_file": "edit",
    "delete_file": "delete",
    "run_command": "execute",
}
# What of a tool's output is shown in the client (the model got all of it).
OUTPUT_SHOWN = 4000


def tool_kind(name: str) -> ToolKind:
    return TOOL_KINDS.get(name, "other")


def tool_title(name: str, arguments: Any) -> str:
    args = arguments if isinstance(arguments, dict) else {}
    path = str(args.get("path") or "")
    if name == "read_file":
        return f"Read {path}"
    if name == "list_files":
        return f"List {path or '.'}" + (f" ({args['pattern']})" if args.get("pattern") else "")
    if name == "search":
        return f"Search `{args.get('pattern', '')}`" + (f" in {path}" if path else "")
    if name == "edit_file":
        return f"Edit {path}"
    if name == "write_file":
        return f"Write {path}"
    if name == "delete_file":
        return f"Delete {path}"
    if name == "run_command":
        return f"Run `{args.get('command', '')}`"
    if name.startswith("mcp__"):
        _, server, tool = (name.split("__", 2) + ["", ""])[:3]
        return f"{tool} ({server})"
    return name


def locations(root: Path, arguments: Any) -> list[ToolCallLocation] | None:
    args = arguments if isinstance(arguments, dict) else {}
    path = args.get("path")
    if not isinstance(path, str) or not path:
        return None
    full = Path(path) if Path(path).is_absolute() else root / path
    line = args.get("start_line")
    return [ToolCallLocation(path=str(full), line=line if isinstance(line, int) and line >= 0 else None)]


def acp_tool_call_id(turn_id: str | None, call_id: str) -> str:
    """Providers reuse call ids across turns ("call_0"); ACP wants them unique in a session."""
    return f"{(turn_id or '')[:8]}-{call_id}" if turn_id else call_id


@dataclass
class _Call:
    name: str
    arguments: Any
    content: list[Any] = field(default_factory=list)


class EventMapper:
    """Per ACP session: turns each recorded event into zero or more session updates.

    ``replay``: the events come from the store (``session/load``), so the user's prompts are
    sent back as ``user_message_chunk`` too; live, the client has shown them already.
    """

    def __init__(self, root: Path, diffs: DiffLookup) -> None:
        self.root = root
        self.diffs = diffs
        self.mode = "ask"
        self._calls: dict[str, _Call] = {}
        self.open_call: str | None = None  # the ACP id of the tool call now running, if any
        # Clients join consecutive agent_message_chunks into one message (codecompanion.nvim
        # showed "Fixed add.done"): the text of a later model reply starts on a new paragraph.
        self._text_last = False
        self._break_due = False

    def call_info(self, call_id: str) -> tuple[str, Any]:
        """(tool name, arguments) of a running call; ("", None) when unknown."""
        call = self._calls.get(call_id)
        return (call.name, call.arguments) if call else ("", None)

    def updates(self, type: str, data: dict[str, Any], turn_id: str | None, *, replay: bool = False) -> list[Any]:
        if type != p.EV_TEXT_DELTA:
            if type in (p.EV_TURN_STARTED, p.EV_TOOL_STARTED):
                self._text_last = self._break_due = False  # a tool call or a new turn separates
            elif self._text_last and type in (p.EV_CONTEXT_USAGE, p.EV_PROVIDER_FALLBACK, "model.waiting"):
                self._break_due = True  # a new model request after text: its text is a new paragraph
        if type == p.EV_TURN_STARTED:
            self.mode = str(data.get("permissionMode") or self.mode)
            return [helpers.update_user_message_text(str(data.get("prompt", "")))] if replay else []
        if type == p.EV_TEXT_DELTA:
            text = str(data.get("text", ""))
            if not text:
                return []
            if self._break_due:
                text, self._break_due = "\n\n" + text, False
            self._text_last = True
            return [helpers.update_agent_message_text(text)]
        if type == "thought.delta":
            text = str(data.get("text", ""))
            return [helpers.update_agent_thought_text(text)] if text else []
        if type == p.EV_TOOL_STARTED:
            return self._started(data, turn_id, replay)
        if type == p.EV_FILES_CHANGED:
            return self._files_changed(data)
        if type == p.EV_TOOL_FINISHED:
            return self._finished(data, turn_id)
        if type == p.EV_PROVIDER_FALLBACK:
            return [helpers.update_agent_thought_text(
                f"provider {data.get('fromProvider')} failed ({data.get('reason', '')}); "
                f"trying {data.get('toProvider')}\n")]
        if type == p.EV_CONTEXT_USAGE and not replay:
            used, size = data.get("estimatedTokens"), data.get("window")
            if isinstance(used, int) and isinstance(size, int) and used >= 0 and size > 0:
                return [UsageUpdate(session_update="usage_update", used=used, size=size)]
            return []
        if type == p.EV_TURN_FINISHED and replay:
            return self._finished_note(data)
        return []

    def _started(self, data: dict[str, Any], turn_id: str | None, replay: bool) -> list[Any]:
        name, args = str(data.get("name", "")), data.get("arguments")
        call_id = acp_tool_call_id(turn_id, str(data.get("toolCallId", "")))
        self._calls[call_id] = _Call(name, args)
        self.open_call = call_id
        kind = tool_kind(name)
        # an edit or a command in ask mode waits for the user's permission: "pending" until then
        waits = not replay and self.mode == "ask" and kind in ("edit", "delete", "execute", "other")
        return [helpers.start_tool_call(
            call_id, tool_title(name, args), kind=kind, status="pending" if waits else "in_progress",
            locations=locations(self.root, args), raw_input=args,
        )]

    def _files_changed(self, data: dict[str, Any]) -> list[Any]:
        call_id = self.open_call
        group_id = str(data.get("groupId") or "")
        if call_id is None or call_id not in self._calls or not group_id:
            return []
        call = self._calls[call_id]
        for path, old, new in self.diffs(group_id):
            call.content.append(helpers.tool_diff_content(path, new or "", old))
        return [helpers.update_tool_call(call_id, content=call.content)]

    def _finished(self, data: dict[str, Any], turn_id: str | None) -> list[Any]:
        call_id = acp_tool_call_id(turn_id, str(data.get("toolCallId", "")))
        call = self._calls.pop(call_id, None)
        if self.open_call == call_id:
            self.open_call = None
        failed = bool(data.get("isError"))
        name = str(data.get("name", "") or (call.name if call else ""))
        content = list(call.content) if call else []
        kind = tool_kind(name)
        output = str(data.get("output") or data.get("summary") or "")
        if failed or kind in ("execute", "search", "other") or not content:
            shown = output if kind in ("execute", "search", "other") or failed else str(data.get("summary", ""))
            if len(shown) > OUTPUT_SHOWN:
                shown = shown[:OUTPUT_SHOWN] + "\n... (cut)"
            if shown:
                text = f"```\n{shown}\n```" if kind == "execute" else shown
                content.append(helpers.tool_content(helpers.text_block(text)))
        return [helpers.update_tool_call(
            call_id, status="failed" if failed else "completed", content=content or None,
            raw_output={"isError": failed, "summary": data.get("summary", "")},
        )]

    def _finished_note(self, data: dict[str, Any]) -> list[Any]:
        reason = data.get("stopReason")
        if reason in (None, "done"):
            return []
        error = f": {data['error']}" if data.get("error") else ""
        return [helpers.update_agent_thought_text(f"(turn ended: {reason}{error})\n")]


def short_json(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
