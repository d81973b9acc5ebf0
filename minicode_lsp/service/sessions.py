"""Session use-cases: list, show, replay, summarize, export, delete."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import protocol as p
from ..protocol import SessionExportArgs, SessionListArgs, SessionReplayArgs
from ..store import export as exporting
from . import wire
from .errors import Busy, InvalidParams
from .providers import summarize_with_model

if TYPE_CHECKING:
    from .workspace import Workspace


class Sessions:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def list(self, args: SessionListArgs) -> p.SessionListResult:
        try:
            rows, cursor = self.ws.sessions.list_sessions(limit=args.limit, cursor=args.cursor, query=args.query)
        except ValueError as exc:  # a cursor we did not hand out
            raise InvalidParams(str(exc)) from None
        sessions = [wire.session_summary(r) for r in rows]
        return p.SessionListResult(sessions=sessions, next_cursor=cursor) if cursor else \
            p.SessionListResult(sessions=sessions)

    def show(self, session_id: str) -> p.SessionDetail:
        """The whole tree of the session: turns, their tool calls and groups, the groups outside any turn."""
        ws = self.ws
        sid = ws.resolve_session(session_id)
        groups = ws.checkpoints.list_groups(session_id=sid, limit=10_000)
        return wire.session_detail(ws.sessions.get_session(sid), ws.sessions.list_turns(sid), groups,
                                   running=sid in ws.running)

    def transcript_path(self, session_id: str) -> Path:
        """The session as markdown, written to a private file (to open in the editor)."""
        sid = self.ws.resolve_session(session_id)
        path = self.ws.private_file("transcripts", f"{sid}.md")
        path.write_text(exporting.export_markdown(self.ws.sessions, sid), encoding="utf-8")
        return path

    def replay(self, args: SessionReplayArgs) -> p.SessionReplayResult:
        sid = self.ws.resolve_session(args.session_id)
        if args.limit is None and args.before_seq is None:
            return p.SessionReplayResult(events=[wire.replay_event(e) for e in self.ws.sessions.replay(sid, args.from_seq)])
        events, older, started = self.ws.sessions.replay_page(sid, args.from_seq, args.before_seq, args.limit)
        result = p.SessionReplayResult(events=[wire.replay_event(e) for e in events])
        if args.limit is not None:
            result.older = older
            if started is not None:
                result.turn_started = wire.replay_event(started)
        return result

    async def summarize(self, session_id: str) -> p.SessionSummarizeResult:
        """The deterministic summary, plus the model's own when a provider answers."""
        ws = self.ws
        sid = ws.resolve_session(session_id)
        markdown = exporting.summary_markdown(ws.sessions, sid)
        written = await summarize_with_model(ws.settings, markdown, ws.http_client())
        if written:
            markdown = f"{markdown.rstrip()}\n\n## Summary by {written[0]}\n\n{written[1].strip()}\n"
        return p.SessionSummarizeResult(markdown=markdown, model_summary=bool(written))

    def export(self, args: SessionExportArgs) -> p.SessionExportResult:
        sid = self.ws.resolve_session(args.session_id)
        if args.format == "jsonl":
            return p.SessionExportResult(content=wire.export_jsonl(self.ws.sessions, sid), format="jsonl")
        return p.SessionExportResult(content=exporting.export_markdown(self.ws.sessions, sid), format="markdown")

    def delete(self, session_id: str) -> p.EmptyResult:
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
        return p.EmptyResult()
