"""Session use-cases: list, show, replay, summarize, export, delete."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..protocol import SessionExportArgs, SessionListArgs, SessionReplayArgs
from ..store import export as exporting
from .errors import Busy, InvalidParams
from .providers import summarize_with_model

if TYPE_CHECKING:
    from .workspace import Workspace


class Sessions:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def list(self, args: SessionListArgs) -> dict[str, Any]:
        try:
            rows, cursor = self.ws.sessions.list_sessions(limit=args.limit, cursor=args.cursor, query=args.query)
        except ValueError as exc:  # a cursor we did not hand out
            raise InvalidParams(str(exc)) from None
        out: dict[str, Any] = {"sessions": [r.to_wire() for r in rows]}
        if cursor:
            out["nextCursor"] = cursor
        return out

    def show(self, session_id: str) -> dict[str, Any]:
        ws = self.ws
        sid = ws.resolve_session(session_id)
        shown = ws.sessions.show_session(sid)
        groups = ws.checkpoints.list_groups(session_id=sid, limit=10_000)
        by_turn: dict[str | None, list[dict[str, Any]]] = {}
        for g in reversed(groups):  # newest first from the store: the tree shows them as they happened
            by_turn.setdefault(g.turn_id, []).append(g.to_wire())
        for turn in shown["turns"]:
            turn["groups"] = by_turn.pop(turn["id"], [])
        # groups outside any turn (a rewind's safety group), and any whose turn is gone
        shown["safetyGroups"] = sorted((g for gs in by_turn.values() for g in gs), key=lambda g: g["createdAt"])
        shown["running"] = sid in ws.running
        return shown

    def transcript_path(self, session_id: str) -> Path:
        """The session as markdown, written to a private file (to open in the editor)."""
        sid = self.ws.resolve_session(session_id)
        path = self.ws.private_file("transcripts", f"{sid}.md")
        path.write_text(exporting.export_markdown(self.ws.sessions, sid), encoding="utf-8")
        return path

    def replay(self, args: SessionReplayArgs) -> dict[str, Any]:
        sid = self.ws.resolve_session(args.session_id)
        return {"events": [e.to_wire() for e in self.ws.sessions.replay(sid, args.from_seq)]}

    async def summarize(self, session_id: str) -> dict[str, Any]:
        """The deterministic summary, plus the model's own when a provider answers."""
        ws = self.ws
        sid = ws.resolve_session(session_id)
        markdown = exporting.summary_markdown(ws.sessions, sid)
        written = await summarize_with_model(ws.settings, markdown, ws.http_client())
        if written:
            markdown = f"{markdown.rstrip()}\n\n## Summary by {written[0]}\n\n{written[1].strip()}\n"
        return {"markdown": markdown, "modelSummary": bool(written)}

    def export(self, args: SessionExportArgs) -> dict[str, Any]:
        sid = self.ws.resolve_session(args.session_id)
        if args.format == "jsonl":
            return {"content": exporting.export_jsonl(self.ws.sessions, sid), "format": "jsonl"}
        return {"content": exporting.export_markdown(self.ws.sessions, sid), "format": "markdown"}

    def delete(self, session_id: str) -> dict[str, Any]:
        ws = self.ws
        sid = ws.resolve_session(session_id)
        if sid in ws.running:
            raise Busy(f"session {sid} has a running turn; cancel it first")
        # One write transaction: the check and the deletion, so no process starts a turn between.
        with ws.db.transaction():
            owner = ws.sessions.running_owner(sid)
            if owner is not None:
                pid, host = owner
                raise Busy(f"session {sid} has a turn running in another process (pid {pid} on {host}); "
                           "cancel it there or wait for it to end, then delete")
            ws.checkpoints.delete_session(sid)
            ws.sessions.delete_session(sid)
        ws.checkpoints.gc()
        ws.notify_sessions(sid, "deleted")
        return {}
