"""SQLite access shared by the store modules: WAL, busy timeout, migrations, private files.

Crash-safety promise: a process killed with SIGKILL at any moment leaves a database that
opens, with every committed transaction present. In WAL mode that holds with
``synchronous=NORMAL``: a commit is appended to the ``-wal`` file before ``COMMIT``
returns, and the OS keeps those writes when the process dies. What NORMAL gives up is
durability of the last few commits on *power loss or kernel crash* (the WAL is fsynced
at checkpoints, not at each commit); the database is still consistent then, only the tail
of the timeline may be missing. That is the trade we make: one fsync per streamed event
would cost ~100x on slow disks. Pass ``synchronous="FULL"`` to fsync every commit.

Concurrency: several processes (editor windows, the CLI) share one file. Every write runs
in a short ``BEGIN IMMEDIATE`` transaction (the write lock is taken up front, so two
writers never deadlock upgrading a read lock), and ``busy_timeout`` makes a writer wait
for another instead of failing. Inside one process the connection is guarded by a
re-entrant lock, so calls from worker threads (``asyncio.to_thread``) are serialised.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 10_000
FILE_MODE = 0o600
DIR_MODE = 0o700

# Ordered schema migrations; ``PRAGMA user_version`` holds how many have been applied.
# Never edit an applied entry: append a new one.
MIGRATIONS: list[str] = [
    # 1: sessions, turns, events, messages, tool calls, search text, memory entries
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        workspace TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        turns INTEGER NOT NULL DEFAULT 0,
        last_stop_reason TEXT
    );
    CREATE INDEX sessions_recent ON sessions (updated_at DESC, id DESC);

    CREATE TABLE session_search (
        session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
        text TEXT NOT NULL DEFAULT ''
    ) WITHOUT ROWID;

    CREATE TABLE turns (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        prompt TEXT NOT NULL DEFAULT '',
        profile TEXT NOT NULL DEFAULT '',
        permission_mode TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'running',
        stop_reason TEXT,
        usage TEXT NOT NULL DEFAULT '{}',
        provider TEXT NOT NULL DEFAULT '',
        pid INTEGER,
        pid_marker TEXT NOT NULL DEFAULT '',
        host TEXT NOT NULL DEFAULT '',
        started_at REAL NOT NULL,
        finished_at REAL,
        error TEXT,
        UNIQUE (session_id, seq)
    );
    CREATE INDEX turns_running ON turns (status) WHERE status = 'running';

    CREATE TABLE events (
        session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        turn_id TEXT,
        type TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}',
        at REAL NOT NULL,
        PRIMARY KEY (session_id, seq)
    ) WITHOUT ROWID;

    CREATE TABLE messages (
        turn_id TEXT NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        json TEXT NOT NULL,
        PRIMARY KEY (turn_id, idx)
    ) WITHOUT ROWID;

    CREATE TABLE tool_calls (
        turn_id TEXT NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
        tool_call_id TEXT NOT NULL,
        name TEXT NOT NULL,
        arguments TEXT NOT NULL DEFAULT '{}',
        is_error INTEGER NOT NULL DEFAULT 0,
        summary TEXT NOT NULL DEFAULT '',
        UNIQUE (turn_id, tool_call_id)
    );

    CREATE TABLE memory (
        id TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        scope TEXT NOT NULL DEFAULT 'project',
        tags TEXT NOT NULL DEFAULT '[]',
        created_at REAL NOT NULL,
        source_session TEXT,
        status TEXT NOT NULL DEFAULT 'active'
    );
    """,
    # 2: checkpoint images staged in the transaction of the rows that reference them, until a
    # flusher has written them as durable blob files (store/blobs.py). ``id`` is AUTOINCREMENT
    # so a flusher deletes exactly the rows it wrote, never a row of the same sha staged again
    # after another process flushed the first one; ``data`` holds the raw bytes (compressed by
    # the flusher, off the critical path)
    """
    CREATE TABLE IF NOT EXISTS pending_blobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        sha TEXT NOT NULL UNIQUE,
        data BLOB NOT NULL
    );
    """,
    # 3: exact rewinds. A checkpointed path records what it was (file, symbolic link or folder)
    # and its permission bits before and after; the snapshot stat cache keeps mode and ctime
    # (a chmod, or an in-place rewrite that keeps size and mtime, is seen). The tables are the
    # checkpoint store's (store/checkpoints.py); they are created here in their earlier shape
    # when a store never had them (before migration 4 the checkpoint store made its own), so
    # the ALTERs bring every store to the same one.
    """
    CREATE TABLE IF NOT EXISTS group_files (
      group_id TEXT NOT NULL, path TEXT NOT NULL, action TEXT NOT NULL,
      pre_sha TEXT, post_sha TEXT, post_known INTEGER NOT NULL DEFAULT 0, skipped_reason TEXT,
      PRIMARY KEY (group_id, path)
    );
    CREATE TABLE IF NOT EXISTS snapshot_state (
      owner TEXT NOT NULL, rel TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
      inode INTEGER NOT NULL, sha TEXT, PRIMARY KEY (owner, rel)
    ) WITHOUT ROWID;
    ALTER TABLE group_files ADD COLUMN pre_kind TEXT;
    ALTER TABLE group_files ADD COLUMN post_kind TEXT;
    ALTER TABLE group_files ADD COLUMN pre_mode INTEGER;
    ALTER TABLE group_files ADD COLUMN post_mode INTEGER;
    ALTER TABLE snapshot_state ADD COLUMN mode INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE snapshot_state ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: the rest of the checkpoint store's tables (store/checkpoints.py), which it used to create
    # itself when it opened: edit groups, their indexes, the shell-command manifests. A store
    # that has them keeps them as they are; every store is then at the same schema.
    """
    CREATE TABLE IF NOT EXISTS edit_groups (
      ordinal INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
      session_id TEXT, turn_id TEXT, tool_call_id TEXT,
      kind TEXT NOT NULL,  -- edit | shell | rewind
      label TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL,
      status TEXT NOT NULL DEFAULT 'open',  -- open | closed
      rewound_by TEXT  -- the rewind (safety) group that undid this group
    );
    CREATE INDEX IF NOT EXISTS edit_groups_session ON edit_groups(session_id, ordinal);
    CREATE INDEX IF NOT EXISTS edit_groups_turn ON edit_groups(turn_id);
    CREATE INDEX IF NOT EXISTS group_files_path ON group_files(path);
    -- each snapshotter's stat cache (snapshot_state, migration 3) as of its latest before-command
    -- snapshot, updated by delta (owner: "<pid>:<process marker>:<nonce>"); an open shell group
    -- names the owner whose rows hold its before-snapshot, so a process killed during the command
    -- leaves enough to find its changes
    CREATE TABLE IF NOT EXISTS shell_manifests (group_id TEXT PRIMARY KEY, owner TEXT NOT NULL, meta TEXT NOT NULL);
    """,
    # 5: times stored one way: an edit group's created_at becomes epoch seconds (REAL) like every
    # other table's (it was ISO-8601 text, "2026-01-02T03:04:05.678Z"). SQLite cannot change a
    # column's type, so the table is rebuilt (nothing references it by foreign key).
    """
    CREATE TABLE edit_groups_new (
      ordinal INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
      session_id TEXT, turn_id TEXT, tool_call_id TEXT,
      kind TEXT NOT NULL,  -- edit | shell | rewind
      label TEXT NOT NULL DEFAULT '',
      created_at REAL NOT NULL,  -- epoch seconds
      status TEXT NOT NULL DEFAULT 'open',  -- open | closed
      rewound_by TEXT  -- the rewind (safety) group that undid this group
    );
    INSERT INTO edit_groups_new (ordinal, id, session_id, turn_id, tool_call_id, kind, label, created_at, status,
                                 rewound_by)
      SELECT ordinal, id, session_id, turn_id, tool_call_id, kind, label,
             COALESCE(round((julianday(created_at) - 2440587.5) * 86400.0, 3), 0), status, rewound_by
      FROM edit_groups;
    DROP TABLE edit_groups;
    ALTER TABLE edit_groups_new RENAME TO edit_groups;
    CREATE INDEX edit_groups_session ON edit_groups(session_id, ordinal);
    CREATE INDEX edit_groups_turn ON edit_groups(turn_id);
    """,
]


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700 folders, whatever the umask.

    Folders that already existed are left alone, except ``path`` itself, which is made
    0700 when the current user owns it (the store folder is ours; ``/tmp`` is not).
    """
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not p.exists():
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    for d in reversed(missing):
        with contextlib.suppress(FileExistsError):
            d.mkdir(mode=DIR_MODE)
        os.chmod(d, DIR_MODE)
    if path not in missing and path.stat().st_uid == os.geteuid():
        try:
            os.chmod(path, DIR_MODE)
        except OSError as exc:  # e.g. a read-only mount: not fatal
            log.warning("could not make %s private: %s", path, exc)
    return path


