"""The CLI's subcommands: the same service as the server, with the terminal as the frontend."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import Any

from . import protocol as p
from .cli_errors import EXIT_INTERRUPTED, EXIT_USAGE, CliError
from .config import WORKSPACE_FILE
from .console import BOLD, EventPrinter, TerminalPrompt, color, color_diff
from .service import HeadlessFrontend, Service, ServiceError
from .service.readiness import user_config_check
from .wording import plural, stop_label


def open_service(workspace: str, frontend: HeadlessFrontend | None = None, *, watch: bool = False) -> Service:
    """``watch``: keep the snapshot stat cache fresh with watchdog (only worth it for a turn)."""
    root = Path(workspace).resolve()
    if not root.is_dir():
        raise ServiceError(f"workspace {root} is not a folder")
    try:
        return Service(root, frontend or HeadlessFrontend(), watch=watch)
    except (OSError, sqlite3.Error) as exc:
        from .config import load_for_workspace
        from .store.locations import store_dir_for

        try:
            where = str(store_dir_for(root, load_for_workspace(root).settings().store.path))
        except Exception:
            where = "the state folder"
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CliError(f"cannot open the session store at {where}: {reason}",
                       "make it writable, point XDG_STATE_HOME at a writable folder, "
                       "or set store.path in the config") from exc


def emit(args: argparse.Namespace, data: Any, human: str) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False) if args.json else human)


async def run_task(args: argparse.Namespace, *, printer: EventPrinter | None = None) -> int:
    if not args.prompt.strip():
        raise CliError("the prompt is blank", 'say what the agent should do, e.g. run "add a test for parse()"',
                       EXIT_USAGE)
    printer = printer or EventPrinter(live=True)
    asker = TerminalPrompt(printer=printer) if sys.stdin.isatty() else None
    if asker is None and args.permission_mode == "ask":  # answers piped on stdin are not read
        raise CliError("--permission-mode ask needs a terminal for its questions; stdin is not one, and "
                       "answers piped on stdin are not read",
                       "run it in a terminal, or pass --permission-mode auto to let the agent edit and run "
                       "commands without asking, or plan for read-only", EXIT_USAGE)
    frontend = HeadlessFrontend(on_publish=printer, asker=asker, root=Path(args.workspace))
    svc = open_service(args.workspace, frontend, watch=True)
    interrupted = False
    ticker: asyncio.Task[None] | None = None
    try:
        misplaced = user_config_check(svc.workspace.root)  # else the agent's refusals come unexplained
        if misplaced is not None:
            print(f"minicode-lsp: warning: {misplaced.detail} ({misplaced.fix})", file=sys.stderr)
        if args.permission_mode is None and asker is None:
            mode = svc.workspace.settings.agent.permission_mode
            if mode == "ask":
                print("minicode-lsp: no terminal to ask for approvals; running in plan mode "
                      "(pass --permission-mode auto to let the agent edit)", file=sys.stderr)
                args.permission_mode = "plan"
        run_args = p.TaskRunArgs(prompt=args.prompt, session_id=args.session, profile=args.profile,
                                 permission_mode=args.permission_mode)
        ids = svc.tasks.run(run_args).wire()
        loop = asyncio.get_running_loop()

        def on_sigint() -> None:
            nonlocal interrupted
            if not interrupted:
                interrupted = True
                if asker is not None:
                    asker.interrupted()
                loop.create_task(stop_turn(svc, ids["sessionId"]))

        loop.add_signal_handler(signal.SIGINT, on_sigint)
        for handler in logging.getLogger().handlers:
            handler.addFilter(_said_by_the_timeline)
        ticker = loop.create_task(_tick(printer))
        await svc.tasks.wait_idle()
        data = printer.finished
        result = {**ids, "stopReason": data.get("stopReason"), "text": data.get("text", ""),
                  "usage": data.get("usage", {}), "filesChanged": data.get("filesChanged", []),
                  "error": data.get("error")}
        if args.json:
            print(json.dumps(result, indent=2, ensure_ascii=False))
        elif result["text"] and not (printer.streamed and sys.stdout.isatty() and sys.stderr.isatty()):
            print(result["text"])  # for `run ... > answer.md`; a terminal has seen it streamed
        if interrupted:
            print(f"minicode-lsp: interrupted: turn {ids['turnId']} recorded as {result['stopReason'] or 'cancelled'}",
                  file=sys.stderr)
            return EXIT_INTERRUPTED
        if result["stopReason"] == "await_user":  # the user's answer stopped it: not a failure
            print(f"minicode-lsp: stopped: {result.get('error') or 'the agent is waiting for your next message'}; "
                  f'go on with: minicode-lsp run "<your next message>" --session {ids["sessionId"]}', file=sys.stderr)
            return 0
        if result["stopReason"] != "done":
            error = result.get("error")
            told = error and any(error in e or e in error for e in printer.errors)  # the timeline said it
            reason = stop_label(result["stopReason"]) + (f": {error}" if error and not told else "")
            follow = '"continue"' if result["stopReason"] == "max_steps" else '"<your next message>"'
            print(f"minicode-lsp: turn stopped: {reason}; go on in this session with: minicode-lsp run {follow} "
                  f"--session {ids['sessionId']}", file=sys.stderr)
            return 1
        return 0
    finally:
        for handler in logging.getLogger().handlers:
            handler.removeFilter(_said_by_the_timeline)
        if ticker is not None:
            ticker.cancel()
        await svc.shutdown()
        svc.close()


def _said_by_the_timeline(record: logging.LogRecord) -> bool:
    """The agent logs a provider failure and also sends it as an ``error`` event, which the
    timeline prints: in the terminal, say it once (a log file keeps both)."""
    return not (record.name == "minicode_lsp.agent.loop" and str(record.msg).startswith("provider failed")
                and isinstance(logging.getLogger().handlers[0], logging.StreamHandler)
                and not isinstance(logging.getLogger().handlers[0], logging.FileHandler))


async def stop_turn(svc: Service, session_id: str, grace_s: float = 0.4) -> None:
    """Ctrl-C: ask the turn to stop; if it has not within ``grace_s``, cancel its task (it is
    still recorded as cancelled), so the command ends within a second."""
    running = svc.workspace.running.get(session_id)
    if running is None:
        return
    running.cancel.set()
    if running.task is not None:
        done, _ = await asyncio.wait({running.task}, timeout=grace_s)
        if not done:
            running.task.cancel()


async def _tick(printer: EventPrinter) -> None:
    while True:
        await asyncio.sleep(0.5)
        printer.tick()


def sessions_cmd(args: argparse.Namespace) -> int:
    svc = open_service(args.workspace)
    try:
        if args.action == "list":
            data = svc.sessions.list(p.SessionListArgs(limit=args.limit, query=args.query)).wire()
            lines = [f"{s['id']}  {s['updatedAt'][:19]}  {str(s.get('lastStopReason') or '-'):<20} "
                     f"{plural(s['turnCount'], 'turn'):>9}  {s['title']}" for s in data["sessions"]]
            emit(args, data, "\n".join(lines) or "no sessions yet")
        elif args.action == "show":
            data = svc.sessions.show(args.session).wire()
            emit(args, data, exporting_markdown(svc, data["id"]))
        elif args.action == "replay":
            data = svc.sessions.replay(p.SessionReplayArgs(session_id=args.session)).wire()
            printer = EventPrinter(sys.stdout)
            if args.json:
                emit(args, data, "")
            else:
                sid = svc.workspace.resolve_session(args.session)
                for e in data["events"]:
                    printer(p.NOTIFY_EVENT, {**e, "sessionId": sid})
        elif args.action == "summarize":
            data = asyncio.run(_summarize(svc, args.session))
            emit(args, data, data["markdown"])
        elif args.action == "export":
            data = svc.sessions.export(p.SessionExportArgs(session_id=args.session, format=args.format)).wire()
            content = data["content"]
            sys.stdout.write(content if content.endswith("\n") or not content else content + "\n")  # no empty last line
        elif args.action == "delete":
            sid = svc.workspace.resolve_session(args.session)
            svc.sessions.delete(sid)
            emit(args, {"deleted": sid}, f"deleted {sid}")
        return 0
    finally:
        svc.close()


async def _summarize(svc: Service, session: str) -> dict[str, Any]:
    try:
        return (await svc.sessions.summarize(session)).wire()
    finally:
        await svc.shutdown()


def exporting_markdown(svc: Service, sid: str) -> str:
    return svc.sessions.export(p.SessionExportArgs(session_id=sid, format="markdown")).content


def checkpoints_cmd(args: argparse.Namespace) -> int:
    svc = open_service(args.workspace)
    try:
        data = svc.rewind.list_checkpoints(p.CheckpointListArgs(session_id=args.session)).wire()
        lines = []
        for g in data["groups"]:
            files = ", ".join(f"{f['action']} {os.path.relpath(f['path'], svc.workspace.root)}" for f in g["files"])
            lines.append(f"{g['id'][:12]}  {g['createdAt'][:19] if isinstance(g['createdAt'], str) else g['createdAt']}"
                         f"  {g['kind']:<6} {g['label'][:40]:<40} {files}")
        emit(args, data, "\n".join(lines) or "no checkpoints")
        return 0
    finally:
        svc.close()


def _target(args: argparse.Namespace) -> p.RewindTarget:
    if args.steps is not None:
        return p.RewindTarget(steps=args.steps)
    if args.group:
        return p.RewindTarget(group_id=args.group)
    if args.turn:
        return p.RewindTarget(turn_id=args.turn)
    if args.whole:
        return p.RewindTarget(session=True)
    return p.RewindTarget(latest=True)


def _pick_session(svc: Service, args: argparse.Namespace) -> str | None:
    """The session a --latest / --steps / --all rewind works on: the one given, else the newest
    session that still has edits to rewind (not merely the newest session). Says which, and
    which groups, on stderr; None when there is nothing to rewind."""
    if args.session:
        sessions = [(svc.workspace.resolve_session(args.session), "")]
    else:
        rows, _ = svc.workspace.sessions.list_sessions(limit=500)
        sessions = [(row.id, row.title) for row in rows]
    target = _target(args).model_dump()
    for sid, title in sessions:
        groups = svc.workspace.checkpoints.groups_for_target(sid, target)
        if groups:
            what = (f"group {groups[0].id[:12]} ({groups[0].label})" if len(groups) == 1
                    else f"{len(groups)} groups, {groups[0].id[:12]} to {groups[-1].id[:12]}")
            print(f"minicode-lsp: {'previewing' if args.preview else 'rewinding'} {what} of session {sid[:12]}"
                  + (f" ({title[:60]})" if title else ""), file=sys.stderr)
            return sid
    return None


def _print_plan(files: list[dict[str, Any]], *, applying: bool, root: Path) -> None:
    for f in files:
        path = _relative(f["path"], root)
        print(color(f"{f['status']:<9} {f['action']:<8} {path}", BOLD) + (f"  ({f['reason']})" if f.get("reason") else ""))
        if f.get("diff"):
            whole = str(f["path"]).lstrip("/")  # the diff's a/ b/ labels: as git shows them
            print(color_diff(f["diff"].replace(f"a/{whole}", f"a/{path}").replace(f"b/{whole}", f"b/{path}")))
        if applying and f.get("willApply") is False:
            print(f"skipped {path}: {f['status']}" + (" (use --force to write conflict markers)"
                                                     if f["status"] == "conflict" else ""))


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


async def rewind_cmd(args: argparse.Namespace) -> int:
    svc = open_service(args.workspace, HeadlessFrontend(interactive=False))
    svc.workspace.settings.rewind.confirm = False  # the terminal user asked for it explicitly
    try:
        if not (args.undo or args.group or args.turn):
            picked = _pick_session(svc, args)
            if picked is None:
                print("minicode-lsp: nothing to rewind: no session " + (f"{args.session} " if args.session else "")
                      + "has agent edits that are not rewound yet (`minicode-lsp checkpoints` lists them)",
                      file=sys.stderr)
                return 1
            args.session = picked
        if args.undo and args.preview:  # what an undo would write, changing nothing
            files, conflicts = svc.rewind.preview_undo(args.session)
            shown = [f.wire() for f in files]
            if args.json:
                print(json.dumps({"files": shown, "conflicts": conflicts}, indent=2, ensure_ascii=False))
            else:
                _print_plan(shown, applying=False, root=svc.workspace.root)
                print(f"undo preview: {plural(len(files), 'file')}, {plural(conflicts, 'conflict')}"
                      + (" (an undo refuses to overwrite them)" if conflicts else "") + "; nothing changed")
            return 0
        if args.undo:
            data = (await svc.rewind.undo(args.session)).wire()
        elif args.preview:
            data = svc.rewind.preview(p.RewindPreviewArgs(session_id=args.session, target=_target(args))).wire()
        else:
            data = (await svc.rewind.apply(p.RewindApplyArgs(session_id=args.session, target=_target(args), force=args.force))).wire()
        if args.json:
            print(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            _print_plan(data.get("files", []), applying=not args.preview, root=svc.workspace.root)
            if args.preview:
                print(f"preview {data['previewId']}: {plural(len(data['files']), 'file')}, {plural(data['conflicts'], 'conflict')}")
            else:
                skipped = [f for f in data.get("files", []) if f.get("willApply") is False]
                if data.get("applied"):
                    print("applied" + (f", {plural(len(skipped), 'file')} skipped" if skipped else ""))
                else:
                    reason = str(data.get("reason") or "").replace("(force writes", "(--force writes")
                    print("not applied" + (f": {reason}" if reason else ""))
        return 0 if data.get("applied", True) else 1
    finally:
        svc.close()


async def readiness_cmd(args: argparse.Namespace) -> int:
    svc = open_service(args.workspace)
    try:
        report = await svc.readiness.refresh(probe=not args.no_probe)
        lines = [f"state: {report.state}"]
        for c in report.checks:
            lines.append(f"  {c.status:<4} {c.name}: {c.detail}" + (f"\n       fix: {c.fix}" if c.fix else ""))
        emit(args, report.wire(), "\n".join(lines))
        return 0 if report.state != "blocked" else 1
    finally:
        await svc.shutdown()
        svc.close()


async def mcp_cmd(args: argparse.Namespace) -> int:
    """`minicode-lsp mcp list`: each configured MCP server started, with its tools or its error."""
    from .service.mcp import tool_name

    svc = open_service(args.workspace)
    try:
        states = await svc.workspace.mcp.start_all()
        data: dict[str, Any] = {"servers": [{"name": s.name, "running": s.alive, "error": s.error,
                             "tools": [{"name": tool_name(s.name, t.name), "description": t.description or "",
                                        "readOnly": bool(t.annotations and t.annotations.read_only_hint)}
                                       for t in s.tools] if s.alive else []} for s in states]}
        lines = []
        servers: list[dict[str, Any]] = data["servers"]
        for server in servers:
            if server["running"]:
                lines.append(f"{server['name']}: {plural(len(server['tools']), 'tool')}")
                lines += [f"  {t['name']}{' (read-only)' if t['readOnly'] else ''}  {t['description'][:80]}"
                          for t in server["tools"]]
            else:
                lines.append(f"{server['name']}: not running: {server['error']}")
        emit(args, data, "\n".join(lines) or "no MCP servers configured (see docs/mcp.md)")
        return 0 if all(s["running"] for s in data["servers"]) else 1
    finally:
        await svc.shutdown()
        svc.close()


def memory_cmd(args: argparse.Namespace) -> int:
    svc = open_service(args.workspace)
    try:
        if args.action == "list":
            data = svc.memory.show(p.MemoryShowArgs(scope=args.scope)).wire()
            emit(args, data, "\n".join(f"{e['id']}  [{e['scope']}]{' (proposed)' if e['status'] == 'proposed' else ''} {e['text']}"
                                       for e in data["entries"]) or "no memory entries")
        elif args.action == "add":
            data = svc.memory.add(p.MemoryAddArgs(text=args.text, scope=args.scope, tags=args.tag)).wire()
            emit(args, data, f"added {data['entry']['id']}")
        elif args.action == "accept":
            data = svc.memory.accept(p.MemoryAcceptArgs(id=args.id)).wire()
            emit(args, data, f"accepted {data['entry']['id']}")
        else:
            data = svc.memory.remove(p.MemoryRemoveArgs(id=args.id)).wire()
            emit(args, data, "removed")
        return 0
    finally:
        svc.close()


def find_workspace(given: str | None) -> Path:
    """``--workspace``, else the nearest folder up from here holding ``.minicode.toml`` or
    ``.git``, else the current folder (as git finds its top). Says so when it is not here.
    A ``.minicode.toml`` above a repository (one left in the home folder) does not take the
    repository over: the workspace is what the agent's tools may touch."""
    here = Path.cwd()
    if given is not None:
        root = Path(given).expanduser().resolve()
        if not root.is_dir():
            raise CliError(f"workspace {root} is not a folder", "pass --workspace an existing folder", EXIT_USAGE)
        return root
    markers = (WORKSPACE_FILE, ".git")
    root = next((d for d in (here, *here.parents) if any((d / m).exists() for m in markers)), here)
    if root != here:
        print(f"minicode-lsp: workspace {root}", file=sys.stderr)
    return root


def dispatch(cmd: str, args: argparse.Namespace) -> int:
    if hasattr(args, "workspace"):
        args.workspace = str(find_workspace(args.workspace))
    if cmd == "run":
        return asyncio.run(run_task(args))
    if cmd == "demo":
        from .demo import run_demo

        return asyncio.run(run_demo(keep=args.keep))
    if cmd == "sessions":
        return sessions_cmd(args)
    if cmd == "checkpoints":
        return checkpoints_cmd(args)
    if cmd == "rewind":
        return asyncio.run(rewind_cmd(args))
    if cmd == "readiness":
        return asyncio.run(readiness_cmd(args))
    if cmd == "memory":
        return memory_cmd(args)
    if cmd == "mcp":
        return asyncio.run(mcp_cmd(args))
    if cmd == "trust":
        from .trust_cli import trust_cmd

        return trust_cmd(args)
    raise SystemExit(f"unknown command {cmd}")
