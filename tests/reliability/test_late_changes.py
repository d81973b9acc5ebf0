"""What a command's leftover processes change after it returned is that command's (issue #15):
recorded in its checkpoint group while the turn runs, the agent's own edits excepted, and
undone by a rewind of that group."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from minicode_lsp.protocol import RewindApplyArgs, RewindTarget
from minicode_lsp.service.checkpointing import TurnCheckpoints

from .rewinding import World


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def test_late_changes_go_to_the_command_that_left_the_processes(tmp_path: Path) -> None:
    w = World(tmp_path)
    a, b, c, late = (w.root / n for n in ("a.txt", "b.txt", "c.txt", "late.txt"))
    a.write_text("a0")
    b.write_text("b0")
    running = [True]
    tc = TurnCheckpoints(w.svc.workspace.checkpoints, w.svc.workspace.snapshotter, session_id=w.session, turn_id=w.turn,
                         snapshot_lock=w.svc.workspace.snapshot_lock, lingering=lambda: running[0])
    await tc.begin(tool_call_id="cmd", tool="run_command", kind="shell", label="start a watcher")
    c.write_text("c")  # the command itself
    command = await tc.end()
    assert command is not None
    a.write_text("a1")  # its leftover, while the model thinks
    await tc.begin(tool_call_id="edit", tool="edit_file", kind="edit", label="edit b")
    tc.before_write(b, b"b0")
    b.write_text("b1")  # the agent's edit: its own group
    tc.after_write(b, b"b1")
    late.write_text("L")  # the leftover again, during the edit
    edit = await tc.end()
    a.write_text("a22")  # and once more before the turn ends
    running[0] = False
    added = await tc.settle()

    group = w.svc.workspace.checkpoints.get_group(command.group_id)
    assert group is not None
    files = {Path(f.path).name: f for f in group.files}
    assert set(files) == {"a.txt", "c.txt", "late.txt"}, files
    assert (files["a.txt"].pre_sha, files["a.txt"].post_sha) == (sha("a0"), sha("a22"))
    assert edit is not None and [f.path.name for f in edit.files] == ["b.txt"]
    assert [(r.group_id, sorted(f.path.name for f in r.files)) for r in added] == \
        [(command.group_id, ["a.txt", "late.txt"])]

    result = await w.svc.rewind.apply(RewindApplyArgs(session_id=w.session,
                                                       target=RewindTarget(group_id=command.group_id)))
    assert result.applied, result
    # (rewinding to before the command also rewinds the later edit)
    assert a.read_text() == "a0" and not late.exists() and not c.exists() and b.read_text() == "b0"


async def test_without_leftovers_nothing_is_watched(tmp_path: Path) -> None:
    w = World(tmp_path)
    tc = TurnCheckpoints(w.svc.workspace.checkpoints, w.svc.workspace.snapshotter, session_id=w.session, turn_id=w.turn,
                         snapshot_lock=w.svc.workspace.snapshot_lock, lingering=lambda: False)
    await tc.begin(tool_call_id="cmd", tool="run_command", kind="shell", label="make")
    (w.root / "out.txt").write_text("o")
    assert await tc.end() is not None
    (w.root / "user.txt").write_text("typed by the user after the command")
    assert await tc.settle() == []
    assert [Path(f.path).name for f in w.svc.workspace.checkpoints.list_groups(w.session)[0].files] == ["out.txt"]


async def test_a_change_made_while_several_commands_linger_goes_to_a_group_naming_them(tmp_path: Path) -> None:
    """Processes of two commands run: a change then cannot be told to be one's or the other's.
    It goes to a group of its own that names both (newer than each, so a rewind of either
    takes it back), never into one of them; once only one command's processes run, changes go
    to that command's group again."""
    w = World(tmp_path)
    alive = {"A": True, "B": True}
    left: list[str] = []  # the command that just returned left processes running

    def leftovers() -> Callable[[], bool] | None:
        if not left:
            return None
        name = left.pop()
        return lambda: alive[name]

    tc = TurnCheckpoints(w.svc.workspace.checkpoints, w.svc.workspace.snapshotter, session_id=w.session, turn_id=w.turn,
                         snapshot_lock=w.svc.workspace.snapshot_lock, leftovers=leftovers)
    groups = {}
    for name in ("A", "B"):
        await tc.begin(tool_call_id=name, tool="run_command", kind="shell", label=f"watcher {name}")
        (w.root / f"{name}.own").write_text(name)
        left.append(name)  # the command returned; processes it started still run
        result = await tc.end()
        assert result is not None
        groups[name] = result.group_id
    (w.root / "x.txt").write_text("written by A's or B's processes")
    await tc.begin(tool_call_id="edit", tool="edit_file", kind="edit", label="edit e")  # the next look
    tc.before_write(w.root / "e.txt", None)
    (w.root / "e.txt").write_text("e")
    tc.after_write(w.root / "e.txt", b"e")
    alive["B"] = False  # B's processes end
    await tc.end()  # a look: nothing new, and B's are gone
    (w.root / "y.txt").write_text("written by A's processes")
    alive["A"] = False
    added = {r.group_id: sorted(f.path.name for f in r.files) for r in await tc.settle()}

    store = w.svc.workspace.checkpoints
    files = {gid: {Path(f.path).name for f in store.get_group(gid).files}  # type: ignore[union-attr]
             for gid in (*groups.values(), *added)}
    joint = [gid for gid in added if gid not in groups.values()]
    assert len(joint) == 1, added
    assert added == {joint[0]: ["x.txt"], groups["A"]: ["y.txt"]}, added
    assert files[groups["A"]] == {"A.own", "y.txt"} and files[groups["B"]] == {"B.own"}, files
    label = store.get_group(joint[0]).label  # type: ignore[union-attr]
    assert "watcher A" in label and "watcher B" in label, label

    rewound = await w.svc.rewind.apply(RewindApplyArgs(session_id=w.session,
                                                        target=RewindTarget(group_id=groups["B"])))
    assert rewound.applied, rewound
    assert not (w.root / "x.txt").exists() and not (w.root / "B.own").exists(), "a rewind of B kept the shared change"
    assert (w.root / "A.own").exists() and (w.root / "y.txt").exists(), "a rewind of B took back A's changes"
