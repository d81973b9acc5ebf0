"""Store records -> the wire contract's models (``protocol.py``): the one place where a record
becomes what a client reads. The store knows nothing of the wire; handlers send ``.wire()``.
A record's plain ``str`` where the contract has an enumeration is checked when the model is
built (a value outside it is a ValidationError, never a wrong answer on the wire)."""

from __future__ import annotations

import json
from typing import cast

from .. import protocol as p
from ..agent.fileio import decode_text
from ..store.records import EventRow, Group, MemoryEntry, SessionRow, ToolCallRow, TurnRow, iso
from ..store.rewind import FilePlan
from ..store.sessions import SessionStore


def _iso(ts: float) -> str:
    return iso(ts) or ""


def session_summary(row: SessionRow) -> p.SessionSummary:
    return p.SessionSummary(
        id=row.id, title=row.title, created_at=_iso(row.created_at), updated_at=_iso(row.updated_at),
        turn_count=row.turns, last_stop_reason=cast(p.StopReason | None, row.last_stop_reason), workspace=row.workspace,
    )


def tool_call(row: ToolCallRow) -> p.ToolCall:
    return p.ToolCall(id=row.tool_call_id, name=row.name, arguments=row.arguments, is_error=row.is_error,
                      summary=row.summary)


def edit_group(group: Group) -> p.EditGroup:
    files = [p.GroupFile(uri=f.uri, path=f.path, action=f.action,
                         **({"skipped": f.skipped_reason} if f.skipped_reason else {})) for f in group.files]
    return p.EditGroup(
        id=group.id, session_id=group.session_id, turn_id=group.turn_id, tool_call_id=group.tool_call_id,
        kind=group.kind, label=group.label, created_at=_iso(group.created_at), status=group.status,
        rewound=group.rewound_by is not None, files=files,
    )


def turn_info(row: TurnRow, groups: list[p.EditGroup]) -> p.TurnInfo:
    return p.TurnInfo(
        id=row.id, seq=row.seq, prompt=row.prompt, profile=row.profile, permission_mode=row.permission_mode,
        status=cast(p.TurnStatus, row.status), stop_reason=cast(p.StopReason | None, row.stop_reason), tool_calls=[tool_call(tc) for tc in row.tool_calls],
        groups=groups, usage=p.Usage.model_validate(row.usage), provider=row.provider,
        started_at=_iso(row.started_at), finished_at=iso(row.finished_at), error=row.error,
    )


def session_detail(row: SessionRow, turns: list[TurnRow], groups: list[Group], *, running: bool) -> p.SessionDetail:
    """The whole tree: each turn with its groups, then the groups outside any turn (a rewind's
    safety group, or one whose turn is gone), each list oldest first."""
    by_turn: dict[str | None, list[p.EditGroup]] = {}
    for g in sorted(groups, key=lambda g: (g.created_at, g.ordinal)):
        by_turn.setdefault(g.turn_id, []).append(edit_group(g))
    shown = [turn_info(t, by_turn.pop(t.id, [])) for t in turns]
    outside = sorted((g for gs in by_turn.values() for g in gs), key=lambda g: g.created_at)
    summary = session_summary(row)
    return p.SessionDetail(**dict(summary), running=running, turns=shown, safety_groups=outside)


def replay_event(row: EventRow) -> p.ReplayEvent:
    return p.ReplayEvent(seq=row.seq, turn_id=row.turn_id, type=row.type, data=row.data, at=row.at)


def event_notification(row: EventRow) -> p.MinicodeEvent:
    """The ``minicode/event`` payload (also one line of a jsonl export)."""
    return p.MinicodeEvent(session_id=row.session_id, seq=row.seq, turn_id=row.turn_id, type=row.type,
                           data=row.data, at=row.at)


def memory_entry(entry: MemoryEntry) -> p.MemoryEntry:
    return p.MemoryEntry(id=entry.id, text=entry.text, scope=cast(p.MemoryScope, entry.scope), tags=entry.tags,
                         created_at=_iso(entry.created_at), source_session=entry.source_session,
                         status=cast(p.MemoryStatus, entry.status))  # checked by the model when built


def rewind_file(plan: FilePlan, *, with_text: bool = False) -> p.RewindFile:
    """One file of a rewind plan; ``with_text``: its restored text too (a preview)."""
    extra: dict[str, str] = {}
    if plan.reason:
        extra["reason"] = plan.reason
    if with_text and plan.new_content is not None:
        extra["new_text"] = decode_text(plan.new_content)
    return p.RewindFile(uri=plan.uri, path=plan.path, action=plan.action, status=plan.status, diff=plan.diff,
                        will_apply=plan.write, **extra)


def export_jsonl(sessions: SessionStore, session_id: str) -> str:
    """One ``minicode/event`` payload per recorded event, in seq order, one JSON object a line
    (each passed through the store's redactor once more: secrets learned after the write)."""
    sessions.get_session(session_id)  # UnknownId for a missing session
    return "".join(
        json.dumps(sessions.redactor(event_notification(ev).wire()), ensure_ascii=False, separators=(",", ":")) + "\n"
        for ev in sessions.replay(session_id)
    )
