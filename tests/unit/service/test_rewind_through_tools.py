"""Property: the real agent tools, shell commands, user edits (buffer and disk) and rewinds.

Each example builds a workspace of small line files, one of them open in a fake editor
buffer, and runs a random program through the service: agent edits via the tool registry
(edit_file, write_file, delete_file) with the service's buffer-aware file system and
checkpoints, shell commands via run_command (snapshots), user edits to the buffer and to the
disk, and rewinds of random targets. After every rewind: `clean` files hold exactly the state
before the earliest undone change, `merged` files keep every user line and lose the undone
agent lines, conflicts are untouched, and `rewind.undo` gives back the exact prior bytes.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from minicode_lsp.agent.messages import ToolCall
from minicode_lsp.agent.ports import Ports
from minicode_lsp.agent.tools.base import ToolContext
from minicode_lsp.agent.tools.registry import dispatch
from minicode_lsp.config import ConfigLoader
from minicode_lsp.protocol import RewindApplyArgs, RewindTarget
from minicode_lsp.service import Service
from minicode_lsp.service.checkpointing import TurnCheckpoints
from minicode_lsp.service.diskio import read_disk
from minicode_lsp.service.frontend import FileEdit, NoDocumentsNoProgress
from minicode_lsp.service.workspace_fs import WorkspaceFileSystem, current_bytes

FILES = ["open.txt", "a.txt"]
OPEN = "open.txt"
NLINES = 6
TMP = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


class BufferEditor(NoDocumentsNoProgress):
    """A fake editor with one open buffer; everything else lives on disk."""

    supports_confirmation = True

    def __init__(self) -> None:
        self.buffers: dict[Path, str] = {}

    def open_text(self, path: Path) -> str | None:
        return self.buffers.get(path)

    async def apply_edits(self, edits: list[FileEdit], *, label: str, description: str, confirm: bool) -> bool:
        for e in edits:
            if e.path in self.buffers:
                if e.new is None:
                    del self.buffers[e.path]  # the editor closes a deleted file
                else:
                    self.buffers[e.path] = e.new.decode()
        return True

    def publish(self, method: str, payload: dict[str, Any]) -> None:
        pass

    def notify_user(self, message: str) -> None:
        pass

    async def choose(self, message: str, actions: list[str]) -> str | None:
        return actions[0]


class Approver:
    async def approve_command(self, command: str, cwd: Path) -> str:
        return "once"


class Events:
    async def emit(self, type: str, data: dict[str, Any]) -> None:
        pass


line = st.integers(0, NLINES - 1)
agent_op = st.one_of(
    st.tuples(st.just("edit"), st.sampled_from(FILES), line),
    st.tuples(st.just("write"), st.sampled_from(FILES), st.just(0)),
    st.tuples(st.just("delete"), st.sampled_from(FILES[1:]), st.just(0)),
)
shell_op = st.one_of(
    st.tuples(st.just("shell_edit"), st.sampled_from(FILES[1:]), line),
    st.tuples(st.just("shell_create"), st.just("made.txt"), st.just(0)),
    st.tuples(st.just("shell_delete"), st.sampled_from(FILES[1:]), st.just(0)),
)
user_op = st.tuples(st.sampled_from(["user_buffer", "user_disk"]), st.sampled_from(FILES), line)
rewind_op = st.tuples(st.just("rewind"), st.sampled_from(["latest", "steps", "group", "session"]), st.integers(1, 3))
program = st.lists(st.one_of(agent_op, agent_op, shell_op, user_op, user_op, user_op, rewind_op, rewind_op),
                  min_size=6, max_size=14)


class World:
    def __init__(self, root: Path, svc: Service, editor: BufferEditor) -> None:
        self.root, self.svc, self.editor = root, svc, editor
        self.tokens = itertools.count()
        self.session = svc.workspace.sessions.create_session("prop", str(root)).id
        self.turn = svc.workspace.sessions.start_turn(self.session, "prop").id
        self.groups: list[tuple[str, dict[str, bytes | None]]] = []  # (group id, state before it per file)
        self.agent_tokens: dict[str, str] = {}  # token -> group id

    def path(self, name: str) -> Path:
        return self.root / name

    def current(self, name: str) -> bytes | None:
        return current_bytes(self.editor, self.path(name))

    def snapshot(self) -> dict[str, bytes | None]:
        names = set(FILES) | {"made.txt"}
        return {n: self.current(n) for n in names}

    async def tool(self, name: str, kind: str, **args: Any) -> None:
        tc = TurnCheckpoints(self.svc.workspace.checkpoints, self.svc.workspace.snapshotter, session_id=self.session, turn_id=self.turn)
        fs = WorkspaceFileSystem(self.editor, before_write=tc.before_write, after_write=tc.after_write)
        ports = Ports(fs=fs, approver=Approver(), events=Events(), checkpoints=tc, roots=[self.root],  # type: ignore[arg-type]
                      forbidden=[self.svc.workspace.store_dir])
        before = self.snapshot()
        await tc.begin(tool_call_id=f"c{next(self.tokens)}", tool=name, kind=kind, label=name)  # type: ignore[arg-type]
        await dispatch(ToolCall(id="x", name=name, arguments=args), ToolContext(ports=ports, confirm=False))
        group = await tc.end()
        if group is not None:
            self.groups.append((group.group_id, before))

    def user_edit(self, how: str, name: str, n: int) -> None:
        token = f"U{next(self.tokens)}"
        if how == "user_buffer" and name == OPEN and self.path(name) in self.editor.buffers:
            lines = self.editor.buffers[self.path(name)].split("\n")
            if n < len(lines) - 1:
                lines[n] = token
                self.editor.buffers[self.path(name)] = "\n".join(lines)
            return
        if name == OPEN:
            return  # the open file's truth is its buffer
        data = read_disk(self.path(name))
        if data is None:
            return
        lines = data.decode().split("\n")
        if n < len(lines) - 1:
            lines[n] = token
            self.path(name).write_text("\n".join(lines))

    async def step(self, op: tuple[str, str, int]) -> None:
        kind, name, n = op
        token = f"A{next(self.tokens)}"
        if kind == "edit":
            cur = self.current(name)
            if cur is None:
                return
            lines = cur.decode().split("\n")
            if n >= len(lines) - 1 or not lines[n] or cur.decode().count(lines[n] + "\n") != 1:
                return
            await self.tool("edit_file", "edit", path=name, old_text=lines[n] + "\n", new_text=token + "\n")
        elif kind == "write":
            await self.tool("write_file", "edit", path=name, content="".join(f"{token}-{i}\n" for i in range(NLINES)))
        elif kind == "delete":
            await self.tool("delete_file", "edit", path=name)
        elif kind == "shell_edit":
            await self.tool("run_command", "shell", command=f"test -f {name} && sed -i '{n + 1}s/.*/S{token}/' {name}; true")
        elif kind == "shell_create":
            await self.tool("run_command", "shell", command=f"echo S{token} >> {name}")
        elif kind == "shell_delete":
            await self.tool("run_command", "shell", command=f"rm -f {name}")
        elif kind.startswith("user"):
            self.user_edit(kind, name, n)

    async def rewind(self, how: str, n: int) -> None:
        live = self.svc.workspace.checkpoints.groups_for_target(self.session, {"session": True})
        if not live:
            return
        if how == "latest":
            target = RewindTarget(latest=True)
        elif how == "steps":
            target = RewindTarget(steps=n)
        elif how == "group":
            target = RewindTarget(group_id=live[-min(n, len(live))].id)
        else:
            target = RewindTarget(session=True)
        undone = self.svc.workspace.checkpoints.groups_for_target(self.session, target.model_dump())
        undone_ids = [g.id for g in undone]
        before = self.snapshot()
        result = (await self.svc.rewind.apply(RewindApplyArgs(session_id=self.session, target=target))).wire()
        after = self.snapshot()
        before_group = dict(self.groups)
        for f in result["files"]:
            name = Path(f["path"]).name
            event(f"rewound file: {f['status']}")
            if f["status"] == "conflict":
                assert after[name] == before[name], f"conflict {name} was touched"
            elif f["status"] == "clean":
                first = next(g for g in undone_ids if any(Path(x.path).name == name
                                                          for x in self.svc.workspace.checkpoints.get_group(g).files))
                assert after[name] == before_group[first][name], f"clean {name}: not the pre-image"
            elif f["status"] == "merged":
                kept = [ln for ln in (before[name] or b"").decode().split("\n") if ln.startswith("U")]
                now = (after[name] or b"").decode().split("\n")
                assert all(u in now for u in kept), f"merged {name} lost a user edit"
        if result.get("applied") and result.get("safetyGroupId"):
            await self.svc.rewind.undo(self.session)
            assert self.snapshot() == before, "undo did not give back the exact prior bytes"
            await self.svc.rewind.apply(RewindApplyArgs(session_id=self.session, target=target))
            assert self.snapshot() == after, "rewinding again after the undo differs"


# Every command runs under the containment supervisor (~80 ms more each), 500 examples of them:
# the default 120 s per test is too little on a loaded 2-core machine.
@pytest.mark.timeout(600)
@settings(max_examples=int(os.environ.get("MINICODE_PROP_EXAMPLES", "500")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program)
def test_random_interleavings_through_the_real_tools(ops: list[tuple[str, str, int]]) -> None:
    base = Path(tempfile.mkdtemp(prefix="mc-prop-", dir=TMP))
    root = base / "ws"
    root.mkdir()
    for name in FILES:
        (root / name).write_text("".join(f"{name[0]}{i}\n" for i in range(NLINES)))
    editor = BufferEditor()
    editor.buffers[root / OPEN] = (root / OPEN).read_text()
    loader = ConfigLoader()
    loader.set_layer("initializationOptions", {"store": {"path": str(base / "store")}})
    svc = Service(root, editor, loader=loader, watch=False)  # type: ignore[arg-type]
    try:
        world = World(root, svc, editor)

        async def run() -> None:
            for op in ops:
                if op[0] == "rewind":
                    await world.rewind(op[1], op[2])
                else:
                    await world.step(op)

        asyncio.run(run())
    finally:
        svc.close()
        shutil.rmtree(base, ignore_errors=True)
