from __future__ import annotations

import os
import stat
import zlib
from pathlib import Path

import pytest

from minicode_lsp.store.blobs import BlobCorrupted, BlobStore, BlobTooLarge, sha256


def test_put_get_roundtrip_and_dedup(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    data = b"hello\r\nworld\xff\n"
    sha = store.put(data)
    assert sha == sha256(data)
    assert store.has(sha)
    assert store.get(sha) == data
    path = tmp_path / "blobs" / sha[:2] / sha[2:]
    mtime = path.stat().st_mtime_ns
    assert store.put(data) == sha  # dedup: not rewritten
    assert path.stat().st_mtime_ns == mtime
    assert len(list((tmp_path / "blobs").rglob("*"))) == 2  # one folder, one file


def test_permissions(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    sha = store.put(b"x")
    path = tmp_path / "blobs" / sha[:2] / sha[2:]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "blobs").stat().st_mode) == 0o700


def test_empty_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    assert store.get(store.put(b"")) == b""


def test_size_cap(tmp_path: Path) -> None:
    store = BlobStore(tmp_path, max_size=10)
    with pytest.raises(BlobTooLarge):
        store.put(b"x" * 11)
    sha, reason = store.try_put(b"x" * 11)
    assert sha is None and reason and "too large" in reason
    assert store.try_put(b"x" * 10)[0] is not None


def test_corrupted_blob_detected(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha = store.put(b"original")
    path = tmp_path / sha[:2] / sha[2:]
    os.chmod(path, 0o600)
    path.write_bytes(zlib.compress(b"tampered"))
    with pytest.raises(BlobCorrupted):
        store.get(sha)
    path.write_bytes(b"not zlib at all")
    with pytest.raises(BlobCorrupted):
        store.get(sha)


def test_a_damaged_blob_is_moved_aside_and_stored_afresh(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha = store.put(b"original")
    path = tmp_path / sha[:2] / sha[2:]
    os.chmod(path, 0o600)
    path.write_bytes(b"damaged on disk")
    with pytest.raises(BlobCorrupted, match="moved aside"):
        store.get(sha)
    (aside,) = (tmp_path / "damaged").iterdir()
    assert aside.read_bytes() == b"damaged on disk"  # kept, never deleted
    assert not store.has(sha)  # not taken for the content any more: the next put stores it
    assert store.put(b"original") == sha and store.get(sha) == b"original"
    store.gc(set())
    assert aside.exists()  # a cleanup never takes the moved-aside file for a blob


def test_missing_blob_is_keyerror(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        BlobStore(tmp_path).get("0" * 64)
    with pytest.raises(ValueError):
        BlobStore(tmp_path).get("../../etc/passwd")


def test_atomic_write_leaves_no_partial_blob(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = BlobStore(tmp_path)

    def boom(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.put(b"data")
    monkeypatch.undo()
    assert not store.has(sha256(b"data"))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # temp file cleaned up


def test_gc_and_size(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    keep = store.put(b"keep" * 100)
    drop = store.put(b"drop" * 100)
    assert store.size_on_disk() > 0
    assert store.gc({keep}) == 1
    assert store.has(keep) and not store.has(drop)


def test_existing_non_durable_blob_made_durable_on_durable_put(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    store = BlobStore(tmp_path)
    data = b"snapshot content"
    store.put_known(sha256(data), data, fsync=False)
    synced: list[int] = []
    real = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    store.put(data)
    assert synced  # the existing blob was fsynced before put returned
    synced.clear()
    store.put(data)
    assert not synced  # known durable now
    store.put(b"post image", durable=False)
    assert not synced


def test_gc_removes_old_temporary_files_only(tmp_path: Path) -> None:
    store = BlobStore(tmp_path)
    sha = store.put(b"x")
    folder = tmp_path / sha[:2]
    old, young = folder / ".tmp-old", folder / ".tmp-young"
    old.write_bytes(b"left by a kill")
    young.write_bytes(b"a write in progress")
    os.utime(old, (0, 0))
    store.gc({sha})
    assert not old.exists() and young.exists() and store.get(sha) == b"x"
