"""Content-addressed file contents: sha256 of the raw bytes, stored zlib-compressed.

Layout: ``dir/ab/cdef...`` (the first two hex digits are the folder). Writes go to a
temporary file in the same folder, are fsynced, renamed into place and the folder is fsynced,
so a blob either exists complete or not at all. A blob that already exists is not rewritten.
Files are 0600, folders 0700.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_MAX_BLOB_SIZE = 5 * 1024 * 1024


class BlobTooLarge(Exception):
    """``put`` refused a file bigger than the store's size cap; record the file as skipped."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"file of {size} bytes exceeds the {limit}-byte cap")
        self.size = size
        self.limit = limit

    @property
    def reason(self) -> str:
        return f"too large ({self.size} bytes > {self.limit})"


class BlobCorrupted(Exception):
    """A stored blob does not decompress or does not hash to its name."""


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


class BlobStore:
    def __init__(self, dir: str | os.PathLike[str], *, max_size: int = DEFAULT_MAX_BLOB_SIZE,
                 fsync: bool = True) -> None:
        self.dir = Path(dir)
        self.max_size = max_size
        self._fsync = fsync
        self._durable: set[str] = set()  # blobs known to be on stable storage
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.dir, 0o700)

    def _path(self, sha: str) -> Path:
        if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
            raise ValueError(f"not a sha256 hex digest: {sha!r}")
        return self.dir / sha[:2] / sha[2:]

    def has(self, sha: str) -> bool:
        return self._path(sha).exists()

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
        folder = path.parent
        created = not folder.exists()
        folder.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(zlib.compress(data, 1))
                if do_sync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        if do_sync:
            _fsync_dir(folder)
            if created:
                _fsync_dir(self.dir)
            self._durable.add(sha)
        return True

    def make_durable(self, shas: Iterable[str]) -> None:
        """fsync blobs written with ``fsync=False`` (and their folders) once they matter."""
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
            finally:
                os.close(fd)
            folders.add(path.parent)
            self._durable.add(sha)
        for folder in folders:
            _fsync_dir(folder)
        if folders:
            _fsync_dir(self.dir)

    def get(self, sha: str) -> bytes:
        """The blob's bytes; ``KeyError`` when missing, ``BlobCorrupted`` when damaged."""
        path = self._path(sha)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise KeyError(sha) from None
        try:
            data = zlib.decompress(raw)
        except zlib.error as exc:
            raise BlobCorrupted(f"blob {sha} does not decompress: {exc}") from exc
        if sha256(data) != sha:
            raise BlobCorrupted(f"blob {sha} does not match its hash")
        return data

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

    def size_on_disk(self) -> int:
        total = 0
        for _sha, path in self._iter():
            try:
                total += path.stat().st_size
            except FileNotFoundError:
                pass
        return total

    def gc(self, referenced: set[str]) -> int:
        """Remove blobs not in ``referenced`` (and stale temporary files); returns the count."""
        removed = 0
        for sha, path in list(self._iter()):
            if sha not in referenced:
                try:
                    path.unlink()
                    removed += 1
                except FileNotFoundError:
                    pass
        for folder in self.dir.iterdir():
            if not folder.is_dir():
                continue
            for entry in folder.glob(".tmp-*"):
                entry.unlink(missing_ok=True)
            try:
                folder.rmdir()
            except OSError:
                pass
        log.info("blob gc removed %d blobs", removed)
        return removed
