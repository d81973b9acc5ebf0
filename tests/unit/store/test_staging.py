"""Checkpoint images staged in SQLite with their rows, then flushed to blob files in the background.

What must hold: a staged image is committed with the row that references it (it survives a
SIGKILL before any flush, and the next open flushes it, byte for byte); every read sees staged
images; gc never removes a staged blob or one being flushed; a flusher killed at any point
loses nothing (a staging row goes only after its file is durable).
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from minicode_lsp.store import blobs as blobmod
from minicode_lsp.store import db as dbmod
from minicode_lsp.store.blobs import BlobStore
from minicode_lsp.store.checkpoints import CheckpointStore
from minicode_lsp.store.db import Database
from minicode_lsp.store.rewind import plan_rewind

from .test_checkpoints import edit


class Store:
    def __init__(self, root: Path, *, flusher: bool = True) -> None:
        self.db = Database(root / "store" / "sessions.db")
        self.blobs = BlobStore(root / "store" / "blobs")
        if not flusher:  # staged images stay staged until drain(): the state a kill can leave
            self.blobs.wake = lambda: None  # type: ignore[method-assign]
        self.cps = CheckpointStore(self.db, self.blobs)

    def close(self) -> None:
        self.cps.close()
        self.db.close()


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    d = tmp_path / "ws"
    d.mkdir()
    return d


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path, flusher=False)
    yield s
    s.close()


def blob_file(store: Store, sha: str) -> Path:
    return store.blobs.dir / sha[:2] / sha[2:]


def pending(db_path: Path) -> dict[str, bytes]:
    """The staging table, read through a separate connection (what is committed)."""
    conn = sqlite3.connect(db_path)
    try:
        return {sha: bytes(data) for sha, data in conn.execute("SELECT sha, data FROM pending_blobs")}
    finally:
        conn.close()


def wait_until(cond, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return bool(cond())


# ---------------------------------------------------------------------------- in one process
def test_staged_images_are_read_before_any_flush(quiet: Store, ws: Path) -> None:
    f = ws / "a.txt"
    f.write_bytes(b"before\r\n\xff")
    gid = edit(quiet.cps, f, b"after\n")
    g = quiet.cps.get_group(gid)
    assert g is not None
    pre, post = g.files[0].pre_sha, g.files[0].post_sha
    assert pre and post
    # nothing written as a file yet: both images are rows of the staging table
    assert not blob_file(quiet, pre).exists() and not blob_file(quiet, post).exists()
    assert set(pending(quiet.db.path)) == {pre, post}
    assert quiet.blobs.has(pre) and quiet.blobs.has(post)
    assert quiet.blobs.get(pre) == b"before\r\n\xff" and quiet.blobs.get(post) == b"after\n"
    assert quiet.blobs.size_on_disk() >= len(b"before\r\n\xff") + len(b"after\n")
    assert quiet.blobs.size_on_disk(include_staged=False) == 0
    plan = plan_rewind([g], quiet.blobs, lambda p: Path(p).read_bytes())  # rewind planning reads them
    assert plan.files[0].status == "clean" and plan.files[0].new_content == b"before\r\n\xff"

    assert quiet.blobs.drain() == 2
    assert pending(quiet.db.path) == {}
    for sha, data in ((pre, b"before\r\n\xff"), (post, b"after\n")):
        assert zlib.decompress(blob_file(quiet, sha).read_bytes()) == data
        assert quiet.blobs.get(sha) == data


def test_durable_blob_is_not_staged_again(quiet: Store, ws: Path) -> None:
    f = ws / "a.txt"
    f.write_bytes(b"one\n")
    edit(quiet.cps, f, b"two\n")
    quiet.blobs.drain()
    edit(quiet.cps, f, b"three\n")  # pre-image b"two\n" is a durable file now: only the post is staged
    assert list(pending(quiet.db.path)) == [hashlib.sha256(b"three\n").hexdigest()]


def test_a_damaged_file_falls_back_to_the_staged_copy(quiet: Store, ws: Path) -> None:
    f = ws / "a.txt"
    f.write_bytes(b"precious\n")
    w = quiet.cps.begin_group("s1", "t1", "call", "edit", "edit")
    w.before_write(f, b"precious\n")
    sha = hashlib.sha256(b"precious\n").hexdigest()
    path = blob_file(quiet, sha)  # e.g. a snapshot's unsynced file cut short by a crash
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"garbage")
    assert quiet.blobs.get(sha) == b"precious\n"
    quiet.blobs.drain()  # the flusher rewrites it
    assert zlib.decompress(path.read_bytes()) == b"precious\n"


def test_commit_returns_what_get_group_reads(quiet: Store, ws: Path) -> None:
    (ws / "mod.txt").write_bytes(b"m1\n")
    (ws / "del.txt").write_bytes(b"d1\n")
    (ws / "same.txt").write_bytes(b"s\n")
    w = quiet.cps.begin_group("s1", "t1", "call", "edit", "several")
    for name, new in (("mod.txt", b"m2\n"), ("new.txt", b"n\n"), ("del.txt", None), ("same.txt", b"s\n")):
        p = ws / name
        w.before_write(p, p.read_bytes() if p.exists() else None)
        w.after_write(p, new)
    w.add_change(ws / "shell.txt", b"x\n", b"y\n")
    g = w.commit()
    assert g is not None
    assert g == quiet.cps.get_group(g.id)
    assert [(Path(f.path).name, f.action) for f in g.files] == [
        ("del.txt", "delete"), ("mod.txt", "modify"), ("new.txt", "create"), ("shell.txt", "modify")]
    assert quiet.blobs.get(g.files[3].pre_sha or "") == b"x\n"  # add_change images staged at commit


def test_size_cap_still_records_skipped(tmp_path: Path, ws: Path) -> None:
    db = Database(tmp_path / "s.db")
    cps = CheckpointStore(db, BlobStore(tmp_path / "b", max_size=4))
    try:
        f = ws / "big.txt"
        f.write_bytes(b"0123456789")
        w = cps.begin_group("s1", "t1", "c", "edit", "big")
        w.before_write(f, f.read_bytes())
        w.after_write(f, b"x")
        g = w.commit()
        assert g is not None and g.files[0].skipped_reason and "too large" in g.files[0].skipped_reason
        assert g.files[0].pre_sha is None
        assert pending(db.path) == {hashlib.sha256(b"x").hexdigest(): b"x"} or cps.blobs.has(
            hashlib.sha256(b"x").hexdigest())
        assert g == cps.get_group(g.id)
    finally:
        cps.close()
        db.close()


def test_background_flusher_runs_and_close_drains(tmp_path: Path, ws: Path) -> None:
    s = Store(tmp_path)
    f = ws / "a.txt"
    f.write_bytes(b"v0\n")
    edit(s.cps, f, b"v1\n")
    assert wait_until(lambda: s.blobs.staged_count() == 0), "the flusher never ran"
    assert s.blobs.flushed == 2
    for i in range(2, 6):
        edit(s.cps, f, f"v{i}\n".encode())
    s.close()  # drains what is left
    assert pending(s.db.path) == {}
    for i in range(6):
        sha = hashlib.sha256(f"v{i}\n".encode()).hexdigest()
        assert zlib.decompress(blob_file(s, sha).read_bytes()) == f"v{i}\n".encode()


def test_gc_never_deletes_a_staged_blob(quiet: Store, ws: Path) -> None:
    f = ws / "a.txt"
    f.write_bytes(b"pre\n")
    w = quiet.cps.begin_group("s1", "t1", "call", "edit", "open group")
    w.before_write(f, b"pre\n")  # an open group: its row references the staged pre-image
    pre = hashlib.sha256(b"pre\n").hexdigest()
    aborted = quiet.cps.begin_group("s1", "t1", "call2", "edit", "aborted")
    (ws / "b.txt").write_bytes(b"orphan\n")
    aborted.before_write(ws / "b.txt", b"orphan\n")
    aborted.abort()  # its staged pre-image is referenced by nothing, but still staged
    orphan = hashlib.sha256(b"orphan\n").hexdigest()

    assert quiet.blobs.gc(set()) == 0  # a stale "referenced" set, as a racing gc would have
    assert quiet.blobs.get(pre) == b"pre\n" and quiet.blobs.get(orphan) == b"orphan\n"
    quiet.blobs.drain()
    assert quiet.blobs.gc(set()) == 1  # flushed: the orphan goes, the row's pre-image stays
    assert quiet.blobs.get(pre) == b"pre\n" and not quiet.blobs.has(orphan)


@pytest.mark.parametrize("pause_at", ["before_rename", "before_delete"])
def test_gc_never_deletes_a_blob_being_flushed(quiet: Store, pause_at: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    data = os.urandom(3000)
    sha = hashlib.sha256(data).hexdigest()
    with quiet.db.transaction() as conn:  # staged, referenced by no row: only "staged" protects it
        quiet.blobs.stage(conn, sha, data)
    reached, go = threading.Event(), threading.Event()

    def pause() -> None:
        reached.set()
        assert go.wait(10)

    if pause_at == "before_rename":  # the temporary file is written and fsynced, not renamed yet
        real_replace = os.replace

        def replace(src: str, dst: str) -> None:
            pause()
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", replace)
    else:  # renamed and fsynced, its staging row not deleted yet
        real_delete = quiet.blobs._delete_rows

        def delete(ids: list[int]) -> None:
            pause()
            real_delete(ids)

        monkeypatch.setattr(quiet.blobs, "_delete_rows", delete)
    flusher = threading.Thread(target=quiet.blobs.drain)
    flusher.start()
    try:
        assert reached.wait(10)
        tmp_files = list(quiet.blobs.dir.rglob(".tmp-*"))
        assert quiet.blobs.gc(set()) == 0
        assert quiet.blobs.get(sha) == data
        assert all(t.exists() for t in tmp_files)  # a write in progress is left alone
    finally:
        go.set()
        flusher.join(10)
    monkeypatch.undo()
    assert pending(quiet.db.path) == {}
    assert zlib.decompress(blob_file(quiet, sha).read_bytes()) == data
    assert quiet.blobs.gc(set()) == 1  # flushed and unreferenced: now it is garbage


def test_two_flushers_on_one_database(tmp_path: Path, ws: Path) -> None:
    """Two processes (here two connections and stores) flushing the same rows lose nothing."""
    a, b = Store(tmp_path, flusher=False), Store(tmp_path, flusher=False)
    try:
        images = [os.urandom(2000 + i) for i in range(150)]
        with a.db.transaction() as conn:
            for data in images:
                a.blobs.stage(conn, hashlib.sha256(data).hexdigest(), data)
        threads = [threading.Thread(target=s.blobs.drain) for s in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert a.blobs.flushed + b.blobs.flushed >= len(images)
        assert pending(a.db.path) == {}
        for data in images:
            sha = hashlib.sha256(data).hexdigest()
            assert zlib.decompress(blob_file(a, sha).read_bytes()) == data
    finally:
        a.close()
        b.close()


def test_migration_adds_the_staging_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "old.db"
    monkeypatch.setattr(dbmod, "MIGRATIONS", dbmod.MIGRATIONS[:1])  # a store made before staging
    old = Database(path)
    with old.transaction() as conn:
        conn.execute("INSERT INTO sessions (id, created_at, updated_at) VALUES ('S', 0, 0)")
    assert old.schema_version == 1
    assert not old.query("SELECT name FROM sqlite_master WHERE name='pending_blobs'")
    old.close()
    monkeypatch.undo()
    db = Database(path)
    try:
        assert db.schema_version == len(dbmod.MIGRATIONS) >= 2
        assert db.query("SELECT name FROM sqlite_master WHERE name='pending_blobs'")
        assert db.query_one("SELECT id FROM sessions")[0] == "S"  # type: ignore[index]
        cps = CheckpointStore(db, BlobStore(tmp_path / "blobs"))
        (tmp_path / "f").write_bytes(b"x")
        w = cps.begin_group("S", None, None, "edit", "")
        w.before_write(tmp_path / "f", b"x")
        w.after_write(tmp_path / "f", b"y")
        assert w.commit() is not None
        cps.close()
    finally:
        db.close()


# ---------------------------------------------------------------------------- killed processes
WRITER = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from minicode_lsp.store.blobs import BlobStore
    from minicode_lsp.store.checkpoints import CheckpointStore
    from minicode_lsp.store.db import Database

    root, mode = Path(sys.argv[1]), sys.argv[2]
    db = Database(root / "store" / "sessions.db")
    blobs = BlobStore(root / "store" / "blobs")
    blobs.wake = lambda: None  # no flush before we say so
    cps = CheckpointStore(db, blobs)
    target = root / "ws" / "file.bin"
    w = cps.begin_group("s1", "t1", "call", "edit", "edit")
    w.before_write(target, target.read_bytes())
    if mode != "pre":
        new = os.urandom(50_000)
        target.write_bytes(new)
        w.after_write(target, new)
        w.commit()

    def die(*_a, **_k):
        os.kill(os.getpid(), signal.SIGKILL)

    real_replace = os.replace
    if mode == "before_fsync":  # tmp written, not fsynced
        os.fsync = die
    elif mode == "before_rename":  # tmp written and fsynced, not renamed
        os.replace = die
    elif mode == "after_rename":  # renamed, before the folder fsync and the row delete
        def replace(src, dst):
            real_replace(src, dst)
            die()
        os.replace = replace
    elif mode == "before_dir_fsync":  # renamed, the folder not fsynced yet
        import minicode_lsp.store.blobs as blobmod
        blobmod._fsync_dir = die
    elif mode == "before_delete":  # files durable, rows not deleted yet
        blobs._delete_rows = die
    print("staged", flush=True)
    if mode == "pre":
        time.sleep(60)  # killed here: the flusher never ran
    blobs.drain()
    print("not killed", flush=True)
    """
)


