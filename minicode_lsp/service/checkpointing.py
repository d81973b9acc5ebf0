"""The agent's Checkpoints port over the store: one edit group per file-changing tool call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..agent.ports import ChangedFile, GroupKind, GroupResult
from ..store.checkpoints import CheckpointStore, GroupWriter, norm_path
from ..store.shell_state import ShellState
from ..store.snapshots import Snapshot, Snapshotter

log = logging.getLogger(__name__)


@dataclass
class _Late:
    """A shell group whose command left processes running: what changes after ``baseline``
    (outside the turn's other groups) is added to it."""

    group_id: str
    tool_call_id: str
    label: str
    baseline: Snapshot
    files: dict[str, str] = field(default_factory=dict)  # path -> action


class TurnCheckpoints:
    """Opens a group at ``begin`` and commits it at ``end``.

    Edit groups get their pre/post images from the FileSystem's ``before_write``/``after_write``
    calls; shell groups compare a workspace snapshot taken before the command with one after.

    ``lingering`` tells whether processes a command left behind still run (they live until
    the turn ends). While they do, what changes between the turn's groups is added to the
    group of the last command that left them (at the next ``begin``, after each edit group,
    and at ``settle`` when the turn ends).
    """

    def __init__(self, checkpoints: CheckpointStore, snapshotter: Snapshotter | None, *, session_id: str, turn_id: str,
                 snapshot_lock: asyncio.Lock | None = None, lingering: Callable[[], bool] | None = None) -> None:
        # One snapshot at a time per workspace: the background warm-up and commands of other turns.
        self.snapshot_lock = snapshot_lock or asyncio.Lock()
        self.checkpoints = checkpoints
        self.snapshotter = snapshotter
        self.session_id = session_id
        self.turn_id = turn_id
        self._writer: GroupWriter | None = None
        self._kind: GroupKind = "edit"
        self._before: Snapshot | None = None
        self._lingering = lingering
        self._late: _Late | None = None
        self._settled: list[_Late] = []
        self._tool_call_id = ""

    async def begin(self, *, tool_call_id: str, tool: str, kind: GroupKind, label: str) -> None:
        if self._writer is not None:  # a previous group was never closed: keep what it has
            await self.end()
        if self._late is not None:
            await self._sync_late()
        self._kind, self._tool_call_id = kind, tool_call_id
        self._writer = self.checkpoints.begin_group(
            session_id=self.session_id, turn_id=self.turn_id, tool_call_id=tool_call_id, kind=kind, label=label
        )
        if kind == "shell" and self.snapshotter is not None:
            async with self.snapshot_lock:
                self._before = await asyncio.to_thread(self.snapshotter.take)
                # kept with the open group until it closes (only what changed since the last
                # command is written): a kill during the command leaves it behind, and the next
                # start compares it with the disk (store/shell_state.py ShellState.recover)
                try:
                    state = ShellState(self.checkpoints, self.snapshotter)
                    await asyncio.to_thread(state.persist, self._before, self._writer)
                except Exception:  # the command still runs and is recorded; only a kill would lose it
                    log.exception("could not keep the before-snapshot of %s", tool_call_id)

    def before_write(self, path: Path, current: bytes | None) -> None:
        if self._writer is not None:
            self._writer.before_write(path, current)

    def after_write(self, path: Path, new: bytes | None) -> None:
        if self._writer is not None:
            self._writer.after_write(path, new)

    async def end(self) -> GroupResult | None:
        writer, self._writer = self._writer, None
        if writer is None:
            return None
        skipped: list[str] = []
        after: Snapshot | None = None
        if self._kind == "shell" and self.snapshotter is not None and self._before is not None:
            async with self.snapshot_lock:
                after = await asyncio.to_thread(self.snapshotter.take)
            self.snapshotter.record(writer, self.snapshotter.diff(self._before, after))
            skipped = [f"{path or '(workspace)'}: {reason}" for path, reason in after.skipped.items()]
            self._before = None
        group = writer.commit()
        if after is not None and self._lingering is not None and self._lingering():
            # the command returned, processes it started still run: what they change next is its
            if self._late is None or self._late.group_id != writer.id:
                self._late = _Late(writer.id, self._tool_call_id, writer.label, after)
            self._late.baseline = after
        elif self._late is not None and self._kind == "edit":
            await self._sync_late(exclude={norm_path(p) for p in writer.paths})
        if group is None:
            return None
        return GroupResult(
            group_id=group.id,
            files=[ChangedFile(path=Path(f.path), action=f.action) for f in group.files],
            skipped=skipped,
        )

    async def _sync_late(self, exclude: set[str] | frozenset[str] = frozenset()) -> None:
        """Add what changed since the lingering group's baseline (but ``exclude``: the paths an
        edit group just wrote) to that group; stop watching once its processes are gone."""
        late = self._late
        if late is None or self.snapshotter is None:
            return
        alive = self._lingering() if self._lingering is not None else False
        try:
            async with self.snapshot_lock:
                now = await asyncio.to_thread(self.snapshotter.take)
            changes = [c for c in self.snapshotter.diff(late.baseline, now) if norm_path(c.path) not in exclude]
            late.baseline = now
            if changes:
                writer = self.checkpoints.reopen_group(late.group_id, self.session_id, self.turn_id,
                                                       late.tool_call_id, "shell", late.label)
                self.snapshotter.record(writer, changes)
                writer.commit()
                late.files.update({norm_path(c.path): c.action for c in changes})
        except Exception:
            log.exception("could not record what the processes of %s changed later", late.tool_call_id)
        if not alive:
            self._late = None
            self._settled.append(late)

    async def settle(self) -> list[GroupResult]:
        """At the turn's end, after its commands' processes were ended: record their last
        changes. Returns, per lingering group, the files added to it this turn."""
        if self._late is not None:
            self._lingering = None  # the processes are gone: one last look, then stop
            await self._sync_late()
        settled, self._settled = self._settled, []
        return [GroupResult(group_id=late.group_id,
                            files=[ChangedFile(path=Path(p), action=a)  # type: ignore[arg-type]
                                   for p, a in late.files.items()])
                for late in settled if late.files]
