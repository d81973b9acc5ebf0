"""A command that runs while a file the agent changed is unsaved in the editor says so.

The agent's edit of an open buffer with unsaved changes stays in the buffer; a test command
reads the disk and sees the old file. The command's result (what the model reads) and the
``tool.finished`` event (the transcript, for every client) carry the warning.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from minicode_lsp.agent.messages import ToolCall
from minicode_lsp.agent.ports import Ports
from minicode_lsp.agent.tools.runner import ToolRunner
from minicode_lsp.service.frontend import FileEdit
from minicode_lsp.service.workspace_fs import WorkspaceFileSystem, unsaved_in_editor

from ..agent.fakes import RecordingCheckpoints, RecordingEvents, ScriptedApprover


class Editor:
    """Open buffers; ``saves`` says whether the editor writes a buffer after an agent edit."""

    supports_confirmation = True

    def __init__(self, saves: bool) -> None:
        self.buffers: dict[Path, str] = {}
        self.saves = saves

    def open_text(self, path: Path) -> str | None:
        return self.buffers.get(path)

    async def apply_edits(self, edits: list[FileEdit], *, label: str, description: str, confirm: bool) -> bool:
        for e in edits:
            if e.path in self.buffers and e.new is not None:
                self.buffers[e.path] = e.new.decode()
                if self.saves:
                    e.path.write_bytes(e.new)
        return True

    def publish(self, method: str, payload: dict[str, Any]) -> None: ...
    def notify_user(self, message: str) -> None: ...
    async def choose(self, message: str, actions: list[str]) -> str | None:
        return actions[0]


async def run(root: Path, editor: Editor) -> tuple[str, RecordingEvents]:
    checkpoints = RecordingCheckpoints(root)
    fs = WorkspaceFileSystem(
        editor,  # type: ignore[arg-type]
        before_write=lambda p, b: checkpoints.touched(p, b is not None, False),
        after_write=lambda p, b: None,
    )
    events = RecordingEvents()
    ports = Ports(fs=fs, approver=ScriptedApprover(), events=events, checkpoints=checkpoints,  # type: ignore[arg-type]
                  roots=[root], unsaved=lambda paths: unsaved_in_editor(editor, paths))  # type: ignore[arg-type]
    runner = ToolRunner(ports, mode="auto", cancel=asyncio.Event(), approved_commands=set(), emit=events.emit)
    await runner.execute(ToolCall(id="e", name="edit_file",
                                  arguments={"path": "a.py", "old_text": "x = 1", "new_text": "x = 2"}))
    done = await runner.execute(ToolCall(id="c", name="run_command", arguments={"command": "cat a.py"}))
    return done.output.content, events


def workspace(tmp_path: Path) -> Path:
    root = tmp_path.resolve()
    (root / "a.py").write_text("x = 1\n")
    return root


async def test_command_after_an_unsaved_agent_edit_says_so(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    editor = Editor(saves=False)
    editor.buffers[root / "a.py"] = "x = 1\n# the user's unsaved line\n"
    content, events = await run(root, editor)
    assert "x = 1" in content.splitlines()[-2]  # the command read the old file on disk
    assert content.startswith("[warning: a.py has unsaved changes in the editor")
    finished = events.of("tool.finished")[-1]
    assert finished["unsavedFiles"] == ["a.py"]
    assert finished["output"].startswith("[warning: a.py has unsaved changes")


async def test_no_warning_when_the_edit_is_on_disk(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    editor = Editor(saves=True)  # the editor saved the buffer after the agent's edit
    editor.buffers[root / "a.py"] = "x = 1\n"
    content, events = await run(root, editor)
    assert "warning" not in content and "x = 2" in content
    assert "unsavedFiles" not in events.of("tool.finished")[-1]


async def test_no_warning_for_a_file_not_open(tmp_path: Path) -> None:
    root = workspace(tmp_path)
    content, events = await run(root, Editor(saves=False))
    assert "warning" not in content and "x = 2" in content
    assert "unsavedFiles" not in events.of("tool.finished")[-1]