@pytest.mark.parametrize("mode", ["pre", "before_fsync", "before_rename", "after_rename", "before_dir_fsync",
                                  "before_delete"])
def test_sigkill_leaves_staged_images_that_the_next_open_flushes(tmp_path: Path, mode: str) -> None:
    (tmp_path / "ws").mkdir()
    original = os.urandom(80_000)
    target = tmp_path / "ws" / "file.bin"
    target.write_bytes(original)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), mode], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline().strip() == "staged"
        if mode == "pre":
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL

    db_path = tmp_path / "store" / "sessions.db"
    staged = pending(db_path)  # the kill left every image staged: nothing lost, nothing half done
    expected = {hashlib.sha256(original).hexdigest(): original}
    if mode != "pre":
        expected[hashlib.sha256(target.read_bytes()).hexdigest()] = target.read_bytes()
    assert staged == expected

    s = Store(tmp_path)  # opening flushes the leftovers in the background
    try:
        assert wait_until(lambda: s.blobs.staged_count() == 0), "leftovers not flushed after open"
        for sha, data in expected.items():
            raw = blob_file(s, sha).read_bytes()
            assert hashlib.sha256(zlib.decompress(raw)).hexdigest() == sha
            assert zlib.decompress(raw) == data
        groups = s.cps.list_groups("s1")
        assert groups and groups[0].files[0].pre_sha == hashlib.sha256(original).hexdigest()
        assert s.blobs.get(groups[0].files[0].pre_sha or "") == original
        # a kill before the rename leaves a temporary file (gc removes it once it is old)
        assert not list(s.blobs.dir.rglob(".tmp-*")) or mode in ("before_fsync", "before_rename")
    finally:
        s.close()


def test_flush_batches_are_bounded(quiet: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blobmod, "FLUSH_BATCH", 7)
    monkeypatch.setattr(blobmod, "FLUSH_BATCH_BYTES", 5000)
    images = [os.urandom(1500) for _ in range(30)]
    with quiet.db.transaction() as conn:
        for data in images:
            quiet.blobs.stage(conn, hashlib.sha256(data).hexdigest(), data)
    assert quiet.blobs.drain() == 30
    assert all(quiet.blobs.get(hashlib.sha256(d).hexdigest()) == d for d in images)
    assert pending(quiet.db.path) == {}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_can_flush_while_the_parent_flushes(quiet: Store, ws: Path) -> None:
    f = ws / "a.txt"
    f.write_bytes(b"one\n")
    edit(quiet.cps, f, b"two\n")
    with quiet.blobs._flush_lock:  # as if the parent's flusher were in the middle of a pass
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            ok = quiet.blobs._flush_lock.acquire(timeout=5)
            os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
