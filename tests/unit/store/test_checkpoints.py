from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from minicode_lsp.service import wire
from minicode_lsp.store.blobs import BlobStore
from minicode_lsp.store.checkpoints import CheckpointStore
from minicode_lsp.store.db import Database


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", fsync=False)


@pytest.fixture
def cps(db: Database, blobs: BlobStore) -> Iterator[CheckpointStore]:
    store = CheckpointStore(db, blobs)
    yield store
    store.close()


def edit(cps: CheckpointStore, path: Path, new: bytes | None, *, session: str = "s1", turn: str = "t1",
         label: str = "edit") -> str:
    w = cps.begin_group(session, turn, "call", "edit", label)
    old = path.read_bytes() if path.exists() else None
    w.before_write(path, old)
    if new is None:
        path.unlink()
    else:
        path.write_bytes(new)
    w.after_write(path, new)
    g = w.commit()
    assert g is not None
    return g.id


def test_edit_group_records_pre_and_post(cps: CheckpointStore, blobs: BlobStore, tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"one\n")
    gid = edit(cps, f, b"two\n")
    g = cps.get_group(gid)
    assert g is not None and g.status == "closed" and g.kind == "edit"
    (gf,) = g.files
    assert gf.path == f.as_posix() and gf.action == "modify"
    assert gf.pre_sha and blobs.get(gf.pre_sha) == b"one\n"
    assert gf.post_sha and blobs.get(gf.post_sha) == b"two\n"
    shown = wire.edit_group(g).wire()
    assert shown["sessionId"] == "s1" and shown["files"][0]["uri"] == f.as_uri()
    assert set(shown) >= {"id", "sessionId", "turnId", "kind", "label", "createdAt", "files"}


