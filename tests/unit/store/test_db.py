"""Database: WAL, pragmas, migrations, private files; locations; ids."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from minicode_lsp.store import db as dbmod
from minicode_lsp.store.db import Database, ensure_private_dir
from minicode_lsp.store.ids import AmbiguousId, UnknownId, id_time, new_id, resolve_prefix
from minicode_lsp.store.locations import store_dir_for, workspace_key


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_files_are_0600_and_folders_0700_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        path = tmp_path / "state" / "minicode" / "ws-abc" / "sessions.sqlite3"
        db = Database(path)
        with db.transaction() as conn:
            conn.execute("INSERT INTO sessions (id, created_at, updated_at) VALUES ('X', 0, 0)")
        db.close()
        db = Database(path)  # reopening keeps the modes
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    for side in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if side.exists():
            assert mode(side) == 0o600
    for d in (tmp_path / "state", tmp_path / "state" / "minicode", path.parent):
        assert mode(d) == 0o700
    db.close()


def test_existing_parent_folders_are_left_alone(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    ensure_private_dir(tmp_path / "store")
    assert mode(tmp_path) == 0o755
    assert mode(tmp_path / "store") == 0o700


def test_pragmas(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    conn = db.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    assert db.schema_version == len(dbmod.MIGRATIONS)
    db.close()
    full = Database(tmp_path / "s.db", synchronous="FULL")
    assert full.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    full.close()


def test_migrations_apply_in_order_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.db"
    Database(path).close()
    extra = "CREATE TABLE extra (x INTEGER); INSERT INTO extra VALUES (1);"
    monkeypatch.setattr(dbmod, "MIGRATIONS", [*dbmod.MIGRATIONS, extra])
    db = Database(path)
    assert db.schema_version == len(dbmod.MIGRATIONS)
    db.close()
    db = Database(path)  # not applied twice
    assert db.query_one("SELECT COUNT(*) AS n FROM extra")["n"] == 1  # type: ignore[index]
    db.close()


def test_a_failing_migration_leaves_the_schema_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.db"
    Database(path).close()
    monkeypatch.setattr(
        dbmod, "MIGRATIONS", [*dbmod.MIGRATIONS, "CREATE TABLE good (x); CREATE TABLE bad (;"]
    )
    with pytest.raises(sqlite3.OperationalError):
        Database(path)
    monkeypatch.undo()
    db = Database(path)
    assert db.schema_version == len(dbmod.MIGRATIONS)
    assert db.query_one("SELECT name FROM sqlite_master WHERE name = 'good'") is None
    db.close()


def test_newer_schema_is_opened_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "s.db"
    db = Database(path)
    db.conn.execute(f"PRAGMA user_version = {len(dbmod.MIGRATIONS) + 5}")
    db.close()
    Database(path).close()
    assert "newer" in caplog.text


def test_migration_scripts_split_on_statements_not_on_quoted_semicolons() -> None:
    ddl = """
        CREATE TABLE IF NOT EXISTS groups (id TEXT PRIMARY KEY, label TEXT DEFAULT 'a;b');
        CREATE INDEX IF NOT EXISTS groups_label ON groups (label);
    """
    statements = dbmod._split_sql(ddl)
    assert len(statements) == 2 and "'a;b'" in statements[0]


def test_transaction_rolls_back_and_nests(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO sessions (id, created_at, updated_at) VALUES ('A', 0, 0)")
        raise RuntimeError("boom")
    assert db.query("SELECT * FROM sessions") == []
    with db.transaction() as conn:
        conn.execute("INSERT INTO sessions (id, created_at, updated_at) VALUES ('B', 0, 0)")
        with db.transaction() as inner:
            inner.execute("INSERT INTO sessions (id, created_at, updated_at) VALUES ('C', 0, 0)")
    assert [r["id"] for r in db.query("SELECT id FROM sessions ORDER BY id")] == ["B", "C"]
    assert not db.conn.in_transaction
    db.close()


# ------------------------------------------------------------------ locations
def test_store_dir_is_outside_the_workspace_and_per_root(tmp_path: Path) -> None:
    ws1, ws2 = tmp_path / "proj", tmp_path / "other" / "proj"
    ws1.mkdir()
    ws2.mkdir(parents=True)
    d1, d2 = store_dir_for(ws1), store_dir_for(ws2)
    assert d1 != d2
    assert d1 == store_dir_for(ws1)
    assert ws1.resolve() not in d1.resolve().parents
    assert d1.name.startswith("proj-") and len(d1.name) == len("proj-") + 12
    assert d1.parent.name == "workspaces"


def test_configured_store_path(tmp_path: Path) -> None:
    ws = tmp_path / "My Project!"
    ws.mkdir()
    configured = store_dir_for(ws, str(tmp_path / "stores"))
    assert configured == tmp_path / "stores" / workspace_key(ws)
    assert workspace_key(ws).startswith("my-project-")
    assert store_dir_for(ws, "rel") == ws.resolve() / "rel" / workspace_key(ws)


# ------------------------------------------------------------------------ ids
def test_ids_are_26_crockford_chars_sorted_by_time() -> None:
    ids = [new_id() for _ in range(2000)]
    assert all(len(i) == 26 and set(i) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for i in ids)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert abs(id_time(ids[0]) - time.time()) < 5
    assert new_id(now=1000.0) < new_id(now=2000.0)


def test_resolve_prefix() -> None:
    ids = ["01ABCDEF", "01ABXYZ0", "02ZZZZZZ"]
    assert resolve_prefix("02", ids) == "02ZZZZZZ"
    assert resolve_prefix("01abc", ids) == "01ABCDEF"  # any case
    with pytest.raises(AmbiguousId) as amb:
        resolve_prefix("01AB", ids)
    assert amb.value.matches == ["01ABCDEF", "01ABXYZ0"]
    assert "01ABCDEF" in str(amb.value) and "01ABXYZ0" in str(amb.value)
    with pytest.raises(UnknownId):
        resolve_prefix("03", ids)
    with pytest.raises(UnknownId):
        resolve_prefix("", ids)
    assert resolve_prefix("01AB", ["01AB", "01ABC"]) == "01AB"  # an exact match wins


def test_size_bytes_counts_live_pages(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    empty = db.size_bytes()
    with db.transaction() as conn:
        conn.executemany(
            "INSERT INTO sessions (id, title, created_at, updated_at) VALUES (?, ?, 0, 0)",
            [(f"S{i}", "x" * 500) for i in range(200)],
        )
    assert db.size_bytes() > empty + 100_000
    with db.transaction() as conn:
        conn.execute("DELETE FROM sessions")
    assert db.size_bytes() < empty + 20_000
    db.close()


def test_a_store_from_before_exact_rewinds_is_brought_forward(tmp_path: Path) -> None:
    """Migration 3: a store whose checkpoint tables have their earlier shape (no kinds, no modes)
    opens, keeps its rows (read as files of unknown mode) and records kinds and modes from then on."""
    from minicode_lsp.store.blobs import BlobStore
    from minicode_lsp.store.checkpoints import CheckpointStore
    from minicode_lsp.store.shell_state import ShellState
    from minicode_lsp.store.snapshots import Snapshotter

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for sql in dbmod.MIGRATIONS[:2]:
        for statement in dbmod._split_sql(sql):
            conn.execute(statement)
    conn.executescript("""
        CREATE TABLE edit_groups (ordinal INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
          session_id TEXT, turn_id TEXT, tool_call_id TEXT, kind TEXT NOT NULL, label TEXT NOT NULL DEFAULT '',
          created_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open', rewound_by TEXT);
        CREATE TABLE group_files (group_id TEXT NOT NULL, path TEXT NOT NULL, action TEXT NOT NULL,
          pre_sha TEXT, post_sha TEXT, post_known INTEGER NOT NULL DEFAULT 0, skipped_reason TEXT,
          PRIMARY KEY (group_id, path));
        CREATE TABLE snapshot_state (owner TEXT NOT NULL, rel TEXT NOT NULL, size INTEGER NOT NULL,
          mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, sha TEXT, PRIMARY KEY (owner, rel)) WITHOUT ROWID;
        INSERT INTO edit_groups(id, session_id, kind, created_at, status) VALUES ('g1', 's1', 'edit', 'now', 'closed');
        INSERT INTO group_files VALUES ('g1', '/w/a.txt', 'modify', 'aa', 'bb', 1, NULL);
        INSERT INTO snapshot_state VALUES ('o', 'a.txt', 1, 2, 3, 'aa');
        PRAGMA user_version = 2;
    """)
    conn.close()
    with Database(path) as db:
        assert db.schema_version == len(dbmod.MIGRATIONS) >= 3
        cps = CheckpointStore(db, BlobStore(tmp_path / "blobs"))
        (old,) = cps.get_group("g1").files  # type: ignore[union-attr]
        assert (old.pre_kind, old.post_kind, old.pre_mode, old.post_mode) == ("file", "file", None, None)
        assert ShellState(cps, Snapshotter(tmp_path, cps.blobs)).rows("o") == [("a.txt", 1, 2, 3, "aa", 0, 0)]
        w = cps.begin_group("s1", None, None, "shell", "ln")
        w.add_change_sha("/w/l", None, "cc", action="create", post_kind="link")
        w.add_change_sha("/w/d", None, None, action="create", post_kind="dir", post_mode=0o750)
        g = w.commit()
        assert g is not None
        assert {(f.path, f.post_kind, f.post_mode) for f in cps.get_group(g.id).files} == {  # type: ignore[union-attr]
            ("/w/l", "link", None), ("/w/d", "dir", 0o750)}
        cps.close()
