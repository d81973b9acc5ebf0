"""Property: random interleavings of agent edits, shell commands and user edits, then a rewind.

Files have a fixed number of lines; every edit replaces a line with a fresh, unique token
(some with non-UTF-8 bytes, some files with CRLF), or creates / deletes a whole file. An
independent model computes what undoing each group should give: a step is ``clean`` when the
file is as the group left it, a ``conflict`` when the user's changed lines touch (same or
adjacent line) the group's changed lines or a whole-file create/delete collides, else
``merged`` = the group's lines restored and the user's kept. The planner must agree exactly;
after applying, conflicts are untouched, and undoing the rewind gives back the exact bytes.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from minicode_lsp.store.blobs import BlobStore
from minicode_lsp.store.checkpoints import CheckpointStore
from minicode_lsp.store.db import Database
from minicode_lsp.store.rewind import plan_rewind
from minicode_lsp.store.snapshots import Snapshotter

NLINES = 12
# a RAM-backed folder when there is one: 500 examples of small files, no disk contention
FAST_TMP = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
NAMES = ["a.txt", "b.txt", "c.txt"]
State = tuple[bytes, ...] | None  # lines with their endings, or absent

change = st.tuples(st.integers(0, len(NAMES) - 1), st.sampled_from(["sub", "sub", "sub", "create", "delete"]),
                   st.integers(0, NLINES - 1))
user_op = st.tuples(st.just("user"), st.lists(
    st.tuples(st.integers(0, len(NAMES) - 1), st.sampled_from(["sub"] * 6 + ["delete"]),
              st.integers(0, NLINES - 1)), min_size=1, max_size=2))
op: st.SearchStrategy[tuple[str, list[tuple[int, str, int]]]] = st.one_of(
    st.tuples(st.just("agent"), st.lists(change, min_size=1, max_size=3)),
    st.tuples(st.just("shell"), st.lists(change, min_size=1, max_size=3)),
    user_op,
    user_op,
    st.tuples(st.just("turn"), st.just([])),
)


@dataclass
class ModelGroup:
    id: str
    turn: int
    files: dict[str, tuple[State, State]] = field(default_factory=dict)


class World:
    def __init__(self, root: Path, eols: list[bytes], present: list[bool]) -> None:
        self.root = root
        self.eol = {n: e for n, e in zip(NAMES, eols, strict=True)}
        self.counter = itertools.count()
        for name, here in zip(NAMES, present, strict=True):
            if here:
                self.write(name, self.fresh(name, "o"))

    def path(self, name: str) -> Path:
        return self.root / name

    def read(self, name: str) -> State:
        p = self.path(name)
        return tuple(p.read_bytes().splitlines(keepends=True)) if p.exists() else None

    def write(self, name: str, state: State) -> None:
        if state is None:
            self.path(name).unlink(missing_ok=True)
        else:
            self.path(name).write_bytes(b"".join(state))

    def token(self, name: str, who: str) -> bytes:
        n = next(self.counter)
        extra = b"\xe9" if n % 3 == 0 else b""  # latin-1, not UTF-8
        return f"{who}{n}".encode() + extra + self.eol[name]

    def fresh(self, name: str, who: str) -> State:
        return tuple(self.token(name, who) for _ in range(NLINES))

    def changed(self, name: str, kind: str, line: int, who: str) -> State:
        cur = self.read(name)
        if kind == "delete":
            return None
        if cur is None or kind == "create":
            return self.fresh(name, who)
        new = list(cur)
        new[line] = self.token(name, who)
        return tuple(new)


def undo_step(state: State, pre: State, post: State) -> tuple[State, str]:
    if state == post:
        return pre, "clean"
    if state is None or post is None or pre is None:
        return state, "conflict"
    ours = {i for i in range(NLINES) if state[i] != post[i]}
    agent = {i for i in range(NLINES) if pre[i] != post[i]}
    if any(abs(i - j) <= 1 for i in ours for j in agent):
        return state, "conflict"
    return tuple(pre[i] if i in agent else state[i] for i in range(NLINES)), "merged"


def expected(groups: list[ModelGroup], name: str, current: State) -> tuple[State, str]:
    state, status = current, "clean"
    for g in reversed(groups):
        if name not in g.files:
            continue
        pre, post = g.files[name]
        state, st_ = undo_step(state, pre, post)
        if st_ == "conflict":
            return None, "conflict"
        if st_ == "merged":
            status = "merged"
    return state, status


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    eols=st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=len(NAMES), max_size=len(NAMES)),
    present=st.lists(st.booleans(), min_size=len(NAMES), max_size=len(NAMES)),
    ops=st.lists(op, min_size=1, max_size=10),
    target_kind=st.sampled_from(["latest", "steps", "group", "turn", "session"]),
    pick=st.integers(0, 20),
)
def test_rewind_random_interleavings(eols: list[bytes], present: list[bool], ops: list[tuple[str, list]],  # type: ignore[type-arg]
                                     target_kind: str, pick: int) -> None:
    with tempfile.TemporaryDirectory(dir=FAST_TMP) as tmp:
        root = Path(tmp) / "ws"
        root.mkdir()
        db = Database(Path(tmp) / "store.db")
        blobs = BlobStore(Path(tmp) / "blobs", fsync=False)
        cps = CheckpointStore(db, blobs)
        snap = Snapshotter(root, blobs)
        world = World(root, eols, present)
        model: list[ModelGroup] = []
        turn = 0
        try:
            for kind, changes in ops:
                if kind == "turn":
                    turn += 1
                elif kind == "user":
                    for i, what, line in changes:
                        world.write(NAMES[i], world.changed(NAMES[i], what, line, "u"))
                else:
                    run(kind, changes, world, cps, snap, model, turn)
            check_rewind(world, cps, blobs, model, target_kind, pick)
        finally:
            snap.close()
            cps.close()
            db.close()


def run(kind: str, changes: list[tuple[int, str, int]], world: World, cps: CheckpointStore,
        snap: Snapshotter, model: list[ModelGroup], turn: int) -> None:
    w = cps.begin_group("s1", f"t{turn}", "call", "edit" if kind == "agent" else "shell", kind)
    before = snap.take() if kind == "shell" else None
    files: dict[str, tuple[State, State]] = {}
    for i, what, line in changes:
        name = NAMES[i]
        cur = world.read(name)
        new = world.changed(name, what, line, "A" if kind == "agent" else "S")
        if kind == "agent":
            w.before_write(world.path(name), None if cur is None else b"".join(cur))
        world.write(name, new)
        if kind == "agent":
            w.after_write(world.path(name), None if new is None else b"".join(new))
        files[name] = (files[name][0] if name in files else cur, new)
    if before is not None:
        snap.record(w, snap.diff(before, snap.take()))
    group = w.commit()
    files = {n: (pre, post) for n, (pre, post) in files.items() if pre != post}
    assert (group is None) == (not files)
    if group is not None:
        assert {Path(f.path).name for f in group.files} == set(files)
        model.append(ModelGroup(group.id, turn, files))


def check_rewind(world: World, cps: CheckpointStore, blobs: BlobStore, model: list[ModelGroup],
                 target_kind: str, pick: int) -> None:
    if not model:
        return
    target: dict[str, object]
    if target_kind == "latest":
        target, chosen = {"latest": True}, model[-1:]
    elif target_kind == "steps":
        n = pick % len(model) + 1
        target, chosen = {"steps": n}, model[-n:]
    elif target_kind == "group":
        k = pick % len(model)
        target, chosen = {"groupId": model[k].id}, model[k:]
    elif target_kind == "turn":
        t = model[pick % len(model)].turn
        first = next(i for i, g in enumerate(model) if g.turn == t)
        target, chosen = {"turnId": f"t{t}"}, model[first:]
    else:
        target, chosen = {"session": True}, model
    groups = cps.groups_for_target("s1", target)
    assert [g.id for g in groups] == [g.id for g in chosen]

    def reader(path: str) -> bytes | None:
        p = Path(path)
        return p.read_bytes() if p.exists() else None

    before = {n: world.read(n) for n in NAMES}
    before_bytes = {n: reader(str(world.path(n))) for n in NAMES}
    plan = plan_rewind(groups, blobs, reader)
    touched = {n for g in chosen for n in g.files}
    assert {Path(f.path).name for f in plan.files} == touched
    for fp in plan.files:
        name = Path(fp.path).name
        want, status = expected(chosen, name, before[name])
        assert fp.status == status, (name, fp.status, status)
        event(f"status {status}, action {fp.action}")
        if status != "conflict":
            assert fp.new_content == (None if want is None else b"".join(want))

    # apply, recording the safety group first (as the service does)
    w = cps.begin_group("s1", None, None, "rewind", "rewind")
    for fp in plan.to_write:
        w.before_write(fp.path, fp.current)
        world.write(Path(fp.path).name, None if fp.new_content is None else
                    tuple(fp.new_content.splitlines(keepends=True)))
        w.after_write(fp.path, fp.new_content)
    safety = w.commit()
    for fp in plan.files:
        name = Path(fp.path).name
        if fp.status == "conflict":
            assert world.read(name) == before[name]  # untouched without force
        else:
            assert reader(fp.path) == fp.new_content
    if safety is None:
        return
    cps.mark_rewound(plan.group_ids, safety.id)
    # undo: restore the pre-rewind state exactly
    undo = plan_rewind([safety], blobs, reader)
    assert all(f.status == "clean" for f in undo.files)
    for fp in undo.to_write:
        world.write(Path(fp.path).name, None if fp.new_content is None else
                    tuple(fp.new_content.splitlines(keepends=True)))
    assert {n: world.read(n) for n in NAMES} == before
    assert {n: reader(str(world.path(n))) for n in NAMES} == before_bytes
    assert set(cps.unmark_rewound(safety.id)) == {g.id for g in chosen}
