"""What a command's leftover processes change after it returned is that command's (issue #15):
recorded in its checkpoint group while the turn runs, the agent's own edits excepted, and
undone by a rewind of that group."""

from __future__ import annotations

import hashlib
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
