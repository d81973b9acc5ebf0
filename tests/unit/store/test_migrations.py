"""One schema mechanism: every table of a store comes from ``db.MIGRATIONS``, and a store
written by older code is brought forward when it opens, keeping its data."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from minicode_lsp.service import wire
from minicode_lsp.store import db as dbmod
from minicode_lsp.store.blobs import BlobStore
from minicode_lsp.store.checkpoints import CheckpointStore
from minicode_lsp.store.db import Database
from minicode_lsp.store.memory import MemoryStore
from minicode_lsp.store.sessions import SessionStore
from minicode_lsp.store.shell_state import ShellState
from minicode_lsp.store.snapshots import Snapshotter

FIXTURES = Path(__file__).parent / "fixtures"
STORE_TABLES = {
    "sessions", "session_search", "turns", "events", "messages", "tool_calls", "memory",
    "pending_blobs", "edit_groups", "group_files", "snapshot_state", "shell_manifests",
}  # fmt: skip


def tables(db: Database) -> set[str]:
    return {r[0] for r in db.query_tuples("SELECT name FROM sqlite_master WHERE type = 'table'")}


def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "store" / "sessions.db"
    path.parent.mkdir()
    conn = sqlite3.connect(path)
    conn.executescript((FIXTURES / "store_schema3.sql").read_text(encoding="utf-8"))
    conn.close()
    return path


def test_a_new_store_has_every_table_from_its_migrations_alone(tmp_path: Path) -> None:
    """No store module creates tables of its own when it opens (the checkpoint store used to)."""
    with Database(tmp_path / "s.db") as db:
        assert tables(db) >= STORE_TABLES
        assert db.schema_version == len(dbmod.MIGRATIONS)
        indexes = {r[0] for r in db.query_tuples("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"edit_groups_session", "edit_groups_turn", "group_files_path"} <= indexes


def test_every_time_is_stored_as_epoch_seconds(tmp_path: Path) -> None:
    with Database(tmp_path / "s.db") as db:
        columns = {(t, c[1]): c[2] for t in tables(db) for c in db.query_tuples(f"PRAGMA table_info({t})")}
        times = {k: v for k, v in columns.items() if k[1].endswith("_at") or k[1] == "at"}
        assert ("edit_groups", "created_at") in times and ("events", "at") in times
        assert set(times.values()) == {"REAL"}, times


def test_a_store_written_by_the_old_code_is_brought_forward_with_its_data(tmp_path: Path) -> None:
    path = old_store(tmp_path)
    with Database(path) as db:
        assert db.schema_version == len(dbmod.MIGRATIONS) > 3
        assert tables(db) >= STORE_TABLES
        sessions = SessionStore(db)
        (s,) = sessions.list_sessions()[0]
        assert (s.title, s.workspace, s.turns, s.last_stop_reason) == ("old store", "/w", 1, "end_turn")
        (turn,) = sessions.list_turns(s.id)
        assert turn.prompt == "fix the bug in a.py" and turn.usage == {"inputTokens": 10, "outputTokens": 5}
        assert [(tc.name, tc.summary) for tc in turn.tool_calls] == [("edit_file", "edited")]
        assert [(e.type, e.data) for e in sessions.replay(s.id)] == [("text.delta", {"text": "done"})]
        assert [m.text for m in MemoryStore(db).list()] == ["use tabs in Makefiles"]
        cps = CheckpointStore(db, BlobStore(tmp_path / "store" / "blobs", fsync=False))
        try:
            edit, shell = cps.list_groups(session_id=s.id)[::-1]
            assert (edit.kind, edit.label, edit.status, edit.tool_call_id) == ("edit", "edit a.py", "closed", "call1")
            # its time, ISO text before, is epoch seconds now; the wire shows the same instant
            assert isinstance(edit.created_at, float)
            assert edit.created_at == datetime(2026, 12, 2, 13, 59, 24, 559000, UTC).timestamp()
            assert wire.edit_group(edit).created_at == "2026-12-02T13:59:24.559Z"
            assert cps.list_groups(path="/w/a.py")[0].id == edit.id  # the rebuilt table's indexes
            (f,) = edit.files
            assert (f.path, f.action) == ("/w/a.py", "modify")
            assert cps.blobs.get(f.pre_sha or "") == b"old\n" and cps.blobs.get(f.post_sha or "") == b"new\n"
            shell_state = ShellState(cps, Snapshotter(tmp_path, cps.blobs))
            ((group, owner, meta),) = shell_state.interrupted()
            assert (group.id, owner, meta) == (shell.id, "123:abc:n", '{"root": "/w"}')
            assert shell_state.rows(owner) == [("a.py", 4, 1, 2, None, 0o644, 3)]
            # and it keeps working: a new group after the old ones
            w = cps.begin_group(s.id, turn.id, "call3", "edit", "again")
            w.add_change(Path("/w/b.py"), None, b"b\n")
            new = w.commit()
            assert new is not None and new.ordinal > shell.ordinal
            assert new.created_at > edit.created_at and cps.get_group(new.id) == new
        finally:
            cps.close()
    with Database(path) as db:  # opening again changes nothing
        assert db.schema_version == len(dbmod.MIGRATIONS)
