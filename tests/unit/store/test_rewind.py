from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from minicode_lsp.service import wire
from minicode_lsp.store.blobs import BlobStore
from minicode_lsp.store.checkpoints import CheckpointStore
from minicode_lsp.store.db import Database
from minicode_lsp.store.rewind import merge_bytes, plan_rewind

from .conftest import open_checkpoints


@pytest.fixture
def cps(tmp_path: Path) -> Iterator[CheckpointStore]:
    with open_checkpoints(tmp_path / "store.db", BlobStore(tmp_path / "blobs", fsync=False)) as cps:
        yield cps


def read(path: str) -> bytes | None:
    p = Path(path)
    return p.read_bytes() if p.exists() else None


def agent_write(cps: CheckpointStore, path: Path, new: bytes | None, turn: str = "t1") -> str:
    w = cps.begin_group("s1", turn, "call", "edit", "agent")
    w.before_write(path, read(str(path)))
    if new is None:
        path.unlink()
    else:
        path.write_bytes(new)
    w.after_write(path, new)
    g = w.commit()
    assert g is not None
    return g.id


def plan(cps: CheckpointStore, target: dict[str, object] | None = None, force: bool = False):  # type: ignore[no-untyped-def]
    groups = cps.groups_for_target("s1", target or {"latest": True})
    return plan_rewind(groups, cps.blobs, read, force=force)


LINES = b"".join(b"line %d\n" % i for i in range(1, 11))


