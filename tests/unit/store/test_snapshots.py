from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minicode_lsp.store.blobs import BlobStore
from minicode_lsp.store.checkpoints import CheckpointStore
from minicode_lsp.store.db import Database
from minicode_lsp.store.records import GroupFile
from minicode_lsp.store.shell_state import ShellState, snapshot_from_state
from minicode_lsp.store.snapshots import Snapshot, Snapshotter


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "blobs", fsync=False)


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "a.py").write_bytes(b"a\n")
    (root / "src" / "b.py").write_bytes(b"b\n")
    (root / "README").write_bytes(b"readme\n")
    (root / ".git").mkdir()  # a git workspace: the watcher syncs on .git/description, which only it opens
    (root / ".git" / "description").write_text("Unnamed repository\n")
    return root


@pytest.fixture(params=[False, True], ids=["restat", "watch"])
def snapper(request: pytest.FixtureRequest, ws: Path, blobs: BlobStore) -> Iterator[Snapshotter]:
    s = Snapshotter(ws, blobs, watch=request.param)
    yield s
    s.close()


def files_of(snap: Snapshot) -> set[str]:
    """The regular files of a snapshot (it also holds folders and symbolic links)."""
    return {rel for rel, e in snap.files.items() if e.kind == "file"}


def bump(path: Path) -> None:
    """Make sure the mtime moves even on coarse clocks."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def test_create_modify_delete_detected(snapper: Snapshotter, ws: Path, blobs: BlobStore) -> None:
    before = snapper.baseline()
    assert files_of(before) == {"src/a.py", "src/b.py", "README"}
    assert before.files["src"].kind == "dir"  # folders are entries too (their mode, their existence)
    assert blobs.get(before.files["src/a.py"].sha or "") == b"a\n"  # pre-images stored
    (ws / "src" / "a.py").write_bytes(b"changed\n")
    (ws / "src" / "b.py").unlink()
    (ws / "new").mkdir()
    (ws / "new" / "c.txt").write_bytes(b"c\n")
    after = snapper.take()
    changes = {(Path(c.path).relative_to(ws).as_posix(), c.action) for c in snapper.diff(before, after)}
    assert changes == {("src/a.py", "modify"), ("src/b.py", "delete"), ("new/c.txt", "create"), ("new", "create")}
    mod = next(c for c in snapper.diff(before, after) if c.action == "modify")
    assert blobs.get(mod.pre_sha or "") == b"a\n" and blobs.get(mod.post_sha or "") == b"changed\n"


def test_same_size_same_mtime_rewrite_detected(snapper: Snapshotter, ws: Path) -> None:
    """Racy files (modified just before a take) are re-hashed even if their stat looks equal."""
    f = ws / "src" / "a.py"
    before = snapper.baseline()
    st = f.stat()
    f.write_bytes(b"x\n")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = snapper.take()
    assert [c.action for c in snapper.diff(before, after)] == ["modify"]


def test_only_changed_files_rehashed(snapper: Snapshotter, ws: Path) -> None:
    snapper.baseline()
    time.sleep(1.1)  # leave the racy window
    snapper.take()
    f = ws / "src" / "a.py"
    f.write_bytes(b"changed\n")
    bump(f)
    snap = snapper.take()
    assert snap.hashed == 1
    assert snap.full_walk is not snapper.watching


def test_gitignore_root_and_nested(ws: Path, blobs: BlobStore) -> None:
    (ws / ".gitignore").write_text("*.log\nbuild/\n")
    (ws / "src" / ".gitignore").write_text("gen_*.py\n!gen_keep.py\n")
    (ws / "x.log").write_text("log")
    (ws / "build").mkdir()
    (ws / "build" / "out.o").write_text("o")
    (ws / "src" / "gen_a.py").write_text("g")
    (ws / "src" / "gen_keep.py").write_text("k")
    (ws / ".git").mkdir(exist_ok=True)
    (ws / ".git" / "HEAD").write_text("ref")
    (ws / ".store").mkdir()
    (ws / ".store" / "db").write_text("db")
    snap = Snapshotter(ws, blobs, store_dir=ws / ".store").take()
    assert files_of(snap) == {".gitignore", "src/.gitignore", "src/a.py", "src/b.py", "src/gen_keep.py",
                               "README"}


def test_caps_recorded(ws: Path, blobs: BlobStore) -> None:
    (ws / "big.bin").write_bytes(b"x" * 100)
    s = Snapshotter(ws, blobs, max_file_size=50)
    before = s.take()
    assert "too large" in before.skipped["big.bin"]
    assert before.files["big.bin"].sha is None
    (ws / "big.bin").write_bytes(b"y" * 120)
    (change,) = s.diff(before, s.take())
    assert change.action == "modify" and change.skipped_reason and "too large" in change.skipped_reason

    capped = Snapshotter(ws, blobs, max_files=2).take()
    assert not capped.complete and "more than 2 files" in capped.skipped[""]
    assert len(capped.files) == 2

    slow = Snapshotter(ws, blobs, time_budget_s=-1).take()
    assert any("time budget" in r for r in slow.skipped.values())


def test_incomplete_snapshot_reports_no_false_deletes(ws: Path, blobs: BlobStore) -> None:
    s = Snapshotter(ws, blobs)
    before = s.take()
    s.max_files = 1
    after = s.take()
    assert [c for c in s.diff(before, after) if c.action == "delete"] == []


def test_shell_group_from_snapshots(db: Database, ws: Path, blobs: BlobStore) -> None:
    cps = CheckpointStore(db, blobs)
    s = Snapshotter(ws, blobs)
    before = s.take()
    (ws / "src" / "a.py").write_bytes(b"by a command\n")
    (ws / "out.txt").write_bytes(b"out\n")
    w = cps.begin_group("s1", "t1", "call", "shell", "make")
    s.record(w, s.diff(before, s.take()))
    g = w.commit()
    assert g is not None and {(Path(f.path).name, f.action) for f in g.files} == {
        ("a.py", "modify"), ("out.txt", "create")}
    cps.close()


def test_watch_sees_new_directory_tree(ws: Path, blobs: BlobStore) -> None:
    s = Snapshotter(ws, blobs, watch=True)
    try:
        assert s.watching
        before = s.baseline()
        deep = ws / "d1" / "d2" / "d3"
        deep.mkdir(parents=True)
        (deep / "f.txt").write_bytes(b"deep\n")
        os.rename(ws / "src", ws / "lib")
        after = s.take()
        assert not after.full_walk
        got = {(Path(c.path).relative_to(ws).as_posix(), c.action) for c in s.diff(before, after)}
        assert got == {("d1/d2/d3/f.txt", "create"), ("src/a.py", "delete"), ("src/b.py", "delete"),
                       ("lib/a.py", "create"), ("lib/b.py", "create"), ("d1", "create"), ("d1/d2", "create"),
                       ("d1/d2/d3", "create"), ("src", "delete"), ("lib", "create")}
    finally:
        s.close()


def test_watch_sees_a_mode_change_alone_of_a_folder_and_a_file(ws: Path, blobs: BlobStore) -> None:
    """A chmod sends only an "attrib" event: with the watcher on it is still seen, on a folder
    (its own entry, nothing below re-checked) and on a file."""
    s = Snapshotter(ws, blobs, watch=True)
    try:
        assert s.watching
        time.sleep(1.1)  # past the racy window: only the watcher's events can bring a file back to a check
        before = s.baseline()
        os.chmod(ws / "src", 0o700)
        os.chmod(ws / "src" / "a.py", 0o750)
        after = s.take()
        assert not after.full_walk
        got = {(Path(c.path).relative_to(ws).as_posix(), c.action, c.pre_mode, c.post_mode)
               for c in s.diff(before, after)}
        assert got == {("src", "modify", before.files["src"].perms, 0o700),
                       ("src/a.py", "modify", before.files["src/a.py"].perms, 0o750)}, got
        assert "src/b.py" not in after.touched
    finally:
        s.close()


def test_reading_files_sends_the_watcher_nothing(ws: Path, blobs: BlobStore,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads (a test run, a grep over the tree) are not watched: however many files a command
    reads, the inotify queue (16,384 events by default) is not flooded into a full re-stat."""
    from minicode_lsp.store import snapshots

    for i in range(300):
        (ws / "src" / f"m{i}.py").write_text(f"x = {i}\n")
    s = Snapshotter(ws, blobs, watch=True)
    try:
        before = s.baseline()
        seen: list[str] = []
        real_dispatch = snapshots._Dirty.dispatch

        def counting(self: snapshots._Dirty, event: Any) -> None:
            seen.append(event.event_type)
            real_dispatch(self, event)

        monkeypatch.setattr(snapshots._Dirty, "dispatch", counting)
        for rel in files_of(before):
            (ws / rel).read_bytes()
        (ws / "src" / "m0.py").write_text("x = 'changed'\n")
        after = s.take()
        assert not after.full_walk
        assert [Path(c.path).name for c in s.diff(before, after)] == ["m0.py"]
        assert len(seen) < 20, seen  # the write and the sync probe, not one event per read
    finally:
        s.close()