def test_create_and_delete_actions(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "new.txt"
    g1 = cps.get_group(edit(cps, f, b"x"))
    g2 = cps.get_group(edit(cps, f, None))
    assert g1 and g1.files[0].action == "create" and g1.files[0].pre_sha is None
    assert g2 and g2.files[0].action == "delete" and g2.files[0].post_sha is None


def test_no_change_commits_nothing(cps: CheckpointStore, db: Database, tmp_path: Path) -> None:
    f = tmp_path / "a.txt"
    f.write_bytes(b"same")
    w = cps.begin_group("s1", "t1", "c", "edit", "noop")
    w.before_write(f, b"same")
    w.after_write(f, b"same")
    assert w.commit() is None
    assert db.query_tuples("SELECT COUNT(*) FROM edit_groups")[0][0] == 0
    assert db.query_tuples("SELECT COUNT(*) FROM group_files")[0][0] == 0
    assert cps.begin_group("s1", "t1", "c", "edit", "empty").commit() is None


def test_unchanged_file_dropped_from_group(cps: CheckpointStore, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    w = cps.begin_group("s1", "t1", "c", "edit", "two")
    w.before_write(a, b"1")
    w.after_write(a, b"2")
    w.before_write(b, b"x")
    w.after_write(b, b"x")
    g = w.commit()
    assert g is not None and [f.path for f in g.files] == [a.as_posix()]


def test_first_pre_image_wins(cps: CheckpointStore, blobs: BlobStore, tmp_path: Path) -> None:
    a = tmp_path / "a"
    w = cps.begin_group("s1", "t1", "c", "edit", "twice")
    w.before_write(a, b"v1")
    w.after_write(a, b"v2")
    w.before_write(a, b"v2")
    w.after_write(a, b"v3")
    g = w.commit()
    assert g is not None
    assert blobs.get(g.files[0].pre_sha or "") == b"v1" and blobs.get(g.files[0].post_sha or "") == b"v3"


def test_pre_image_durable_before_commit(cps: CheckpointStore, tmp_path: Path) -> None:
    """An interrupted tool call leaves an open group with the pre-image and no post-image."""
    a = tmp_path / "a"
    w = cps.begin_group("s1", "t1", "c", "edit", "crash")
    w.before_write(a, b"before")
    # simulate a crash: another connection sees the committed rows
    other = sqlite3.connect(tmp_path / "store.db")
    row = other.execute("SELECT status FROM edit_groups").fetchone()
    assert row == ("open",)
    assert other.execute("SELECT pre_sha IS NOT NULL, post_known FROM group_files").fetchone() == (1, 0)
    other.close()
    (g,) = cps.open_groups()
    assert g.files[0].post_known is False
    assert cps.groups_for_target("s1", {"latest": True})[0].id == g.id


def test_commit_reads_back_missing_post(cps: CheckpointStore, tmp_path: Path) -> None:
    a = tmp_path / "a"
    a.write_bytes(b"new")
    w = cps.begin_group("s1", "t1", "c", "edit", "x")
    w.before_write(a, b"old")
    g = w.commit(current=lambda p: Path(p).read_bytes())
    assert g is not None and g.files[0].post_known


def test_abort_forgets(cps: CheckpointStore, db: Database, tmp_path: Path) -> None:
    w = cps.begin_group("s1", "t1", "c", "edit", "x")
    w.before_write(tmp_path / "a", b"old")
    w.abort()
    assert db.query_tuples("SELECT COUNT(*) FROM edit_groups")[0][0] == 0


def test_shell_group_add_change(cps: CheckpointStore, tmp_path: Path) -> None:
    w = cps.begin_group("s1", "t1", "c", "shell", "make")
    w.add_change(tmp_path / "out.o", None, b"obj")
    w.add_change(tmp_path / "gone", b"x", None)
    w.add_change(tmp_path / "same", b"x", b"x")
    g = w.commit()
    assert g is not None and g.kind == "shell"
    assert {(Path(f.path).name, f.action) for f in g.files} == {("out.o", "create"), ("gone", "delete")}


def test_skipped_big_file_recorded(db: Database, tmp_path: Path) -> None:
    cps = CheckpointStore(db, BlobStore(tmp_path / "small", max_size=4, fsync=False))
    w = cps.begin_group("s1", "t1", "c", "edit", "big")
    w.before_write(tmp_path / "big", b"0123456789")
    w.after_write(tmp_path / "big", b"9876543210")
    w.add_change_sha(tmp_path / "big2", None, None, skipped_reason="too large", action="modify")
    g = w.commit()
    assert g is not None and g.files[0].skipped_reason and "too large" in g.files[0].skipped_reason
    assert [f.action for f in g.files] == ["modify", "modify"]  # not "create": the file existed
    assert wire.edit_group(g).files[0].skipped


def test_targets(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "a"
    ids = [edit(cps, f, f"v{i}".encode(), turn=f"t{i // 2}") for i in range(6)]  # turns t0 t0 t1 t1 t2 t2
    other = edit(cps, tmp_path / "b", b"other", session="s2")

    def ids_of(target: object, session: str | None = "s1") -> list[str]:
        return [g.id for g in cps.groups_for_target(session, target)]

    assert ids_of({"latest": True}) == ids[-1:]
    assert ids_of({"latest": True}, None) == [other]
    assert ids_of({"steps": 2}) == ids[-2:]
    assert ids_of({"groupId": ids[3]}) == ids[3:]
    assert ids_of({"turnId": "t1"}) == ids[2:]
    assert ids_of({"session": True}) == ids
    with pytest.raises(ValueError):
        cps.groups_for_target("s1", {})

    class Target:  # protocol.RewindTarget has these attributes
        latest = None
        steps = 3
        group_id = None
        turn_id = None
        session = None

    assert ids_of(Target()) == ids[-3:]


def test_rewound_groups_skipped_and_unmarked(cps: CheckpointStore, tmp_path: Path) -> None:
    f = tmp_path / "a"
    ids = [edit(cps, f, f"v{i}".encode()) for i in range(3)]
    w = cps.begin_group("s1", None, None, "rewind", "rewind latest")
    w.add_change(f, b"v2", b"v1")
    safety = w.commit()
    assert safety is not None
    cps.mark_rewound([ids[2]], safety.id)
    assert [g.id for g in cps.groups_for_target("s1", {"latest": True})] == [ids[1]]
    assert cps.latest_safety_group("s1") == safety
    assert cps.unmark_rewound(safety.id) == [ids[2]]
    assert cps.latest_safety_group("s1") is None
    assert [g.id for g in cps.groups_for_target("s1", {"latest": True})] == [ids[2]]


def test_list_groups_newest_first_and_by_path(cps: CheckpointStore, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    g1 = edit(cps, a, b"1")
    g2 = edit(cps, b, b"2")
    g3 = edit(cps, a, b"3")
    assert [g.id for g in cps.list_groups()] == [g3, g2, g1]
    assert [g.id for g in cps.list_groups(path=a)] == [g3, g1]
    assert [g.id for g in cps.list_groups("s1", limit=1)] == [g3]


def test_relative_path_refused(cps: CheckpointStore) -> None:
    with pytest.raises(ValueError):
        cps.begin_group("s", "t", "c", "edit", "x").before_write("rel/path", b"")


def test_retention(cps: CheckpointStore, blobs: BlobStore, tmp_path: Path) -> None:
    edit(cps, tmp_path / "a", b"keep", session="keep")
    edit(cps, tmp_path / "b", b"drop", session="drop")
    assert cps.delete_session("drop") == 1
    assert cps.gc() == 1  # drains what is staged, then removes the dropped session's blobs


def test_with_store_database(tmp_path: Path, blobs: BlobStore) -> None:
    db = Database(tmp_path / "state" / "store.db")
    try:
        cps = CheckpointStore(db, blobs)
        f = tmp_path / "a"
        ids = [edit(cps, f, f"v{i}".encode(), turn=f"t{i}") for i in range(3)]
        assert [g.id for g in cps.groups_for_target("s1", {"turnId": "t1"})] == ids[1:]
        assert [g.id for g in cps.list_groups(path=f)] == ids[::-1]
        assert cps.referenced_blobs()
        CheckpointStore(db, blobs)  # a second store on the same database is harmless
    finally:
        db.close()
