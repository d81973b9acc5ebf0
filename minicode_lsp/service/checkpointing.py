"""The agent's Checkpoints port over the store: one edit group per file-changing tool call."""

from __future__ import annotations

import asyncio
import logging
import uuid
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
    """A shell group whose command left processes running (``alive``: whether they still do),
    or (``alive`` None) the group of changes made while several such commands' processes ran,
    which cannot be told apart: later changes are added to it."""

    group_id: str
    tool_call_id: str | None
    label: str
    alive: Callable[[], bool] | None
    files: dict[str, str] = field(default_factory=dict)  # path -> action


class TurnCheckpoints:
    """Opens a group at ``begin`` and commits it at ``end``.

    Edit groups get their pre/post images from the FileSystem's ``before_write``/``after_write``
    calls; shell groups compare a workspace snapshot taken before the command with one after.

    ``leftovers`` (called when a shell group ends) gives whether the processes that command
    left behind still run (a callable), or None when it left none; they live until the turn
    ends. While any do, what changes between the turn's groups (at the next ``begin``, after
    each edit group, and at ``settle`` when the turn ends) is added to the group of the command
    whose processes made it, when that can be known: when the processes of one command only
    were running since the last look. When those of several were, nothing tells which one
    made a change (the kernel does not say who wrote a file), so it goes to one group that
    names all of them, made for it (newer than each, so a rewind of any of them takes it back
    too). ``lingering`` (the older form, when ``leftovers`` is not given): whether any
    command's processes still run.
    """

    def __init__(self, checkpoints: CheckpointStore, snapshotter: Snapshotter | None, *, session_id: str, turn_id: str,
                 snapshot_lock: asyncio.Lock | None = None, lingering: Callable[[], bool] | None = None,
                 leftovers: Callable[[], Callable[[], bool] | None] | None = None) -> None:
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
        self._leftovers = leftovers
        self._lates: list[_Late] = []  # commands whose processes ran since the last look
        self._joint: dict[tuple[str, ...], _Late] = {}  # groups of changes several of them may have made
        self._baseline: Snapshot | None = None  # the last look at the workspace
        self._settled: list[_Late] = []
        self._tool_call_id = ""

    async def begin(self, *, tool_call_id: str, tool: str, kind: GroupKind, label: str) -> None:
        if self._writer is not None:  # a previous group was never closed: keep what it has
            await self.end()
        if self._lates:
            await self._sync_late()
        self._kind, self._tool_call_id = kind, tool_call_id
        if kind == "shell" and self._leftovers is not None:
            self._leftovers()  # processes of a command run outside any group are not this one's
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
        if after is not None:
            alive = self._left_by_this_command()
            if alive is not None:  # the command returned, processes it started still run
                self._lates.append(_Late(writer.id, self._tool_call_id, writer.label, alive))
            if self._lates:
                self._baseline = after  # what changed until now is in this group
        elif self._lates and self._kind == "edit":
            await self._sync_late(exclude={norm_path(p) for p in writer.paths})
        if group is None:
            return None
        return GroupResult(
            group_id=group.id,
            files=[ChangedFile(path=Path(f.path), action=f.action) for f in group.files],
            skipped=skipped,
        )

    def _left_by_this_command(self) -> Callable[[], bool] | None:
        if self._leftovers is not None:
            alive = self._leftovers()
            return alive if alive is not None and alive() else None
        if self._lingering is not None and self._lingering():
            return self._lingering
        return None

    def _group_for(self, lates: list[_Late]) -> _Late:
        """Where changes go that the processes of ``lates`` made: its group when one only; else
        the group that names them all (made at the first such change)."""
        if len(lates) == 1:
            return lates[0]
        key = tuple(late.group_id for late in lates)
        joint = self._joint.get(key)
        if joint is None:
            names = "; ".join(f"`{late.label[:60]}`" for late in lates)
            joint = _Late(uuid.uuid4().hex, None, f"changes made while processes of several commands ran: {names}"
                          " (which one made each cannot be told)", None)
            self._joint[key] = joint
        return joint

    async def _sync_late(self, exclude: set[str] | frozenset[str] = frozenset()) -> None:
        """Add what changed since the last look (but ``exclude``: the paths an edit group just
        wrote) to the group of the command whose processes made it, or to the group naming all
        the commands whose processes ran meanwhile; stop watching a command's once they are
        gone."""
        lates = list(self._lates)
        if not lates or self.snapshotter is None:
            return
        gone = [late for late in lates if late.alive is None or not late.alive()]  # before the look
        try:
            async with self.snapshot_lock:
                now = await asyncio.to_thread(self.snapshotter.take)
            baseline, self._baseline = self._baseline, now
            changes = [] if baseline is None else [
                c for c in self.snapshotter.diff(baseline, now) if norm_path(c.path) not in exclude]
            if changes:
                target = self._group_for(lates)
                writer = self.checkpoints.reopen_group(target.group_id, self.session_id, self.turn_id,
                                                       target.tool_call_id, "shell", target.label)
                self.snapshotter.record(writer, changes)
                writer.commit()
                target.files.update({norm_path(c.path): c.action for c in changes})
        except Exception:
            log.exception("could not record what the processes of %s changed later",
                          ", ".join(str(late.tool_call_id) for late in lates))
        for late in gone:
            self._lates.remove(late)
            self._settled.append(late)

    async def settle(self) -> list[GroupResult]:
        """At the turn's end, after its commands' processes were ended: record their last
        changes. Returns, per group that got such changes this turn, the files added to it."""
        if self._lates:
            for late in self._lates:  # the processes are gone: one last look, then stop
                late.alive = None
            await self._sync_late()
        settled, self._settled = self._settled + list(self._joint.values()), []
        self._joint = {}
        return [GroupResult(group_id=late.group_id,
                            files=[ChangedFile(path=Path(p), action=a)  # type: ignore[arg-type]
                                   for p, a in late.files.items()])
                for late in settled if late.files]