def test_new_ignored_files_stay_ignored(snapper: Snapshotter, ws: Path) -> None:
    (ws / ".gitignore").write_text("*.log\nbuild/\n")
    (ws / "src" / ".gitignore").write_text("gen_*\n")
    before = snapper.take()
    time.sleep(0.05)
    (ws / "x.log").write_text("log")
    (ws / "build" / "deep").mkdir(parents=True)
    (ws / "build" / "deep" / "out.o").write_text("o")
    (ws / "src" / "gen_a.py").write_text("g")
    (ws / "src" / "kept.py").write_text("k")
    (ws / ".git").mkdir(exist_ok=True)
    (ws / ".git" / "index").write_text("i")
    after = snapper.take()
    assert [Path(c.path).name for c in snapper.diff(before, after)] == ["kept.py"]


def test_watch_a_new_folder_a_folder_rule_ignores_is_no_entry(ws: Path, blobs: BlobStore) -> None:
    """A "build/" rule matches folders only: the watcher's take must judge the new folder itself
    as a folder. Before, it judged it as a file, so the folder became an entry and a change of
    the command (test_new_ignored_files_stay_ignored[watch] failed that way whenever the
    .gitignore's own events were drained before the take: a clean-clone CI run)."""
    (ws / ".gitignore").write_text("build/\n")
    s = Snapshotter(ws, blobs, watch=True)
    try:
        s.baseline()
        before = s.take()  # the .gitignore's events, if any, are behind us
        before = s.take()
        assert before.how == "watcher"
        (ws / "build" / "deep").mkdir(parents=True)
        (ws / "build" / "deep" / "out.o").write_text("o")
        (ws / "src" / "kept.py").write_text("k")
        after = s.take()
        assert after.how == "watcher"
        assert [Path(c.path).name for c in s.diff(before, after)] == ["kept.py"]
        assert "build" not in after.files
    finally:
        s.close()