def test_clean_restore(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_bytes(LINES)
    agent_write(cps, f, LINES.replace(b"line 5", b"agent 5"))
    p = plan(cps)
    (fp,) = p.files
    assert (fp.action, fp.status, fp.new_content, fp.write) == ("restore", "clean", LINES, True)
    assert "-agent 5" in fp.diff and "+line 5" in fp.diff and "a/" in fp.diff


def test_merged_keeps_user_non_overlapping_edit(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_bytes(LINES)
    agent_write(cps, f, LINES.replace(b"line 2", b"agent 2"))
    f.write_bytes(f.read_bytes().replace(b"line 8", b"user 8"))
    (fp,) = plan(cps).files
    assert fp.status == "merged"
    assert fp.new_content == LINES.replace(b"line 8", b"user 8")


def test_conflict_left_out_without_force_markers_with_force(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_bytes(LINES)
    agent_write(cps, f, LINES.replace(b"line 5", b"agent 5"))
    f.write_bytes(f.read_bytes().replace(b"agent 5", b"user 5"))
    (fp,) = plan(cps).files
    assert fp.status == "conflict" and not fp.write and not fp.changes_file and fp.reason
    (forced,) = plan(cps, force=True).files
    assert forced.status == "conflict" and forced.write
    assert forced.new_content is not None
    assert b"<<<<<<< current" in forced.new_content and b"user 5\n=======\nline 5\n>>>>>>>" in forced.new_content


def test_adjacent_edits_conflict(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_bytes(LINES)
    agent_write(cps, f, LINES.replace(b"line 5", b"agent 5"))
    f.write_bytes(f.read_bytes().replace(b"line 6", b"user 6"))
    assert plan(cps).files[0].status == "conflict"


def test_created_file_deleted(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "new.py"
    agent_write(cps, f, b"print(1)\n")
    (fp,) = plan(cps).files
    assert (fp.action, fp.status, fp.new_content) == ("delete", "clean", None)
    f.write_bytes(b"print(2)\n")  # the user changed it since
    (fp,) = plan(cps).files
    assert (fp.action, fp.status, fp.write) == ("delete", "conflict", False)
    (fp,) = plan(cps, force=True).files
    assert fp.write and fp.new_content is None


def test_deleted_file_recreated(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "old.py"
    f.write_bytes(b"keep me\n")
    agent_write(cps, f, None)
    (fp,) = plan(cps).files
    assert (fp.action, fp.status, fp.new_content) == ("recreate", "clean", b"keep me\n")


def test_user_deleted_file_is_conflict(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_bytes(LINES)
    agent_write(cps, f, LINES + b"more\n")
    f.unlink()
    (fp,) = plan(cps).files
    assert fp.status == "conflict" and not fp.write and fp.current is None
    assert plan(cps, force=True).files[0].new_content == LINES


def test_crlf_and_latin1_byte_exact(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "win.txt"
    orig = b"caf\xe9\r\nna\xefve\r\nline 3\r\nline 4\r\nline 5\r\nno newline at end"
    f.write_bytes(orig)
    agent_write(cps, f, orig.replace(b"line 3", b"agent \xff 3"))
    f.write_bytes(f.read_bytes().replace(b"no newline", b"user \xe9dit"))
    (fp,) = plan(cps).files
    assert fp.status == "merged"
    assert fp.new_content == orig.replace(b"no newline", b"user \xe9dit")
    assert "Binary" not in fp.diff


def test_user_edits_between_agent_groups_survive(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_bytes(LINES)
    agent_write(cps, f, LINES.replace(b"line 1\n", b"agent 1\n"))
    f.write_bytes(f.read_bytes().replace(b"line 5", b"user 5"))
    agent_write(cps, f, f.read_bytes().replace(b"line 9", b"agent 9"), turn="t2")
    (fp,) = plan(cps, {"session": True}).files
    assert fp.status == "merged"
    assert fp.new_content == LINES.replace(b"line 5", b"user 5")
    (fp,) = plan(cps, {"latest": True}).files
    assert fp.status == "clean" and fp.new_content == LINES.replace(b"line 1\n", b"agent 1\n").replace(
        b"line 5", b"user 5")


def test_interrupted_group_uses_disk_as_agent_post(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_bytes(LINES)
    w = cps.begin_group("s1", "t1", "c", "edit", "crashed")
    w.before_write(f, LINES)
    f.write_bytes(LINES.replace(b"line 3", b"half-written"))
    # no after_write / commit: the process died
    (fp,) = plan(cps).files
    assert fp.status == "clean" and fp.new_content == LINES


def test_stale_fingerprint_and_uris_filter(cps: CheckpointStore, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"a\n")
    b.write_bytes(b"b\n")
    w = cps.begin_group("s1", "t1", "c", "edit", "two files")
    for f in (a, b):
        w.before_write(f, f.read_bytes())
        f.write_bytes(b"agent\n")
        w.after_write(f, b"agent\n")
    w.commit()
    p = plan(cps)
    assert len(p.files) == 2 and not p.is_stale(read)
    b.write_bytes(b"user\n")
    assert p.is_stale(read)
    only_a = plan_rewind(cps.groups_for_target("s1", {"latest": True}), cps.blobs, read, paths={a.as_posix()})
    assert [f.path for f in only_a.files] == [a.as_posix()]
    assert wire.rewind_file(p.files[0]).uri.startswith("file://")


def test_skipped_file_reported(db: Database, tmp_path: Path) -> None:
    cps = CheckpointStore(db, BlobStore(tmp_path / "b", max_size=4, fsync=False))
    f = tmp_path / "big"
    f.write_bytes(b"0123456789")
    agent_write(cps, f, b"9876543210")
    (fp,) = plan(cps).files
    assert fp.status == "skipped" and not fp.write and fp.reason and "too large" in fp.reason


def test_merge_bytes_no_trailing_newline_markers() -> None:
    merged, conflict = merge_bytes(b"a\nb", b"a\nuser", b"a\ntarget", markers=True)
    assert conflict
    assert merged == (b"a\n<<<<<<< current (your edits)\nuser\n=======\ntarget\n"
                      b">>>>>>> before the agent's change\n")


def test_safety_group_undo_restores_prior_bytes(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "a.py"
    f.write_bytes(LINES)
    agent_write(cps, f, LINES.replace(b"line 2", b"agent 2"))
    f.write_bytes(f.read_bytes().replace(b"line 9", b"user 9"))
    before = f.read_bytes()
    p = plan(cps)
    w = cps.begin_group("s1", None, None, "rewind", "rewind")
    for fp in p.to_write:
        w.before_write(fp.path, fp.current)
        assert fp.new_content is not None
        Path(fp.path).write_bytes(fp.new_content)
        w.after_write(fp.path, fp.new_content)
    safety = w.commit()
    assert safety is not None
    cps.mark_rewound(p.group_ids, safety.id)
    assert f.read_bytes() == LINES.replace(b"line 9", b"user 9")
    undo = plan_rewind([safety], cps.blobs, read)
    assert undo.files[0].status == "clean" and undo.files[0].new_content == before


def test_lost_post_image_falls_back_to_current(cps: CheckpointStore, tmp_path: Path) -> None:
    """Post-images are not fsynced; one lost in a crash is replaced by the file's current state."""
    f = tmp_path / "a.py"
    f.write_bytes(LINES)
    agent_write(cps, f, LINES.replace(b"line 4", b"agent 4"))
    (g,) = cps.groups_for_target("s1", {"latest": True})
    post = g.files[0].post_sha
    assert post is not None
    cps.blobs.drain()  # flushed to its file (not fsynced) ...
    (cps.blobs.dir / post[:2] / post[2:]).unlink()  # ... which a crash then lost
    (fp,) = plan(cps).files
    assert fp.status == "clean" and fp.new_content == LINES
