"""Sessions, turns, events, messages and tool calls: the durable record of every turn.

Conventions (part of the contract with the service):

- Times are stored as epoch seconds. On the wire, session and turn fields (``createdAt``,
  ``updatedAt``, ``startedAt``, ``finishedAt``) are ISO-8601 UTC strings
  (``2026-01-02T03:04:05.678Z``); an event's ``at`` is an epoch float, like the
  ``minicode/event`` notification.
- Event ``seq`` numbers start at 1 per session and are gapless: each is allocated inside
  the transaction that inserts the event, so several processes appending to one session
  never collide. ``replay(id, from_seq)`` returns events with ``seq >= from_seq``.
- Everything written (prompts, titles, event data, messages, tool arguments, errors) goes
  through the :class:`~minicode_lsp.store.redact.Redactor` first.
- Unknown ids raise :class:`~minicode_lsp.store.ids.UnknownId`; a prefix matching several
  sessions raises :class:`~minicode_lsp.store.ids.AmbiguousId`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import socket
import sqlite3
import time
from typing import Any

from minicode_lsp.store.db import Database
from minicode_lsp.store.ids import (
    AmbiguousId,
    UnknownId,
    is_alive,
    new_id,
    normalize_prefix,
    process_marker,
    resolve_in_table,
    resolve_prefix,
)
from minicode_lsp.store.records import EventRow, SessionRow, ToolCallRow, TurnRow
from minicode_lsp.store.redact import NO_SECRETS, Redactor

log = logging.getLogger(__name__)

TITLE_MAX = 80


def title_from_prompt(prompt: str) -> str:
    line = next((ln.strip() for ln in prompt.splitlines() if ln.strip()), "")
    return line if len(line) <= TITLE_MAX else line[: TITLE_MAX - 1].rstrip() + "…"


def encode_cursor(updated_at: float, id_: str) -> str:
    raw = json.dumps([updated_at, id_], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_at, id_ = json.loads(raw)
        return float(updated_at), str(id_)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError(f"invalid cursor: {cursor!r}") from exc


def _session(row: sqlite3.Row) -> SessionRow:
    return SessionRow(
        row["id"], row["title"], row["workspace"], row["created_at"], row["updated_at"],
        row["turns"], row["last_stop_reason"],
    )  # fmt: skip


def _turn(row: sqlite3.Row) -> TurnRow:
    return TurnRow(
        row["id"], row["session_id"], row["seq"], row["prompt"], row["profile"], row["permission_mode"],
        row["status"], row["stop_reason"], json.loads(row["usage"] or "{}"), row["provider"], row["pid"],
        row["started_at"], row["finished_at"], row["error"],
    )  # fmt: skip


def _dumps(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (a non-UTF-8 file name): SQLite cannot take them raw
        text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str)
    return text


class SessionStore:
    """The session record of one workspace store (see the module docstring)."""

    def __init__(self, db: Database, redactor: Redactor | None = None):
        self.db = db
        self.redactor = redactor or NO_SECRETS
        self.host = socket.gethostname()

    # ----------------------------------------------------------------- sessions
    def create_session(self, title: str = "", workspace: str = "") -> SessionRow:
        now = time.time()
        row = SessionRow(new_id(), self.redactor.text(title)[: TITLE_MAX * 4], workspace, now, now, 0, None)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO sessions (id, title, workspace, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (row.id, row.title, row.workspace, now, now),
            )
            conn.execute(
                "INSERT INTO session_search (session_id, text) VALUES (?, ?)", (row.id, row.title.casefold())
            )
        return row

    def get_session(self, session_id: str) -> SessionRow:
        row = self.db.query_one("SELECT * FROM sessions WHERE id = ?", (session_id,))
        if row is None:
            raise UnknownId(session_id)
        return _session(row)

    def set_title(self, session_id: str, title: str) -> None:
        title = self.redactor.text(title)
        with self.db.transaction() as conn:
            cur = conn.execute("UPDATE sessions SET title = ? WHERE id = ?", (title, session_id))
            if not cur.rowcount:
                raise UnknownId(session_id)
            self._reindex(conn, session_id)

    def resolve_session(self, prefix: str) -> str:
        """A full id from any unique prefix (case-insensitive)."""
        want = normalize_prefix(prefix)
        if not want:
            raise UnknownId(prefix)
        rows = self.db.query(
            "SELECT id FROM sessions WHERE id >= ? AND id < ? ORDER BY id LIMIT 50", (want, want + "\uffff")
        )
        ids = [r["id"] for r in rows]
        if len(ids) == 50 and want not in ids:  # at least 50 match: list these
            raise AmbiguousId(prefix, ids)
        return resolve_prefix(prefix, ids)  # an error echoes what the user typed

    def resolve_turn(self, prefix: str) -> str:
        """A turn's full id from any unique prefix, in any case."""
        return resolve_in_table(self.db, "turns", prefix, "turn")

    def count(self) -> int:
        row = self.db.query_one("SELECT COUNT(*) AS n FROM sessions")
        return int(row["n"]) if row is not None else 0

    def protected_ids(self, keep_newest: int, updated_since: float) -> set[str]:
        """The ``keep_newest`` most recently updated sessions and those updated since then."""
        rows = self.db.query("SELECT id FROM sessions ORDER BY updated_at DESC, id DESC LIMIT ?",
                             (max(0, keep_newest),))
        young = self.db.query("SELECT id FROM sessions WHERE updated_at >= ?", (updated_since,))
        return {r["id"] for r in rows} | {r["id"] for r in young}

    def list_sessions(
        self, limit: int = 50, cursor: str | None = None, query: str | None = None
    ) -> tuple[list[SessionRow], str | None]:
        """Newest first (``updated_at`` desc, ``id`` desc); ``query`` matches every word
        (case-insensitive) against the title and the turns' prompts."""
        limit = max(1, int(limit))
        sql = ["SELECT s.* FROM sessions s"]
        where: list[str] = []
        params: list[Any] = []
        # distinct words, at most 32: SQLite refuses an expression tree deeper than 1000
        terms = list(dict.fromkeys((query or "").casefold().split()))[:32]
        if terms:
            sql.append("JOIN session_search q ON q.session_id = s.id")
            for term in terms:
                where.append("instr(q.text, ?) > 0")
                params.append(term)
        if cursor:
            updated_at, id_ = decode_cursor(cursor)
            where.append("(s.updated_at, s.id) < (?, ?)")
            params += [updated_at, id_]
        if where:
            sql.append("WHERE " + " AND ".join(where))
        sql.append("ORDER BY s.updated_at DESC, s.id DESC LIMIT ?")
        params.append(limit + 1)
        rows = [_session(r) for r in self.db.query(" ".join(sql), params)]
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1].updated_at, rows[-1].id)
        return rows, next_cursor

    def delete_session(self, session_id: str) -> None:
        """Delete a session with its turns, events, messages and tool calls."""
        with self.db.transaction() as conn:
            if not conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount:
                raise UnknownId(session_id)

    def running_owner(self, session_id: str) -> tuple[int, str] | None:
        """(pid, host) of a turn of this session still running in a live process, any process
        (a turn of another host counts: its process cannot be checked from here); None if none.
        Call it inside the transaction that then deletes, so no turn can start in between."""
        for row in self.db.query(
            "SELECT pid, pid_marker, host FROM turns WHERE session_id = ? AND status = 'running'", (session_id,)
        ):
            if row["host"] and row["host"] != self.host:
                return int(row["pid"] or 0), str(row["host"])
            if row["pid"] and is_alive(row["pid"], row["pid_marker"]):
                return int(row["pid"]), str(row["host"] or self.host)
        return None

    def running_elsewhere(self, session_id: str) -> int | None:
        """The pid of a live process of this host (not this one) running a turn of this session."""
        for row in self.db.query(
            "SELECT pid, pid_marker, host FROM turns WHERE session_id = ? AND status = 'running'", (session_id,)
        ):
            if row["pid"] == os.getpid() or (row["host"] and row["host"] != self.host):
                continue
            if row["pid"] and is_alive(row["pid"], row["pid_marker"]):
                return int(row["pid"])
        return None

    def prune(self, max_sessions: int, keep: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Delete the oldest sessions beyond ``max_sessions``; never those in ``keep`` nor
        those with a running turn. Returns the deleted ids, oldest first."""
        deleted: list[str] = []
        with self.db.transaction() as conn:
            total = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
            excess = total - max(0, max_sessions)
            if excess <= 0:
                return []
            rows = conn.execute(
                "SELECT id FROM sessions s WHERE NOT EXISTS "
                "(SELECT 1 FROM turns t WHERE t.session_id = s.id AND t.status = 'running') "
                "ORDER BY updated_at ASC, id ASC"
            )
            for row in rows.fetchall():
                if len(deleted) >= excess:
                    break
                if row["id"] in keep:
                    continue
                conn.execute("DELETE FROM sessions WHERE id = ?", (row["id"],))
                deleted.append(row["id"])
        return deleted

    # -------------------------------------------------------------------- turns
    def start_turn(
        self, session_id: str, prompt: str, profile: str = "single", permission_mode: str = "ask"
    ) -> TurnRow:
        """Record a running turn with this process's pid and start marker. The first
        turn of an untitled session gives it its title."""
        now = time.time()
        prompt = self.redactor.text(prompt)
        pid = os.getpid()
        with self.db.transaction() as conn:
            srow = conn.execute("SELECT title FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if srow is None:
                raise UnknownId(session_id)
            seq = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE session_id = ?", (session_id,)
            ).fetchone()[0]
            turn = TurnRow(
                new_id(), session_id, seq, prompt, profile, permission_mode, "running", None, {}, "",
                pid, now, None, None,
            )  # fmt: skip
            conn.execute(
                "INSERT INTO turns (id, session_id, seq, prompt, profile, permission_mode, status, pid,"
                " pid_marker, host, started_at) VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)",
                (turn.id, session_id, seq, prompt, profile, permission_mode, pid,
                 process_marker(pid), self.host, now),
            )  # fmt: skip
            title_sql = ", title = ?" if not srow["title"] else ""
            conn.execute(
                f"UPDATE sessions SET turns = turns + 1, updated_at = ?{title_sql} WHERE id = ?",
                (now, title_from_prompt(prompt), session_id) if title_sql else (now, session_id),
            )
            self._reindex(conn, session_id)
        return turn

    def finish_turn(
        self,
        turn_id: str,
        stop_reason: str,
        usage: dict[str, Any] | None = None,
        provider: str = "",
        error: str | None = None,
        *,
        status: str = "finished",
    ) -> None:
        now = time.time()
        with self.db.transaction() as conn:
            row = conn.execute("SELECT session_id FROM turns WHERE id = ?", (turn_id,)).fetchone()
            if row is None:
                raise UnknownId(turn_id, "turn")
            conn.execute(
                "UPDATE turns SET status = ?, stop_reason = ?, usage = ?, provider = ?, error = ?,"
                " finished_at = ? WHERE id = ?",
                (status, stop_reason, _dumps(self.redactor(usage or {})), provider,
                 self.redactor.text(error) if error else None, now, turn_id),
            )  # fmt: skip
            conn.execute(
                "UPDATE sessions SET last_stop_reason = ?, updated_at = ? WHERE id = ?",
                (stop_reason, now, row["session_id"]),
            )

    def get_turn(self, turn_id: str) -> TurnRow:
        row = self.db.query_one("SELECT * FROM turns WHERE id = ?", (turn_id,))
        if row is None:
            raise UnknownId(turn_id, "turn")
        return _turn(row)

    def list_turns(self, session_id: str) -> list[TurnRow]:
        turns = [
            _turn(r)
            for r in self.db.query("SELECT * FROM turns WHERE session_id = ? ORDER BY seq", (session_id,))
        ]
        by_id = {t.id: t for t in turns}
        for r in self.db.query(
            "SELECT c.* FROM tool_calls c JOIN turns t ON t.id = c.turn_id WHERE t.session_id = ? ORDER BY c.rowid",
            (session_id,),
        ):
            by_id[r["turn_id"]].tool_calls.append(
                ToolCallRow(r["turn_id"], r["tool_call_id"], r["name"], json.loads(r["arguments"]),
                            bool(r["is_error"]), r["summary"])
            )  # fmt: skip
        return turns

    def mark_interrupted(self) -> list[str]:
        """Turns left ``running`` by a process that is gone (or whose pid was reused) become
        ``interrupted``, with a ``turn.finished`` event (``stopReason: interrupted``)
        closing their timeline. Turns of other hosts are left alone."""
        rows = self.db.query(
            "SELECT id, session_id, pid, pid_marker, host FROM turns WHERE status = 'running'"
        )
        marked: list[str] = []
        for row in rows:
            if row["host"] and row["host"] != self.host:
                continue
            if row["pid"] and is_alive(row["pid"], row["pid_marker"]):
                continue
            now = time.time()
            with self.db.transaction() as conn:
                cur = conn.execute(
                    "UPDATE turns SET status = 'interrupted', stop_reason = 'interrupted', finished_at = ?"
                    " WHERE id = ? AND status = 'running'",
                    (now, row["id"]),
                )
                if not cur.rowcount:  # another process got there first
                    continue
                last = conn.execute(
                    "SELECT turn_id, type, data FROM events WHERE session_id = ? ORDER BY seq DESC LIMIT 1",
                    (row["session_id"],),
                ).fetchone()
                if last is not None and last["turn_id"] == row["id"] and last["type"] == "turn.finished":
                    # killed between storing its turn.finished and its status: that event stands
                    done = json.loads(last["data"])
                    stop = str(done.get("stopReason") or "interrupted")
                    conn.execute(
                        "UPDATE turns SET status = 'finished', stop_reason = ?, usage = ?, provider = ?,"
                        " error = ? WHERE id = ?",
                        (stop, _dumps(done.get("usage") or {}), done.get("provider") or "", done.get("error"),
                         row["id"]),
                    )
                    conn.execute("UPDATE sessions SET last_stop_reason = ?, updated_at = ? WHERE id = ?",
                                 (stop, now, row["session_id"]))
                    log.info("turn %s had finished (%s) before its process died", row["id"], stop)
                    marked.append(row["id"])
                    continue
                conn.execute(
                    "UPDATE sessions SET last_stop_reason = 'interrupted', updated_at = ? WHERE id = ?",
                    (now, row["session_id"]),
                )
                data = {"stopReason": "interrupted", "usage": {}, "interrupted": True}
                self._insert_event(conn, row["session_id"], row["id"], "turn.finished", data, now)
            log.info("turn %s of session %s marked interrupted", row["id"], row["session_id"])
            marked.append(row["id"])
        return marked

    # ------------------------------------------------------------------- events
    def append_event(self, session_id: str, turn_id: str | None, type: str, data: dict[str, Any]) -> EventRow:
        """Store one event (redacted) under the session's next seq."""
        clean = self.redactor(data or {})
        try:
            with self.db.transaction() as conn:
                return self._insert_event(conn, session_id, turn_id, type, clean, time.time())
        except sqlite3.IntegrityError as exc:
            if self.db.query_one("SELECT 1 FROM sessions WHERE id = ?", (session_id,)) is None:
                raise UnknownId(session_id) from exc
            raise

    def _insert_event(
        self,
        conn: sqlite3.Connection,
        session_id: str,
        turn_id: str | None,
        type: str,
        data: dict[str, Any],
        at: float,
    ) -> EventRow:
        seq = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE session_id = ?", (session_id,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO events (session_id, seq, turn_id, type, data, at) VALUES (?, ?, ?, ?, ?, ?)",
            (session_id, seq, turn_id, type, _dumps(data), at),
        )
        return EventRow(session_id, seq, turn_id, type, data, at)

    def replay(self, session_id: str, from_seq: int = 0, limit: int | None = None) -> list[EventRow]:
        """The recorded events with ``seq >= from_seq``, in seq order (nothing re-executed)."""
        sql = "SELECT seq, turn_id, type, data, at FROM events WHERE session_id = ? AND seq >= ? ORDER BY seq"
        params: list[Any] = [session_id, from_seq]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self.db.query_tuples(sql, params)
        loads = json.loads
        return [EventRow(session_id, seq, tid, typ, loads(data), at) for seq, tid, typ, data, at in rows]

    def replay_page(self, session_id: str, from_seq: int = 0, before_seq: int | None = None,
                    limit: int | None = None) -> tuple[list[EventRow], bool, EventRow | None]:
        """The events with ``from_seq <= seq < before_seq``, in seq order; with ``limit``, only the
        newest ``limit`` of them. Also: whether older ones were left out, and the ``turn.started``
        event of the first event's turn when the page begins after it."""
        sql = "SELECT seq, turn_id, type, data, at FROM events WHERE session_id = ? AND seq >= ?"
        params: list[Any] = [session_id, from_seq]
        if before_seq is not None:
            sql += " AND seq < ?"
            params.append(before_seq)
        if limit is None:
            rows = self.db.query_tuples(sql + " ORDER BY seq", params)
        else:  # newest first, one more than asked for: is there anything older?
            rows = self.db.query_tuples(sql + " ORDER BY seq DESC LIMIT ?", [*params, limit + 1])
            rows.reverse()
        older = limit is not None and len(rows) > limit
        if older:
            rows = rows[1:]
        loads = json.loads
        events = [EventRow(session_id, seq, tid, typ, loads(data), at) for seq, tid, typ, data, at in rows]
        started = None
        first = events[0] if events else None
        if older and first is not None and first.turn_id is not None and first.type != "turn.started":
            row = self.db.query_one(
                "SELECT seq, turn_id, type, data, at FROM events WHERE session_id = ? AND turn_id = ? "
                "AND type = 'turn.started' AND seq < ? ORDER BY seq LIMIT 1",
                (session_id, first.turn_id, first.seq),
            )
            if row is not None:
                started = EventRow(session_id, row["seq"], row["turn_id"], row["type"], loads(row["data"]), row["at"])
        return events, older, started

    def latest_working_memory(self, session_id: str, finished_type: str) -> dict[str, Any] | None:
        """The ``workingMemory`` of the session's latest ``finished_type`` event that has one."""
        row = self.db.query_one(
            "SELECT data FROM events WHERE session_id = ? AND type = ? "
            "AND json_extract(data, '$.workingMemory') IS NOT NULL ORDER BY seq DESC LIMIT 1",
            (session_id, finished_type),
        )
        if row is None:
            return None
        try:
            wm = json.loads(row["data"]).get("workingMemory")
        except (ValueError, AttributeError):
            return None
        return wm if isinstance(wm, dict) else None

    # ------------------------------------------------------- messages, tool calls
    def save_messages(self, turn_id: str, messages: list[Any]) -> None:
        """Replace the turn's conversation messages (dicts, or objects with ``to_dict``)."""
        dicts = [m.to_dict() if hasattr(m, "to_dict") else m for m in messages]
        rows = [(turn_id, i, _dumps(self.redactor(m))) for i, m in enumerate(dicts)]
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM messages WHERE turn_id = ?", (turn_id,))
            conn.executemany("INSERT INTO messages (turn_id, idx, json) VALUES (?, ?, ?)", rows)

    def load_history(self, session_id: str) -> list[dict[str, Any]]:
        """Every turn's saved messages, in turn then message order (for resuming)."""
        rows = self.db.query(
            "SELECT m.json FROM messages m JOIN turns t ON t.id = m.turn_id WHERE t.session_id = ?"
            " ORDER BY t.seq, m.idx",
            (session_id,),
        )
        return [json.loads(r["json"]) for r in rows]

    def record_tool_call(
        self,
        turn_id: str,
        tool_call_id: str,
        name: str,
        arguments: dict[str, Any] | None = None,
        *,
        is_error: bool = False,
        summary: str = "",
    ) -> None:
        """Insert or update (same ``tool_call_id``) one tool call of a turn."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO tool_calls (turn_id, tool_call_id, name, arguments, is_error, summary)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (turn_id, tool_call_id) DO UPDATE SET"
                " name = excluded.name, arguments = excluded.arguments, is_error = excluded.is_error,"
                " summary = excluded.summary",
                (turn_id, tool_call_id, name, _dumps(self.redactor(arguments or {})), int(is_error),
                 self.redactor.text(summary)),
            )  # fmt: skip

    # ------------------------------------------------------------------ helpers
    def _reindex(self, conn: sqlite3.Connection, session_id: str) -> None:
        title = conn.execute("SELECT title FROM sessions WHERE id = ?", (session_id,)).fetchone()[0]
        prompts = [
            r[0]
            for r in conn.execute("SELECT prompt FROM turns WHERE session_id = ? ORDER BY seq", (session_id,))
        ]
        text = "\n".join([title, *prompts]).casefold()
        conn.execute(
            "INSERT INTO session_search (session_id, text) VALUES (?, ?)"
            " ON CONFLICT (session_id) DO UPDATE SET text = excluded.text",
            (session_id, text),
        )
