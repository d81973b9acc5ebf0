"""A workspace (not a git repository), its service and one session, for rewind tests: shell
commands go through the checkpointing a ``run_command`` uses, rewinds through the service."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

from minicode_lsp.config import ConfigLoader
from minicode_lsp.protocol import RewindApplyArgs, RewindTarget
from minicode_lsp.service import HeadlessFrontend, Service
from minicode_lsp.service.checkpointing import TurnCheckpoints


class World:
    def __init__(self, tmp: Path, *, root: Path | None = None) -> None:
        """The workspace ``tmp/ws`` (or ``root``), the store ``tmp/store``."""
        self.root = root if root is not None else tmp / "ws"
        self.root.mkdir()
        self.outside = tmp / "outside"
        self.outside.mkdir()
        loader = ConfigLoader()
        loader.set_layer("initializationOptions", {"store": {"path": str(tmp / "store")}})
        self.svc = Service(self.root, HeadlessFrontend(interactive=False), loader=loader, watch=False)
        self.svc.workspace.settings.rewind.confirm = False
        self.session = self.svc.workspace.sessions.create_session("exact", str(self.root)).id
        self.turn = self.svc.workspace.sessions.start_turn(self.session, "exact").id

    async def shell(self, command: str) -> Any:
        tc = TurnCheckpoints(self.svc.workspace.checkpoints, self.svc.workspace.snapshotter, session_id=self.session,
                             turn_id=self.turn, snapshot_lock=self.svc.workspace.snapshot_lock)
        await tc.begin(tool_call_id=uuid.uuid4().hex, tool="run_command", kind="shell", label=command)
        subprocess.run(["sh", "-c", command], cwd=self.root, check=True)
        return await tc.end()

    async def undo_gives_back(self, expected: dict[str, tuple[str, Any, int]]) -> None:
        """``rewind.undo`` restores exactly the tree the rewind replaced."""
        result = (await self.svc.rewind.undo(self.session)).wire()
        assert result["applied"], result
        assert tree(self.root) == expected, "undoing the rewind did not give back the exact prior tree"

    async def rewind_all(self) -> dict[str, Any]:
        result = await self.svc.rewind.apply(RewindApplyArgs(session_id=self.session,
                                                             target=RewindTarget(session=True)))
        return result.wire()


def tree(root: Path) -> dict[str, tuple[str, Any, int]]:
    """Every entry under ``root``: kind, content (bytes, link target or None) and mode bits."""
    out: dict[str, tuple[str, Any, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p), 0)
            elif p.is_dir():
                out[rel] = ("dir", None, st.st_mode & 0o7777)
            else:
                out[rel] = ("file", p.read_bytes(), st.st_mode & 0o7777)
    return out
