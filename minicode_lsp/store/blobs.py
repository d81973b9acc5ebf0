"""Content-addressed file contents: sha256 of the raw bytes, stored zlib-compressed.

Layout: ``dir/ab/cdef...`` (the first two hex digits are the folder). Writes go to a
temporary file in the same folder, are fsynced, renamed into place and the folder is fsynced,
so a blob either exists complete or not at all. A blob that already exists is not rewritten.
Files are 0600, folders 0700.

Staging (once :meth:`BlobStore.attach` gave the store a database, as ``CheckpointStore``
does; the ``pending_blobs`` table is migration 2 of ``store/db.py``): checkpoint images are not written as files on the agent's critical path. The writer
puts the raw bytes into the ``pending_blobs`` table *in the same transaction* as the
rows that reference them (:meth:`BlobStore.stage`), so the row and its image are committed
together: both survive a SIGKILL, and on power loss both are kept or both lost (see
``store/db.py``). A flusher thread then moves staged blobs into files exactly as above (tmp +
fsync + rename + folder fsync) and deletes a staging row only after its file is durable, in
a short transaction, never holding the write lock while it fsyncs. It runs when something is
staged, once when a store is attached (leftovers of a killed process) and is drained by
:meth:`BlobStore.close`. Every read (``get``, ``has``, ``size_on_disk``) sees staged blobs,
and ``gc`` never removes a staged one: it decides and unlinks inside a write transaction,
keeping the ``roots`` (the rows referencing blobs, read afresh) and everything staged.
Several processes may flush one database at once: a blob written twice is the same bytes
renamed atomically, and each flusher deletes only the staging rows (by id) it wrote itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sqlite3
import tempfile
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from minicode_lsp.store.db import Database
from minicode_lsp.store.records import file_stamp

log = logging.getLogger(__name__)

DEFAULT_MAX_BLOB_SIZE = 5 * 1024 * 1024
FLUSH_BATCH = 64  # staging rows moved to files per pass (one folder fsync each per pass)
FLUSH_BATCH_BYTES = 16 * 1024 * 1024  # ... and at most about this many bytes read at once
TMP_MAX_AGE_S = 3600.0  # gc leaves younger temporary files alone: a flusher may be writing them
# The flusher waits for the store to be quiet this long (a burst of changes, e.g. one tool
# call writing several files, becomes one pass and one fsync per folder), but flushes at the
# latest this long after the first wake. Staged blobs are as safe as files meanwhile.
FLUSH_IDLE_S = 0.05
FLUSH_MAX_DELAY_S = 2.0
RETRY_S = 1.0  # first retry delay of a flush that failed (doubles, a few tries, then waits)
RETRIES = 5
CLOSE_TIMEOUT_S = 30.0

class BlobTooLarge(Exception):
    """``put`` refused a file bigger than the store's size cap; record the file as skipped."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"file of {size} bytes exceeds the {limit}-byte cap")
        self.size = size
        self.limit = limit

    @property
    def reason(self) -> str:
        return f"too large ({self.size} bytes > {self.limit})"


DAMAGED = "damaged"  # damaged blob files are moved here (a folder the blob layout never uses)


class BlobCorrupted(Exception):
    """A stored blob does not decompress or does not hash to its name."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(data: bytes) -> bytes:
    """A blob file's bytes for ``data``."""
    return zlib.compress(data, 1)


def _unpack(sha: str, raw: bytes) -> bytes:
    try:
        data = zlib.decompress(raw)
    except zlib.error as exc:
        raise BlobCorrupted(f"blob {sha} does not decompress: {exc}") from exc
    if sha256(data) != sha:
        raise BlobCorrupted(f"blob {sha} does not match its hash")
    return data


