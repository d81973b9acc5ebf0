"""Running one agent turn: ports, provider chain, events, progress, and the turn's record."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..agent.fileio import read_regular
from ..agent.messages import Message, Usage
from ..agent.ports import ApprovalDecision, Ports
from ..agent.tools.run_command import CommandProcesses
from ..agent.tools.runner import files_changed_data
from ..config import Settings, user_config_path
from ..protocol import (
    EV_ERROR,
    EV_FILES_CHANGED,
    EV_MEMORY_INJECTED,
    EV_PROVIDER_FALLBACK,
    EV_TEXT_DELTA,
    EV_TOOL_FINISHED,
    EV_TOOL_STARTED,
    EV_TURN_FINISHED,
    EV_TURN_STARTED,
    NOTIFY_EVENT,
    MemoryInjectedData,
    TaskRunArgs,
)
from . import wire
from .checkpointing import TurnCheckpoints
from .errors import InvalidParams, OutsideWorkspace
from .local_context import window_for
from .providers import command_env, provider_specs
from .workspace_fs import WorkspaceFileSystem, unsaved_in_editor

if TYPE_CHECKING:
    from ..agent.loop import TurnOutcome
    from .memory import Memory
    from .workspace import RunningTurn, Workspace

# The agent loop, the providers and httpx are imported when the first turn runs, not at
# startup: they are a third of the server's import time and ~5 MB (bench/startup.py).

log = logging.getLogger(__name__)

INSTRUCTION_FILES = ("AGENTS.md", "MINICODE.md")
MAX_INSTRUCTION_BYTES = 1024 * 1024
# Stop reasons the user must act on (fix a provider, shorten the context, look at a bug):
# the editor shows them; every other ending is in the transcript and the progress end.
ACTIONABLE = ("provider_error", "context_exhausted", "blocked")


def off_limits(ws: Workspace) -> list[Path]:
    """MiniCode's own folders, never touched by the agent's file tools: this workspace's store,
    the user's config folder (config, AGENTS.md), the state folder (trust file, every store)
    and the data folder (user memory)."""
    from ..store.locations import user_data_dir
    from ..trust import state_dir

    folders = [ws.store_dir, user_config_path().parent, state_dir(), user_data_dir()]
    if ws.user_dir is not None:
        folders.append(ws.user_dir)
    return folders


def _read_workspace_instruction(root: Path, name: str) -> bytes | None:
    """A workspace instruction file, only if it (and any link to it) stays inside the
    workspace and is not a hard link to a shared file."""
    from ..agent.tools import confined
    from ..agent.tools.paths import PathRefused, resolve_path

    if not os.path.lexists(root / name):
        return None
    try:
        return confined.read_bytes(resolve_path(name, [root]), MAX_INSTRUCTION_BYTES)
    except PathRefused as exc:
        raise OSError(f"ignored: {exc}") from None


def read_instructions(root: Path, user_dir: Path | None) -> tuple[str, list[str]]:
    """AGENTS.md / MINICODE.md from the user's config dir and the workspace root, read fresh.
    The workspace's must stay inside it: a link to /etc/passwd or any outside file, or a hard
    link, is ignored."""
    parts: list[str] = []
    sources: list[str] = []
    for folder in [d for d in (user_dir, root) if d is not None]:
        for name in INSTRUCTION_FILES:
            path = folder / name
            try:  # a FIFO or device here must not hang the turn's start; a huge file is not read
                if folder == root and folder != user_dir:
                    data = _read_workspace_instruction(root, name)
                else:
                    data = read_regular(path, MAX_INSTRUCTION_BYTES)
            except OSError as exc:
                log.warning("instruction file %s not read: %s", path, exc)
                continue
            if data is None:
                continue
            text = data.decode("utf-8", errors="replace")
            parts.append(f"## {name} ({'user' if folder == user_dir else 'workspace'})\n{text.strip()}")
            sources.append(str(path))
    return "\n\n".join(parts), sources


def mentioned_files(files: list[str], path_of: Callable[[str], Path], root: Path) -> list[str]:
    """The workspace-relative paths of the files a prompt mentioned (a URI outside the
    workspace, or not a file URI, is left out: a client's list is not trusted)."""
    out: list[str] = []
    for uri in files:
        try:
            rel = path_of(uri).relative_to(root).as_posix()
        except (InvalidParams, OutsideWorkspace, ValueError):
            log.info("a mentioned file outside the workspace is left out: %s", uri[:200])
            continue
        if rel not in out:
            out.append(rel)
    return out


def context_note(args: TaskRunArgs, path_of: Callable[[str], Path] | None = None, root: Path | None = None) -> str:
    ctx = args.context
    if ctx is None:
        return ""
    lines = []
    if ctx.uri:
        lines.append(f"The user is looking at {ctx.uri}.")
    if ctx.range:
        s, e = ctx.range.start, ctx.range.end
        lines.append(f"Selected range: line {s.line + 1} to line {e.line + 1}.")
    if ctx.selection_text:
        lines.append(f"Selected text:\n```\n{ctx.selection_text}\n```")
    for d in ctx.diagnostics:
        rng = d.get("range", {}).get("start", {})
        lines.append(f"Diagnostic at line {rng.get('line', 0) + 1}: {d.get('message', '')}")
    mentioned = mentioned_files(ctx.files, path_of, root) if path_of and root else []
    if mentioned:
        lines.append("Files the user mentioned (read them before relying on them): " + ", ".join(mentioned))
    return "\n".join(lines)


class TurnEvents:
    """EventSink: numbers, redacts and stores each event, then notifies the editor.

    Streamed text is coalesced: deltas arriving within ``COALESCE_S`` become one
    ``text.delta`` event (one store write, one notification), flushed before any other event.
    """

    COALESCE_S = 0.05

    def __init__(self, ws: Workspace, session_id: str, turn_id: str) -> None:
        self.ws = ws
        self.session_id = session_id
        self.turn_id = turn_id
        self._text: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._calls: dict[str, dict[str, Any]] = {}  # tool call id -> arguments, until it finishes

    async def emit(self, type: str, data: dict[str, Any]) -> None:
        if type == EV_TEXT_DELTA and set(data) == {"text"}:
            self._text.append(str(data["text"]))
            if self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self.COALESCE_S, self.flush)
            return
        self.flush()
        self._write(type, data)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._text:
            text, self._text = "".join(self._text), []
            self._write(EV_TEXT_DELTA, {"text": text})

    def _write(self, type: str, data: dict[str, Any]) -> None:
        row = self.ws.sessions.append_event(self.session_id, self.turn_id, type, data)
        if type in (EV_TOOL_STARTED, EV_TOOL_FINISHED) and data.get("toolCallId"):
            self._record_tool_call(type, data)
        self.ws.frontend.publish(NOTIFY_EVENT, wire.event_notification(row).wire())
        if type == EV_TOOL_STARTED:
            self.ws.frontend.progress_report(self.turn_id, f"{data.get('name', 'tool')}")


    def _record_tool_call(self, type: str, data: dict[str, Any]) -> None:
        call_id, name = str(data["toolCallId"]), str(data.get("name", ""))
        if type == EV_TOOL_STARTED:
            given = data.get("arguments")
            arguments: dict[str, Any] = given if isinstance(given, dict) else {}
            self._calls[call_id] = arguments
            self.ws.sessions.record_tool_call(self.turn_id, call_id, name, arguments)
        else:
            self.ws.sessions.record_tool_call(
                self.turn_id, call_id, name, self._calls.pop(call_id, {}),
                is_error=bool(data.get("isError")), summary=str(data.get("summary", "")),
            )


