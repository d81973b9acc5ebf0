"""Slash commands: checkpoints and rewind, which ACP has no standard for, and a few read-outs.

``/rewind`` is shown as an edit tool call with one diff per file (merged and conflicting files
marked) and asks permission before it writes, as the LSP preview does; it keeps the user's
later edits (three-way). Everything else answers as an agent message.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from acp import helpers
from acp.schema import ToolCallLocation, ToolCallUpdate

from .. import protocol as p
from ..agent.fileio import decode_text
from ..service import ServiceError
from ..wording import plural
from .frontend import OPTIONS

if TYPE_CHECKING:
    from .agent import AcpSession, MiniCodeAgent


def say(agent: MiniCodeAgent, session: AcpSession, text: str) -> None:
    agent.send_update(session.id, helpers.update_agent_message_text(text.rstrip() + "\n"))


async def run_slash(agent: MiniCodeAgent, session: AcpSession, line: str) -> None:
    name, _, rest = line[1:].partition(" ")
    handler = HANDLERS.get(name)
    if handler is None:
        say(agent, session, f"Unknown command /{name}. Commands: " + ", ".join(f"/{n}" for n in HANDLERS))
        return
    try:
        await handler(agent, session, rest.strip())
    except ServiceError as exc:
        say(agent, session, f"/{name}: {exc.message}")


def rewind_target(arg: str, session: AcpSession) -> list[dict[str, Any]]:
    """The targets to try, in order, for ``/rewind ARG``."""
    if arg in ("", "latest"):
        return [{"latest": True}]
    if arg in ("session", "all"):
        return [{"session": True}]
    if arg.isdigit():
        return [{"steps": int(arg)}]
    want = arg.upper()
    svc = session.svc
    turns = [t.id for t in svc.workspace.sessions.list_turns(session.id) if t.id.upper().startswith(want)]
    groups = [g.id for g in svc.workspace.checkpoints.list_groups(session_id=session.id, limit=10_000)
              if g.id.upper().startswith(want)]
    return [{"turnId": t} for t in turns] + [{"groupId": g} for g in groups]


async def cmd_rewind(agent: MiniCodeAgent, session: AcpSession, arg: str) -> None:
    svc = session.svc
    targets = rewind_target(arg, session)
    if len(targets) != 1:
        say(agent, session, f"/rewind {arg}: " + ("no turn or checkpoint of this session starts with that id"
                                                  if not targets else "that id prefix names several; give more of it"))
        return
    preview = svc.rewind.preview(p.RewindPreviewArgs(session_id=session.id,
                                                     target=p.RewindTarget.model_validate(targets[0])))
    stored = svc.rewind.previews[preview.preview_id]
    plan = stored.plan
    changing = [f for f in plan.files if f.write and f.new_content != f.current]
    if not plan.groups or not plan.files:
        say(agent, session, "Nothing to rewind.")
        return
    lines = [f"- {f.action} {f.path} ({f.status}{': ' + f.reason if f.reason else ''})" for f in plan.files]
    call_id = f"rewind-{uuid.uuid4().hex[:8]}"
    content: list[Any] = [helpers.tool_diff_content(f.path, decode_text(f.new_content) if f.new_content is not None else "",
                                         decode_text(f.current) if f.current is not None else None) for f in changing]
    content.append(helpers.tool_content(helpers.text_block("\n".join(lines))))
    title = f"Rewind {plural(len(plan.groups), 'agent change')} in {plural(len(plan.files), 'file')}"
    agent.send_update(session.id, helpers.start_tool_call(
        call_id, title, kind="edit", status="pending", content=content,
        locations=[ToolCallLocation(path=f.path) for f in plan.files], raw_input={"target": targets[0]}))
    if not changing:
        reason = f"{plural(len(plan.conflicts), 'file')} in conflict with your later edits" if plan.conflicts else \
            "the files are already as they were"
        agent.send_update(session.id, helpers.update_tool_call(call_id, status="failed"))
        say(agent, session, f"Nothing applied: {reason}.")
        return
    frontend = svc.workspace.frontend
    chosen = await frontend._ask(session, ToolCallUpdate(  # type: ignore[attr-defined]
        tool_call_id=call_id, title=title, kind="edit", status="pending", content=content), OPTIONS)
    if chosen not in ("allow_once", "allow_always"):
        agent.send_update(session.id, helpers.update_tool_call(call_id, status="failed"))
        say(agent, session, "Rewind declined; nothing changed.")
        return
    # applied by its previewId: the answer above was the one confirmation
    result = await svc.rewind.apply(p.RewindApplyArgs(preview_id=preview.preview_id))
    done = result.applied
    agent.send_update(session.id, helpers.update_tool_call(call_id, status="completed" if done else "failed"))
    if done:
        say(agent, session, f"Rewound {plural(len(changing), 'file')}; `/rewind-undo` brings them back "
                            f"(safety checkpoint {str(result.safety_group_id)[:12]}).")
    else:
        say(agent, session, f"Nothing applied: {result.reason or 'declined'}.")


async def cmd_rewind_undo(agent: MiniCodeAgent, session: AcpSession, arg: str) -> None:
    result = await session.svc.rewind.undo(session.id)
    if result.applied:
        say(agent, session, f"Restored {plural(len(result.files), 'file')} as they were before the rewind.")
    else:
        say(agent, session, "Undo declined; nothing changed.")


async def cmd_checkpoints(agent: MiniCodeAgent, session: AcpSession, arg: str) -> None:
    groups = session.svc.rewind.list_checkpoints(p.CheckpointListArgs(session_id=session.id)).groups
    if not groups:
        say(agent, session, "No checkpoints in this session yet.")
        return
    lines = []
    for g in groups:
        files = ", ".join(f"{f.action} {f.path}" for f in g.files)
        mark = " (rewound)" if g.rewound else ""
        lines.append(f"- `{g.id[:12]}` turn `{(g.turn_id or '-')[:12]}` {g.kind}: {files}{mark}")
    say(agent, session, "Checkpoints, newest first (`/rewind <id>` takes one back and all after it):\n"
        + "\n".join(lines))


async def cmd_sessions(agent: MiniCodeAgent, session: AcpSession, arg: str) -> None:
    rows = session.svc.sessions.list(p.SessionListArgs(limit=20)).sessions
    lines = [f"- `{s.id[:12]}` {s.updated_at[:19]} {plural(s.turn_count, 'turn')} {s.last_stop_reason or '-'}: "
             f"{s.title or '(untitled)'}" for s in rows]
    say(agent, session, "Sessions of this workspace, newest first:\n" + ("\n".join(lines) or "(none)"))


async def cmd_readiness(agent: MiniCodeAgent, session: AcpSession, arg: str) -> None:
    report = (await session.svc.readiness.refresh(probe=True)).wire()
    lines = [f"Readiness: **{report['state']}**"]
    for check in report.get("checks", []):
        fix = f" (fix: {check['fix']})" if check.get("fix") else ""
        lines.append(f"- {check['status']}: {check['name']}: {check.get('detail', '')}{fix}")
    say(agent, session, "\n".join(lines))


async def cmd_memory(agent: MiniCodeAgent, session: AcpSession, arg: str) -> None:
    entries = session.svc.memory.show(p.MemoryShowArgs()).entries
    lines = [f"- [{e.scope}] {e.text}" + (" (proposed)" if e.status == "proposed" else "") for e in entries]
    say(agent, session, "Memory entries:\n" + ("\n".join(lines) or "(none)"))


HANDLERS = {
    "rewind": cmd_rewind,
    "rewind-undo": cmd_rewind_undo,
    "checkpoints": cmd_checkpoints,
    "sessions": cmd_sessions,
    "readiness": cmd_readiness,
    "memory": cmd_memory,
}