def test_time_budget_leftovers_hashed_later(ws: Path, blobs: BlobStore) -> None:
    s = Snapshotter(ws, blobs, time_budget_s=-1, watch=True)
    try:
        first = s.take()
        assert all(e.sha is None for e in first.files.values() if e.kind == "file")
        s.time_budget_s = 60
        second = s.take()
        assert all(e.sha is not None for e in second.files.values() if e.kind == "file") and not second.skipped
    finally:
        s.close()


def test_watch_probe_in_git_dir(ws: Path, blobs: BlobStore) -> None:
    """With a .git/description the watcher syncs on it (nobody else opens it); it is never snapshotted."""
    s = Snapshotter(ws, blobs, watch=True)
    try:
        before = s.baseline()
        for i in range(5):
            (ws / "src" / "a.py").write_bytes(f"v{i}\n".encode())
            after = s.take()
            assert not after.full_walk
            assert [c.action for c in s.diff(before, after)] == ["modify"]
            before = after
        assert ".git/description" not in after.files
    finally:
        s.close()


def test_a_command_reading_the_probe_cannot_hide_its_later_writes(
        ws: Path, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """No .git: were a workspace file the sync probe, a command that read it before creating
    another file would end the wait early. Reproduced deterministically by holding back the
    watcher's "created" events while its other events flow (the crash test saw this about once
    in 200 trials as a shell group missing the file the command made). The probe is then the
    workspace folder itself, whose attributes reading or writing files in it never change."""
    import threading

    from minicode_lsp.store import snapshots

    shutil.rmtree(ws / ".git")
    s = Snapshotter(ws, blobs, watch=True)
    try:
        before = s.baseline()
        real_dispatch = snapshots._Dirty.dispatch
        late: list[threading.Thread] = []

        def slow_creates(self: snapshots._Dirty, event: object) -> None:
            if getattr(event, "event_type", "") == "created":
                thread = threading.Thread(target=lambda: (time.sleep(0.5), real_dispatch(self, event)))
                thread.start()
                late.append(thread)
                return
            real_dispatch(self, event)

        monkeypatch.setattr(snapshots._Dirty, "dispatch", slow_creates)
        for rel in files_of(before):  # the "command": reads every file, then creates one
            (ws / rel).read_bytes()
        (ws / "made.txt").write_text("made\n")
        after = s.take()
        changes = s.diff(before, after)
        assert [(Path(c.path).name, c.action) for c in changes] == [("made.txt", "create")]
        time.sleep(0.6)  # let the held-back events land before the watcher stops
        for thread in list(late):
            thread.join()
    finally:
        s.close()


def command_after_gc(ws: Path, tmp_path: Path, *, pinned: bool) -> tuple[int, GroupFile, BlobStore]:
    """Baseline, blob gc (as a session deletion runs it), then a command changes src/a.py:
    the blobs gc removed, and the shell group's one file."""
    db = Database(tmp_path / "cp.db")
    store = BlobStore(tmp_path / "gc-blobs")
    cps = CheckpointStore(db, store)
    s = Snapshotter(ws, store)
    if pinned:
        store.pin(s.live_shas)
    try:
        before = s.baseline()
        removed = cps.gc()
        (ws / "src" / "a.py").write_bytes(b"changed by a command\n")
        after = s.take()
        w = cps.begin_group("s", "t", "c", "shell", "run_command")
        s.record(w, s.diff(before, after))
        group = w.commit()
        assert group is not None
        (f,) = group.files
        return removed, f, store
    finally:
        s.close()
        cps.close()
        db.close()


def test_gc_keeps_the_live_snapshot_blobs_a_shell_group_needs(ws: Path, tmp_path: Path) -> None:
    """Deleting a session runs blob gc; the workspace snapshot's blobs are the pre-images of
    the next shell group and must survive it."""
    removed, f, store = command_after_gc(ws, tmp_path, pinned=True)
    assert removed == 0  # nothing references the baseline's blobs but the pin
    assert f.pre_sha and store.get(f.pre_sha) == b"a\n" and not f.skipped_reason


def test_a_pre_image_removed_elsewhere_is_recorded_as_skipped(ws: Path, tmp_path: Path) -> None:
    """Another process's gc cannot see this process's pins: the group says what was lost."""
    removed, f, _ = command_after_gc(ws, tmp_path, pinned=False)
    assert removed > 0  # unpinned: the baseline's blobs go
    assert f.pre_sha is None and f.action == "modify" and "removed from the store" in (f.skipped_reason or "")


def test_persisted_state_is_a_delta_and_recovers_a_killed_command(ws: Path, tmp_path: Path) -> None:
    """A shell group keeps its before-snapshot as the owner's persisted stat cache (only what
    changed is written); from it, a later process finds what a killed command changed."""
    db = Database(tmp_path / "cp.db")
    store = BlobStore(tmp_path / "state-blobs")
    cps = CheckpointStore(db, store)
    s = Snapshotter(ws, store)
    try:
        before = s.take()
        upserts, deletes = s.state_delta(before)
        assert {u[0] for u in upserts} == set(before.files) and deletes == []
        w = cps.begin_group("s", "t", "c", "shell", "run_command")
        ShellState(cps, s).persist(before, w)
        (ws / "README").write_bytes(b"changed by the command\n")  # ... and then the process is killed
        (ws / "src" / "b.py").unlink()
        assert s.state_delta(before) == ([], [])  # nothing new to write for the same snapshot
        (group, owner, meta), = ShellState(cps, s).interrupted()
        assert group.id == w.id and owner == s.owner
        later = Snapshotter(ws, store)  # the next process
        restored = snapshot_from_state(later, ShellState(cps, later).rows(owner), meta)
        assert restored.files == before.files
        later.adopt(restored)
        changes = later.diff(restored, later.take(full=True))
        assert sorted((Path(c.path).name, c.action) for c in changes) == [("README", "modify"), ("b.py", "delete")]
        assert store.get(next(c for c in changes if c.action == "delete").pre_sha or "") == b"b\n"
        # the state's blobs are referenced: gc keeps them even with no pin and no group rows
        assert cps.gc() == 0 or all(store.has(e.sha) for e in before.files.values() if e.sha)
        assert all(store.has(e.sha) for e in before.files.values() if e.sha)
        later.close()
    finally:
        s.close()
        cps.close()
        db.close()


def test_shell_state_recovers_a_killed_commands_group_once_its_process_is_gone(ws: Path, tmp_path: Path) -> None:
    """ShellState.recover: a live owner's open group is left alone; once the owner is gone its
    group is closed with what the command changed, and its state rows are dropped."""
    db = Database(tmp_path / "cp.db")
    store = BlobStore(tmp_path / "rec-blobs")
    cps = CheckpointStore(db, store)
    s, later = Snapshotter(ws, store), Snapshotter(ws, store)
    try:
        w = cps.begin_group("s", "t", "c", "shell", "run_command")
        ShellState(cps, s).persist(s.take(), w)
        (ws / "README").write_bytes(b"changed by the killed command\n")
        state = ShellState(cps, later)  # the next process
        assert state.recover(alive=lambda owner: True) == []  # still running: not ours to close
        assert [g.id for g, _, _ in state.interrupted()] == [w.id]
        ((group, closed),) = state.recover(alive=lambda owner: False)
        assert group.id == w.id and closed is not None and closed.status == "closed"
        assert [(Path(f.path).name, f.action) for f in closed.files] == [("README", "modify")]
        assert state.interrupted() == [] and state.rows(s.owner) == []
    finally:
        s.close()
        later.close()
        cps.close()
        db.close()


def test_temporary_files_are_never_user_files(snapper: Snapshotter, ws: Path) -> None:
    """A write or a rewind killed half way can leave ``*.minicode-tmp`` entries behind (until the
    next start cleans them): a command's snapshot never records them as the user's (or the
    command's) files, so no later rewind deletes or restores them as such."""
    before = snapper.baseline()
    (ws / "src" / ".a.py.k3j.minicode-tmp").write_bytes(b"half written\n")
    (ws / ".rewind-1a2b.minicode-tmp").mkdir()
    (ws / ".rewind-1a2b.minicode-tmp" / "s0").write_bytes(b"staged\n")
    after = snapper.take()
    assert not [r for r in after.files if "minicode-tmp" in r]
    assert snapper.diff(before, after) == []


def test_git_writing_in_bulk_costs_the_next_take_nothing(ws: Path, blobs: BlobStore) -> None:
    """A ``git gc`` after a commit (git runs one in the background) deletes every loose object:
    in a 250,000-file repository, 250,000 events under .git. They are dropped as they arrive,
    not re-checked one by one by the next take (that made the take around a command 22x
    ``git status`` at 250,000 files), and the watcher still sees the workspace's own change."""
    objects = ws / ".git" / "objects"
    for d in range(20):
        (objects / f"{d:02x}").mkdir(parents=True)
        for i in range(50):
            (objects / f"{d:02x}" / f"{i:038x}").write_bytes(b"loose object")
    s = Snapshotter(ws, blobs, watch=True)
    try:
        before = s.baseline()
        shutil.rmtree(objects)  # what gc's prune-packed does (and a nested repository's too)
        (ws / "sub" / ".git").mkdir(parents=True)
        (ws / "sub" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
        (ws / "src" / "a.py").write_bytes(b"changed by the command\n")
        after = s.take()
        assert after.how == "watcher" and not after.full_walk
        assert not [r for r in after.touched if ".git" in r.split("/")], sorted(after.touched)[:5]
        got = {(Path(c.path).relative_to(ws).as_posix(), c.action) for c in s.diff(before, after)}
        assert got == {("src/a.py", "modify"), ("sub", "create")}
    finally:
        s.close()


def test_the_store_inside_the_workspace_sends_the_next_take_nothing(ws: Path) -> None:
    """``store.path`` inside the workspace: the blobs a take writes there are not re-checked by
    the next take (a baseline writes one per file)."""
    store = ws / ".minicode"
    for i in range(200):
        (ws / "src" / f"m{i}.py").write_text(f"x = {i}\n")
    s = Snapshotter(ws, BlobStore(store / "blobs", fsync=False), store_dir=store, watch=True)
    try:
        before = s.baseline()
        (ws / "src" / "a.py").write_bytes(b"changed by the command\n")
        after = s.take()
        assert after.how == "watcher"
        assert not [r for r in after.touched if r.startswith(".minicode")], sorted(after.touched)[:5]
        assert [Path(c.path).name for c in s.diff(before, after)] == ["a.py"]
    finally:
        s.close()


def test_a_take_says_which_path_it_took(ws: Path, blobs: BlobStore) -> None:
    s = Snapshotter(ws, blobs, watch=True)
    try:
        assert s.take().how == "full re-stat: first take"
        assert s.take().how == "watcher"
        (ws / ".gitignore").write_text("*.log\n")
        assert s.take().how == "full re-stat: a .gitignore changed"
        assert s.take(full=True).how == "full re-stat: asked"
        (ws / ".git" / "description").unlink()
        assert s.take().how == "watcher"  # the workspace folder is the probe then
        os.chmod(ws, 0o500)  # a probe this process cannot touch (as root, utime still works)
        try:
            how = s.take().how
        finally:
            os.chmod(ws, 0o755)
        assert how == "watcher" if os.geteuid() == 0 else how.startswith("full re-stat: the watcher's probe")
    finally:
        s.close()


def test_watch_hashes_a_racy_file_once_past_its_second_not_at_every_take(ws: Path, blobs: BlobStore) -> None:
    """A file written in the second before a take is racy: a full re-stat must hash it again at
    every take until that second has passed (a same-size rewrite in the same clock tick leaves
    its stat unchanged). With the watcher such a rewrite is an event, so within its second a
    racy file is not hashed again (that was most of what a command cost at 1,000 files); once
    the second has passed it is hashed once more, and a rewrite in the same tick is still seen."""
    s = Snapshotter(ws, blobs, watch=True)
    try:
        time.sleep(1.1)  # the fixture's files are past their second: only a.py below is racy
        s.baseline()
        a = ws / "src" / "a.py"
        a.write_bytes(b"one\n")
        st = a.stat()
        first = s.take()
        assert first.hashed == 1 and first.how == "watcher"
        assert s.take().hashed == 0  # still inside its second: not hashed again
        a.write_bytes(b"two\n")  # same size, and the same mtime: only the watcher can tell
        os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
        second = s.take()
        assert [(Path(c.path).name, c.action) for c in s.diff(first, second)] == [("a.py", "modify")]
        time.sleep(1.1)
        assert s.take().hashed == 1  # its second has passed: hashed once more
        assert s.take().hashed == 0
    finally:
        s.close()


def test_a_racy_file_left_by_the_watcher_is_hashed_by_a_full_re_stat(ws: Path, blobs: BlobStore) -> None:
    """A racy file the watcher's take left for later stays racy: if the next take is a full
    re-stat (the watcher overflowed, a .gitignore changed), that take hashes it, so a same-size,
    same-mtime rewrite whose event was lost is still seen."""
    s = Snapshotter(ws, blobs, watch=True)
    try:
        s.baseline()
        a = ws / "src" / "a.py"
        a.write_bytes(b"one\n")
        st = a.stat()
        s.take()
        before = s.take()  # the watcher's: a.py waits
        assert before.how == "watcher" and "src/a.py" not in before.touched
        s.close()  # events from here on are lost: the next take re-stats the tree
        a.write_bytes(b"two\n")
        os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
        after = s.take()
        assert after.how == "full re-stat: no watcher"
        assert [(Path(c.path).name, c.action) for c in s.diff(before, after)] == [("a.py", "modify")]
    finally:
        s.close()


def test_watch_without_git_syncs_on_the_workspace_folder(tmp_path: Path, blobs: BlobStore) -> None:
    """A workspace that is not a git repository gets the watcher too (before, every take there
    was a full re-stat of the tree: 4-8x git status); creates, edits, deletes, a new folder and a
    mode change are all seen, and the folder itself is never an entry."""
    ws = tmp_path / "plain"
    (ws / "src").mkdir(parents=True)
    (ws / "src" / "a.py").write_text("a\n")
    (ws / "b.txt").write_text("b\n")
    s = Snapshotter(ws, blobs, watch=True)
    try:
        before = s.baseline()
        for i in range(3):
            (ws / "src" / "a.py").write_text(f"v{i}\n")
            after = s.take()
            assert after.how == "watcher" and not after.full_walk
            assert [(Path(c.path).relative_to(ws).as_posix(), c.action) for c in s.diff(before, after)] == [("src/a.py", "modify")]
            before = after
        (ws / "b.txt").unlink()
        (ws / "new" / "deep").mkdir(parents=True)
        (ws / "new" / "deep" / "c.txt").write_text("c\n")
        os.chmod(ws / "src" / "a.py", 0o750)
        after = s.take()
        assert after.how == "watcher"
        assert {(Path(c.path).relative_to(ws).as_posix(), c.action) for c in s.diff(before, after)} >= {
            ("b.txt", "delete"), ("new/deep/c.txt", "create"), ("src/a.py", "modify")}
        assert after.files["src/a.py"].mode & 0o777 == 0o750
        assert "" not in after.files
    finally:
        s.close()


def test_someone_else_touching_the_probe_never_lets_later_takes_skip_the_wait(
        tmp_path: Path, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without git the probe is the workspace folder, which a command may chmod or touch. Those
    attribute events must not count as the snapshotter's round trips: before, each one put the
    count ahead for good, and every later take stopped waiting for the watcher, so a change
    whose event was still on its way was missed by the command that made it. Reproduced
    deterministically by delivering every event 0.3 s late, in order."""
    import queue
    import threading

    from minicode_lsp.store import snapshots

    ws = tmp_path / "plain"
    ws.mkdir()
    (ws / "a.txt").write_text("a\n")
    s = Snapshotter(ws, blobs, watch=True)
    try:
        s.baseline()
        before = s.take()
        assert before.how == "watcher"
        for _ in range(3):  # "commands" touching the workspace folder, nothing waiting
            os.utime(ws)
        time.sleep(0.5)
        real_dispatch = snapshots._Dirty.dispatch
        lag: queue.Queue[tuple[float, Any, Any] | None] = queue.Queue()

        def deliver() -> None:
            while (item := lag.get()) is not None:
                due, dirty, event = item
                time.sleep(max(0.0, due - time.monotonic()))
                real_dispatch(dirty, event)

        worker = threading.Thread(target=deliver, daemon=True)
        worker.start()
        monkeypatch.setattr(snapshots._Dirty, "dispatch",
                            lambda self, event: lag.put((time.monotonic() + 0.3, self, event)))
        (ws / "made.txt").write_text("made\n")
        after = s.take()
        assert after.how == "watcher"
        assert [(Path(c.path).name, c.action) for c in s.diff(before, after)] == [("made.txt", "create")]
        lag.put(None)
        worker.join(5)
    finally:
        s.close()


def test_a_folder_probe_that_never_answers_is_not_waited_on_again(
        tmp_path: Path, blobs: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the watcher would not report the workspace folder's own attribute change (another
    platform's watcher), the first take waits its 2 s and re-stats; the next ones re-stat at
    once, saying why, instead of waiting 2 s at every take."""
    from minicode_lsp.store import snapshots

    ws = tmp_path / "plain"
    ws.mkdir()
    (ws / "a.txt").write_text("a\n")
    real_dispatch = snapshots._Dirty.dispatch

    def no_folder_events(self: snapshots._Dirty, event: Any) -> None:
        if os.fsdecode(event.src_path) != str(ws.resolve()):
            real_dispatch(self, event)

    monkeypatch.setattr(snapshots._Dirty, "dispatch", no_folder_events)
    s = Snapshotter(ws, blobs, watch=True)
    try:
        s.baseline()
        assert s.take().how == f"full re-stat: the watcher did not catch up in {snapshots.SYNC_TIMEOUT_S:g} s"
        (ws / "b.txt").write_text("b\n")
        t0 = time.monotonic()
        second = s.take()
        assert time.monotonic() - t0 < 1.0
        assert second.how == ("full re-stat: no .git/description, and the watcher sends no event for the "
                              "workspace folder itself")
        assert "b.txt" in second.files
    finally:
        s.close()