class EditorApprover:
    """Asks the user in the editor (window/showMessageRequest); the loop remembers "for this session"."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    async def approve_command(self, command: str, cwd: Path) -> ApprovalDecision:
        answer = await self.ws.frontend.choose(
            f"MiniCode wants to run: {command}", ["Allow once", "Allow for this session", "Deny"]
        )
        if answer == "Allow once":
            return "once"
        if answer == "Allow for this session":
            return "session"
        return "deny"


def describe_failure(exc: BaseException) -> str:
    """What the user reads when a turn failed outside the provider: the cause, with the fix when
    it is the store (a full disk, a read-only folder)."""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, sqlite3.Error | OSError):
        if "full" in low or "no space" in low or getattr(exc, "errno", None) == errno.ENOSPC:
            return (f"the session store could not be written ({text}): free disk space, or set "
                    "store.path to a folder on another disk")
        if "readonly" in low or "read-only" in low or getattr(exc, "errno", None) in (errno.EROFS, errno.EACCES):
            return f"the session store is read-only ({text}): make its folder writable, or set store.path"
    return f"internal error: {type(exc).__name__}: {text}"


def ended(stop_reason: str, error: str | None = None) -> TurnOutcome:
    """The outcome of a turn that ended before or outside the agent loop."""
    from ..agent.loop import TurnOutcome

    return TurnOutcome(stop_reason=stop_reason, text="", usage=Usage(), messages=[], provider=None, error=error,
                       steps=0, files_changed=[])


async def execute_turn(ws: Workspace, memory: Memory, running: RunningTurn, args: TaskRunArgs,
                       settings: Settings) -> None:
    """The one supervised path of a turn: whatever fails inside (recording its events on a full
    disk, a damaged memory database, the provider, a client's answer, a bug) or cancels it, the
    turn ends with a stop reason, ``turn.finished`` is attempted, and the session is freed."""
    outcome: TurnOutcome | None = None
    try:
        outcome = await _run_turn(ws, memory, running, args, settings)
    except asyncio.CancelledError:
        outcome = ended("cancelled")
    except Exception as exc:  # a bug or a store failure, not a provider failure: never lose the turn
        log.exception("turn %s failed", running.turn_id)
        outcome = ended("blocked", describe_failure(exc))
    finally:
        await finish_turn(ws, running, outcome or ended("blocked", "the turn ended without an outcome"))


def agent_edited(ws: Workspace, session_id: str) -> list[Path]:
    """The files the agent's file tools changed in this session's earlier turns, not rewound
    (oldest first)."""
    paths: dict[Path, None] = {}
    for group in reversed(ws.checkpoints.list_groups(session_id, limit=1000, kinds=["edit"])):
        if group.rewound_by is None:
            paths.update((Path(f.path), None) for f in group.files if f.post_sha is not None)
    return list(paths)


async def _run_turn(ws: Workspace, memory: Memory, running: RunningTurn, args: TaskRunArgs,
                    settings: Settings) -> TurnOutcome:
    from ..agent.loop import TurnSettings, run_turn
    from ..agent.providers import make_provider
    from ..agent.providers.fallback import FallbackChain

    session_id, turn_id = running.session_id, running.turn_id
    events = TurnEvents(ws, session_id, turn_id)
    processes = CommandProcesses(settings.agent.keep_running)
    checkpoints = TurnCheckpoints(ws.checkpoints, ws.snapshotter, session_id=session_id, turn_id=turn_id,
                                  snapshot_lock=ws.snapshot_lock, leftovers=processes.take_left)
    fs = WorkspaceFileSystem(
        ws.frontend, before_write=checkpoints.before_write, after_write=checkpoints.after_write
    )
    ports = Ports(
        fs=fs,
        approver=EditorApprover(ws),
        events=events,
        checkpoints=checkpoints,
        roots=[ws.root],
        forbidden=off_limits(ws),
        secret_files=list(settings.agent.secret_files),
        command_env=command_env(settings),
        command_timeout_s=settings.agent.command_timeout_s,
        processes=processes,
        unsaved=lambda paths: unsaved_in_editor(ws.frontend, paths),
        edited_before=agent_edited(ws, session_id),
    )
    turn_settings = TurnSettings(
        profile=args.profile or settings.agent.profile,
        permission_mode=args.permission_mode or settings.agent.permission_mode,
        test_command=settings.agent.test_command,
        max_steps=settings.agent.max_steps or None,
        context_window=window_for(settings.effective_providers()[0]),
        compaction_threshold=settings.memory.compaction_threshold,
        approved_commands=running.approved,
    )
    instructions, sources = await asyncio.to_thread(read_instructions, ws.root, ws.user_dir)
    try:
        memories = memory.select(args.prompt)
    except Exception:  # a damaged memory database costs the turn its memories, not the turn
        log.exception("turn %s: memory entries could not be read; the turn runs without them", turn_id)
        memories = []
    if memories:
        lines = "\n".join(f"- {m.text}" for m in memories)
        instructions = f"{instructions}\n\n## Memory (facts kept from earlier sessions)\n{lines}".strip()
    await ws.frontend.progress_begin(turn_id, "MiniCode", ws.redactor.text(args.prompt)[:80])
    await events.emit(
        EV_TURN_STARTED,
        {
            "prompt": args.prompt,
            "profile": turn_settings.profile,
            "permissionMode": turn_settings.permission_mode,
            "instructionSources": sources,
        },
    )
    if memories:
        await events.emit(EV_MEMORY_INJECTED, MemoryInjectedData(entries=[wire.memory_entry(m) for m in memories]).wire())
    outcome: TurnOutcome
    try:
        client = ws.http_client()
        # MCP servers (the settings', and those an ACP client gave this session): started on the
        # first turn that needs them, then kept
        mcp_problems: list[str] = []
        for manager in (ws.mcp, ws.session_mcp.get(session_id)):
            if manager is not None and manager.servers:
                tools, problems = await manager.tools()
                ports.tools += tools
                mcp_problems += problems
                turn_settings.approved_commands |= manager.allowed()  # `allow = [...]`: no question
        for problem in mcp_problems:  # the turn goes on without that server's tools
            await events.emit(EV_ERROR, {"message": problem, "hint": "`minicode-lsp mcp list` shows each server"})

        async def on_fallback(from_name: str, to_name: str, reason: str) -> None:
            await events.emit(EV_PROVIDER_FALLBACK, {"fromProvider": from_name, "toProvider": to_name, "reason": reason})

        chain = FallbackChain(
            [make_provider(spec, client) for spec in provider_specs(settings)], on_fallback=on_fallback
        )
        history = [Message.from_dict(m) for m in ws.sessions.load_history(session_id)]
        outcome = await run_turn(
            prompt=args.prompt,
            history=history,
            provider=chain,
            ports=ports,
            settings=turn_settings,
            cancel=running.cancel,
            instructions=instructions,
            context_note=context_note(args, ws.path_of_uri, ws.root),
            working_memory=memory.working_memory(session_id),
        )
        if settings.memory.reflection and outcome.stop_reason == "done":
            running.proposals = await memory.propose(
                chain, session_id=session_id, prompt=args.prompt, messages=outcome.messages,
                answer=outcome.text, cancel=running.cancel,
            )  # fmt: skip
    except asyncio.CancelledError:
        outcome = ended("cancelled")
    except Exception as exc:  # a bug, not a provider failure: record it, never lose the turn
        log.exception("turn %s failed", turn_id)
        try:
            await events.emit(EV_ERROR, {"message": str(exc)})
        except Exception:  # e.g. the store cannot be written: the supervisor still ends the turn
            log.exception("turn %s: its error event could not be recorded", turn_id)
        outcome = ended("blocked", describe_failure(exc))
    finally:
        try:
            await checkpoints.end()
            # the processes its commands left end with the turn; what they changed meanwhile
            # is their command's (one files.changed per such group)
            await asyncio.shield(processes.end_turn())
            for late in await checkpoints.settle():
                await events.emit(EV_FILES_CHANGED, files_changed_data(late))
        except Exception:
            log.exception("turn %s: closing its checkpoint groups or command processes failed", turn_id)
        try:
            events.flush()
        except Exception:
            log.exception("turn %s: recording its events failed", turn_id)
    return outcome


async def finish_turn(ws: Workspace, running: RunningTurn, outcome: TurnOutcome) -> None:
    """Record the turn's end, step by step: a step that fails (a full disk, a client that
    errs) is logged and the next one still runs; the session is freed whatever happens."""
    session_id, turn_id = running.session_id, running.turn_id
    try:
        await _record_finish(ws, running, outcome)
    finally:
        if ws.running.get(session_id) is running:
            del ws.running[session_id]
        log.info("turn %s finished: %s", turn_id, outcome.stop_reason)
    ws.notify_sessions(session_id, "updated")


async def _record_finish(ws: Workspace, running: RunningTurn, outcome: TurnOutcome) -> None:
    session_id, turn_id = running.session_id, running.turn_id
    events = TurnEvents(ws, session_id, turn_id)
    usage = outcome.usage.to_dict()
    if outcome.messages:
        try:
            ws.sessions.save_messages(turn_id, [m.to_dict() for m in outcome.messages])
        except Exception:  # the turn must still finish: a turn left running blocks its session for good
            log.exception("turn %s: its messages could not be stored", turn_id)
    try:
        await events.emit(
            EV_TURN_FINISHED,
            {
                "stopReason": outcome.stop_reason,
                "usage": usage,
                "text": outcome.text,
                "provider": outcome.provider,
                "error": outcome.error,
                "steps": outcome.steps,
                "filesChanged": outcome.files_changed,
                **({"workingMemory": outcome.working_memory} if outcome.working_memory else {}),
                **({"memoryProposals": running.proposals} if running.proposals else {}),
            },
        )
    except Exception:
        log.exception("turn %s: its turn.finished event could not be recorded", turn_id)
    try:
        ws.sessions.finish_turn(turn_id, outcome.stop_reason, usage, outcome.provider or "", error=outcome.error)
    except Exception:  # the row stays 'running' until this process exits (then: interrupted)
        log.exception("turn %s: its end could not be stored", turn_id)
    try:
        ws.frontend.progress_end(turn_id, f"{outcome.stop_reason}")
        if outcome.stop_reason in ACTIONABLE and outcome.error:
            ws.frontend.notify_user(f"MiniCode stopped ({outcome.stop_reason}): {outcome.error}")
        if running.show_result and outcome.text:
            path = ws.private_file("answers", f"{turn_id}.md")
            path.write_text(f"# {running.title}\n\n{outcome.text}\n", encoding="utf-8")
            # in the background: the session takes a follow-up while the editor shows it (or not)
            ws.show_result_later(path, outcome.text)
    except Exception:
        log.exception("turn %s: telling the editor it ended failed", turn_id)