def _check(sha: str, data: bytes) -> bytes:
    if sha256(data) != sha:
        raise BlobCorrupted(f"staged blob {sha} does not match its hash")
    return data


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _inode(path: Path) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def _chunks(rows: list[tuple[int, str, int]], max_bytes: int) -> Iterator[list[tuple[int, str, int]]]:
    chunk: list[tuple[int, str, int]] = []
    size = 0
    for row in rows:
        if chunk and size + row[2] > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(row)
        size += row[2]
    if chunk:
        yield chunk


_stores: weakref.WeakSet[BlobStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child has no flusher thread, and a lock the parent's flusher held stays held:
    start afresh (a child that only execs, as ``run_command``'s do, never gets here in Python)."""
    for store in list(_stores):
        store._cv = threading.Condition()
        store._flush_lock = threading.Lock()
        store._thread = None
        store._sleeping = False


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class BlobStore:
    def __init__(self, dir: str | os.PathLike[str], *, max_size: int = DEFAULT_MAX_BLOB_SIZE,
                 fsync: bool = True) -> None:
        self.dir = Path(dir)
        self.max_size = max_size
        self._fsync = fsync
        # blobs known to be on stable storage: sha -> inode of the file we fsynced (a file of
        # that name with another inode was rewritten since, e.g. after another process's gc)
        self._durable: dict[str, int] = {}
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)
        # staging (see the module docstring); set by ``attach``
        self._db: Database | None = None
        self._roots: Callable[[], set[str]] | None = None
        self._pins: list[Callable[[], set[str]]] = []
        self._cv = threading.Condition()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wanted = self._closed = False
        self._wakes = 0
        self._sleeping = False  # the flusher waits for work (not for quiet, not flushing)
        self.flushed = 0  # blobs this store moved from the staging table to files
        _stores.add(self)

    def _path(self, sha: str) -> Path:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"not a sha256 hex digest: {sha!r}")
        return self.dir / sha[:2] / sha[2:]

    def has(self, sha: str) -> bool:
        path = self._path(sha)
        # file, then staging, then file again: a flusher renames before it deletes the row
        return path.exists() or self._is_staged(sha) or path.exists()

    def put(self, data: bytes, *, durable: bool = True) -> str:
        """Store ``data`` and return its sha256; raises ``BlobTooLarge`` above the cap.

        ``durable``: on stable storage when this returns (also when the blob already existed
        but was written without fsync). ``durable=False`` is for images that can be recovered
        otherwise (a post-image is also the file on disk).
        """
        if len(data) > self.max_size:
            raise BlobTooLarge(len(data), self.max_size)
        sha = sha256(data)
        if not self.put_known(sha, data, fsync=durable and self._fsync) and durable:
            self.make_durable([sha])
        return sha

    def try_put(self, data: bytes, *, durable: bool = True) -> tuple[str | None, str | None]:
        """``(sha, None)`` when stored, ``(None, reason)`` when the size cap refused it."""
        try:
            return self.put(data, durable=durable), None
        except BlobTooLarge as exc:
            return None, exc.reason

    def put_known(self, sha: str, data: bytes, *, fsync: bool | None = None) -> bool:
        """Store ``data`` whose sha256 the caller already computed (no size check).

        ``fsync=False`` skips the fsyncs (bulk writers call ``make_durable`` for the blobs that
        end up referenced).
        Returns whether a new blob was written.
        """
        do_sync = self._fsync if fsync is None else fsync
        path = self._path(sha)
        if path.exists():
            return False
        inode, created = self._write_file(path, pack(data), do_sync)
        if do_sync:
            _fsync_dir(path.parent)
            if created:
                _fsync_dir(self.dir)
            self._durable[sha] = inode
        return True

    def _write_file(self, path: Path, packed: bytes, sync: bool) -> tuple[int, bool]:
        """tmp + (fsync) + rename; returns the new file's inode and whether its folder was made."""
        folder = path.parent
        created = False
        for attempt in range(3):
            try:
                if not folder.exists():
                    folder.mkdir(mode=0o700, exist_ok=True)
                    created = True
                fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
                break
            except FileNotFoundError:  # a gc removed the (empty) folder in between: make it again
                if attempt == 2:
                    raise
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(packed)
                if sync:
                    fh.flush()
                    os.fsync(fh.fileno())
                inode = os.fstat(fh.fileno()).st_ino
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return inode, created

    def make_durable(self, shas: Iterable[str]) -> None:
        """fsync blobs written with ``fsync=False`` (and their folders) once they matter.

        A sha with no file is skipped: it is staged (durable in the database) or missing.
        """
        if not self._fsync:
            return
        folders: set[Path] = set()
        for sha in shas:
            if sha in self._durable:
                continue
            path = self._path(sha)
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
                inode = os.fstat(fd).st_ino
            finally:
                os.close(fd)
            folders.add(path.parent)
            self._durable[sha] = inode
        for folder in folders:
            _fsync_dir(folder)
        if folders:
            _fsync_dir(self.dir)

    def is_durable(self, sha: str) -> bool:
        """Whether ``sha`` is a file this store fsynced (and still the same file): no need to stage it."""
        inode = self._durable.get(sha)
        return inode is not None and _inode(self._path(sha)) == inode

    def get(self, sha: str) -> bytes:
        """The blob's bytes; ``KeyError`` when missing, ``BlobCorrupted`` when damaged."""
        path = self._path(sha)
        for attempt in range(2):
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                pass
            else:
                try:
                    return _unpack(sha, raw)
                except BlobCorrupted as exc:
                    staged = self._staged(sha)  # e.g. a file written without fsync before a crash
                    if staged is None:
                        raise BlobCorrupted(f"{exc}; {self._move_aside(sha, path)}") from None
                    return _check(sha, staged)
            if attempt == 0:
                staged = self._staged(sha)
                if staged is not None:
                    return _check(sha, staged)
        raise KeyError(sha)

    def _move_aside(self, sha: str, path: Path) -> str:
        """Move a damaged blob file to ``damaged/`` (kept, never deleted): the same content seen
        again is then stored afresh instead of the damaged file being taken for it."""
        aside = self.dir / DAMAGED / f"{sha}-{file_stamp()}"
        try:
            aside.parent.mkdir(mode=0o700, exist_ok=True)
            os.replace(path, aside)
        except OSError as exc:
            return f"it could not be moved aside ({exc.strerror or exc})"
        self._durable.pop(sha, None)
        log.warning("blob %s was damaged; moved aside to %s", sha, aside)
        return f"the damaged file was moved aside to {aside}"

    def _iter(self) -> Iterator[tuple[str, Path]]:
        if not self.dir.exists():
            return
        for folder in self.dir.iterdir():
            if len(folder.name) != 2 or not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if entry.name.startswith(".tmp-"):
                    continue
                yield folder.name + entry.name, entry

    def size_on_disk(self, *, include_staged: bool = True) -> int:
        """Bytes of blob files, plus (``include_staged``) of blobs still in the staging table.

        The staged bytes are inside the database file too: a total with ``Database.size_bytes``
        passes ``include_staged=False``.
        """
        total = 0
        for _sha, path in self._iter():
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                pass
        return total + (self.staged_bytes() if include_staged else 0)

    def pin(self, shas: Callable[[], set[str]]) -> None:
        """``gc`` also keeps every sha ``shas()`` returns (e.g. the blobs of the live workspace
        snapshot, which a shell group will reference as pre-images once a command changes
        those files)."""
        self._pins.append(shas)

    def gc(self, referenced: set[str]) -> int:
        """Remove blobs not in ``referenced`` (and stale temporary files); returns the count.

        With a database attached, the decision and the unlinks happen inside one write
        transaction, keeping the roots read afresh there and every staged blob: no row can
        start referencing a blob while it is being removed (writers check for the file inside
        their own transaction), and a blob being flushed is still staged.
        """
        candidates = list(self._iter())  # listed outside the lock; files made later are kept
        removed = 0
        with self._write() as conn:
            keep = set(referenced)
            for pinned in self._pins:
                keep |= pinned()
            if conn is not None:
                if self._roots is not None:
                    keep |= self._roots()
                keep.update(r[0] for r in conn.execute("SELECT sha FROM pending_blobs"))
            for sha, path in candidates:
                if sha not in keep:
                    try:
                        path.unlink()
                        removed += 1
                    except FileNotFoundError:
                        pass
                    self._durable.pop(sha, None)
        old = time.time() - TMP_MAX_AGE_S
        for folder in self.dir.iterdir():
            if not folder.is_dir():
                continue
            for entry in folder.glob(".tmp-*"):
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < old:  # a younger one may be a write in progress
                        entry.unlink()
            try:
                folder.rmdir()
            except OSError:
                pass
        log.info("blob gc removed %d blobs", removed)
        return removed

    # ------------------------------------------------------------------ staging
    def attach(self, db: Database, *, roots: Callable[[], set[str]] | None = None) -> None:
        """Stage into ``db``; a daemon thread flushes (the database's lock serialises it with
        the other threads). ``roots()`` returns the shas rows reference
        (``CheckpointStore.referenced_blobs``); ``gc`` keeps them whatever set it was given.
        Leftovers already staged (by a killed process) are flushed now, in the background."""
        self._db = db
        self._roots = roots
        if self._read("SELECT 1 FROM pending_blobs LIMIT 1"):
            self.wake()

    @property
    def staging(self) -> bool:
        return self._db is not None

    def stage(self, conn: sqlite3.Connection, sha: str, data: bytes) -> bool:
        """Inside the caller's write transaction: make ``data`` durable with that transaction.

        ``sha`` must be ``sha256(data)`` (the caller hashed it already). Skipped when the blob
        is already a durable file (checked here, under the write lock, so a gc cannot remove
        it before the caller's rows commit). The raw bytes are stored: compressing them here
        would cost more than the transaction. Returns whether a row may have been added: call
        :meth:`wake` once the transaction committed.
        """
        if self._db is None:
            raise RuntimeError("BlobStore.stage needs attach(db) first")
        if self.is_durable(sha):
            return False
        conn.execute("INSERT OR IGNORE INTO pending_blobs(sha, data) VALUES (?, ?)", (sha, data))
        return True

    def wake(self) -> None:
        """Something was staged (and committed): flush it in the background."""
        if self._db is None:
            return
        with self._cv:
            if self._closed:
                return
            self._wanted = True
            self._wakes += 1
            if self._thread is None or not self._thread.is_alive():  # (also after a fork)
                self._thread = threading.Thread(target=self._run, name="minicode-blob-flusher", daemon=True)
                self._thread.start()
            elif self._sleeping:  # else it sees _wanted / _wakes by itself: no thread switch per change
                self._cv.notify()

    def _run(self) -> None:
        failures = 0
        while True:
            with self._cv:
                self._sleeping = True
                while not self._wanted and not self._closed:
                    self._cv.wait()
                self._sleeping = False
                deadline = time.monotonic() + FLUSH_MAX_DELAY_S
                while not self._closed:  # wait for a quiet moment (see FLUSH_IDLE_S)
                    seen = self._wakes
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cv.wait(min(FLUSH_IDLE_S, left))  # woken early only by close
                    if self._wakes == seen:
                        break
                if self._closed:
                    return
                self._wanted = False
            try:
                self.flush()
                failures = 0
            except sqlite3.ProgrammingError:  # the database was closed under us: nothing to do
                return
            except Exception as exc:
                failures += 1
                delay = RETRY_S * 2 ** (failures - 1)
                if failures > RETRIES:
                    log.warning("blob flusher: %s; staged blobs stay in the database until the next"
                                " change or open", exc)
                    failures = 0
                    continue
                log.warning("blob flusher: %s; staged blobs stay in the database, retrying in %.0f s",
                            exc, delay)
                with self._cv:
                    self._cv.wait_for(lambda: self._closed, timeout=delay)
                    self._wanted = True

    def flush(self) -> int:
        """Move every staged blob to its file (compress, tmp + fsync + rename, folder fsync),
        then delete its staging row. Runs in the caller's thread; returns the rows it moved."""
        if self._db is None:
            return 0
        total = 0
        with self._flush_lock:
            while True:
                rows = self._read("SELECT id, sha, length(data) FROM pending_blobs ORDER BY id LIMIT ?",
                                  (FLUSH_BATCH,))
                if not rows:
                    break
                done: list[int] = []  # rows whose blob is a durable file once this pass ends
                todo: list[tuple[int, str, int]] = []
                for rid, sha, size in rows:
                    if self.is_durable(sha):
                        done.append(rid)
                    else:
                        todo.append((rid, sha, size))
                synced: dict[str, int] = {}
                folders: set[Path] = set()
                created = False
                for chunk in _chunks(todo, FLUSH_BATCH_BYTES):
                    marks = ",".join("?" * len(chunk))
                    got = dict(self._read(f"SELECT id, data FROM pending_blobs WHERE id IN ({marks})",
                                          tuple(rid for rid, _, _ in chunk)))
                    for rid, sha, _ in chunk:
                        if rid not in got:  # another process flushed it meanwhile
                            continue
                        path = self._path(sha)
                        inode, new_folder = self._write_file(path, pack(got.pop(rid)), self._fsync)
                        folders.add(path.parent)
                        created |= new_folder
                        if self._fsync:
                            synced[sha] = inode
                        done.append(rid)
                if self._fsync:
                    for folder in folders:
                        _fsync_dir(folder)
                    if created:
                        _fsync_dir(self.dir)
                self._durable.update(synced)
                self._delete_rows(done)  # only now: every file above is durable
                total += len(done)
                self.flushed += len(done)
                if len(rows) < FLUSH_BATCH:
                    break
        return total

    def _delete_rows(self, ids: list[int]) -> None:
        if ids:
            with self._write() as conn:
                assert conn is not None
                conn.executemany("DELETE FROM pending_blobs WHERE id=?", [(i,) for i in ids])

    def drain(self) -> int:
        """Flush everything staged now, in the caller's thread (waits for a flush in progress)."""
        return self.flush()

    def staged_count(self) -> int:
        if self._db is None:
            return 0
        return int(self._read("SELECT COUNT(*) FROM pending_blobs")[0][0])

    def staged_bytes(self) -> int:
        if self._db is None:
            return 0
        return int(self._read("SELECT COALESCE(SUM(length(data)), 0) FROM pending_blobs")[0][0])

    def close(self) -> None:
        """Stop the flusher and drain what is staged (before the database is closed)."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()  # (also ends a wait for quiet)
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(CLOSE_TIMEOUT_S)
        if self._db is not None:
            try:
                self.flush()
            except Exception as exc:  # staged blobs stay in the database: the next open flushes them
                log.warning("blob flush at close failed: %s", exc)

    # ------------------------------------------------------------------ database access
    def _staged(self, sha: str) -> bytes | None:
        if self._db is None:
            return None
        rows = self._read("SELECT data FROM pending_blobs WHERE sha=?", (sha,))
        return bytes(rows[0][0]) if rows else None

    def _is_staged(self, sha: str) -> bool:
        return self._db is not None and bool(self._read("SELECT 1 FROM pending_blobs WHERE sha=?", (sha,)))

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        assert self._db is not None
        return self._db.query_tuples(sql, args)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection | None]:
        """A write transaction on the attached database (``None`` when there is none)."""
        if self._db is None:
            yield None
            return
        with self._db.transaction() as conn:
            yield conn