def _make_private_file(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)
    os.chmod(path, FILE_MODE)


class Database:
    """One SQLite connection to a store file (created 0600 in a 0700 folder).

    Use :meth:`transaction` for writes and :meth:`query` / :meth:`query_one` /
    :meth:`query_tuples` for reads; ``conn`` is exposed for what only the connection knows
    (``total_changes``) and for tests.
    """

    def __init__(self, path: Path, *, synchronous: str = "NORMAL", busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        if synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"unsupported synchronous mode: {synchronous}")
        self.path = Path(path)
        ensure_private_dir(self.path.parent)
        _make_private_file(self.path)
        self._lock = threading.RLock()
        self._depth = 0
        self.conn = sqlite3.connect(
            str(self.path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
        self.conn.row_factory = sqlite3.Row
        try:
            self.conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            self._set_wal(busy_timeout_ms / 1000)
            self.conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except BaseException:
            self.conn.close()
            raise
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            with contextlib.suppress(FileNotFoundError, PermissionError):
                os.chmod(side, FILE_MODE)

    # ------------------------------------------------------------------ setup
    def _set_wal(self, timeout_s: float) -> None:
        # Switching the journal mode needs an exclusive lock; another process opening the
        # same file at the same moment can make it fail at once, so retry for a while.
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    log.warning("store %s: journal mode is %s, not wal", self.path, mode)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        with self.transaction() as conn:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > len(MIGRATIONS):
                log.warning(
                    "store %s has schema %d, newer than this version knows (%d)",
                    self.path,
                    version,
                    len(MIGRATIONS),
                )
                return
            for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
                log.info("store %s: applying migration %d", self.path, number)
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    # ------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A short ``BEGIN IMMEDIATE`` write transaction; nested uses join the outer one."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self.conn
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self.conn
            except BaseException:
                self._depth = 0
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise
            self._depth = 0
            self.conn.execute("COMMIT")

    def size_bytes(self) -> int:
        """Bytes used by live pages (free pages are reused, so this is what retention caps)."""
        with self._lock:
            pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
            free = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
            size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
            return row

    def query_tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Like :meth:`query` with plain tuples (no ``sqlite3.Row``): for large reads."""
        with self._lock:
            cur = self.conn.cursor()
            cur.row_factory = None
            return cur.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("PRAGMA optimize")
            self.conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _split_sql(sql: str) -> list[str]:
    """Split a script into statements (quote- and trigger-aware via ``complete_statement``)."""
    statements: list[str] = []
    buf = ""
    for piece in sql.split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip().rstrip(";").strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip().rstrip(";").strip():
        statements.append(buf.strip())
    return statements
