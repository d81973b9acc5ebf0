"""Checkpoint and rewind use-cases: list the edit groups, preview a rewind (plan + annotated
WorkspaceEdit + diffs), apply it, undo it."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import protocol as p
from ..agent.ports import UserDeclined
from ..protocol import CheckpointListArgs, RewindApplyArgs, RewindPreviewArgs
from ..store.records import Group
from ..store.rewind import FilePlan, RewindPlan, plan_rewind
from ..wording import plural
from . import wire
from .errors import Busy, InvalidParams, NotFound, ServiceError, StalePreview
from .frontend import FileEdit
from .rewind_disk import DiskRewind, NodeOp, RewindFailed, restore_buffers
from .workspace_fs import current_bytes

if TYPE_CHECKING:
    from .workspace import Workspace

log = logging.getLogger(__name__)

MAX_PREVIEWS = 32


@dataclass
class StoredPreview:
    session_id: str | None
    args: RewindPreviewArgs
    plan: RewindPlan
    label: str


def fully_undone(plan: RewindPlan) -> list[str]:
    """Groups this rewind takes back entirely: every file of theirs is in the plan and written
    (or already at its target). Groups left partly done (a ``uris`` filter, a conflict left out)
    stay live, so a later rewind still covers what remains of them."""
    settled = {f.path for f in plan.files if f.write or f.new_content == f.current}
    return [g.id for g in plan.groups if all(gf.path in settled for gf in g.files)]


class Rewind:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.previews: OrderedDict[str, StoredPreview] = OrderedDict()

    def list_checkpoints(self, args: CheckpointListArgs) -> p.CheckpointListResult:
        sid = self.ws.resolve_session(args.session_id) if args.session_id else None
        path = self.ws.path_of_uri(args.uri) if args.uri else None
        groups = self.ws.checkpoints.list_groups(session_id=sid, path=path, limit=args.limit)
        return p.CheckpointListResult(groups=[wire.edit_group(g) for g in groups])

    def session_to_rewind(self, uri: str) -> str | None:
        """The session of the newest agent change to this file not yet rewound, if any (a file
        outside the workspace has none)."""
        try:
            path = self.ws.path_of_uri(uri)
        except ServiceError:
            return None
        groups = self.ws.checkpoints.list_groups(path=path, limit=50, kinds=("edit", "shell"))
        live = [g for g in groups if not g.rewound_by and g.session_id]
        return live[0].session_id if live else None

    async def preview_shown(self, args: RewindPreviewArgs) -> p.RewindPreview:
        """The preview, with its diff also opened as a document (editors with no plugin)."""
        result = self.preview(args)
        path = self.ws.private_file("previews", f"{result.preview_id}.diff")
        path.write_text("\n".join(f.diff for f in result.files) or "nothing to rewind\n", encoding="utf-8")
        result.document_uri = path.as_uri()
        await self.ws.frontend.show_document(path)
        return result

    def _reader(self) -> Any:
        """A path's current content: an open buffer's text, a file's bytes, a link's target
        (never followed), ``b""`` for a folder; None when absent."""
        def read(path: str) -> bytes | None:
            p = Path(path)
            if self._through_link(path):
                return None
            try:
                st = os.lstat(p)
            except OSError:
                return current_bytes(self.ws.frontend, p)
            if stat.S_ISLNK(st.st_mode):
                return os.readlink(os.fsencode(p))
            if stat.S_ISDIR(st.st_mode):
                return b""
            return current_bytes(self.ws.frontend, p)
        return read

    def _through_link(self, path: str) -> bool:
        """Whether a folder on the way from the root to ``path`` is a symbolic link: what is
        there is not the workspace's (and a rewind never goes through it), so it is absent."""
        root = self.ws.root
        try:
            parts = Path(path).relative_to(root).parts[:-1]
        except ValueError:
            return True
        p = root
        for part in parts:
            p = p / part
            try:
                if stat.S_ISLNK(os.lstat(p).st_mode):
                    return True
            except OSError:
                return False
        return False

    def _meta(self, path: str) -> tuple[str, int | None] | None:
        if self._through_link(path):
            return None
        try:
            st = os.lstat(path)
        except OSError:
            return None
        kind = "dir" if stat.S_ISDIR(st.st_mode) else "link" if stat.S_ISLNK(st.st_mode) else "file"
        return kind, stat.S_IMODE(st.st_mode) if kind != "link" else None

    @staticmethod
    def _children(path: str) -> list[str]:
        try:
            return [f"{path}/{name}" for name in os.listdir(path)]
        except OSError:
            return []

    def refuse_if_running(self, session_id: str | None) -> None:
        """A rewind never interleaves with a turn of its session (in this process or another)."""
        if session_id is None:
            return
        if session_id in self.ws.running:
            raise Busy(f"session {session_id} has a running turn; cancel it or wait for it to end, then rewind")
        pid = self.ws.sessions.running_elsewhere(session_id)
        if pid is not None:
            raise Busy(f"session {session_id} has a turn running in another process (pid {pid});"
                       " wait for it to end, then rewind")

    def _plan(self, args: RewindPreviewArgs, *, force: bool) -> tuple[str | None, RewindPlan]:
        session_id = self.ws.resolve_session_or_latest(args.session_id)
        target = args.target.model_dump()
        if args.target.turn_id:  # any unique prefix, as the CLI prints them
            target["turn_id"] = self.ws.resolve_turn(args.target.turn_id)
        if args.target.group_id:
            target["group_id"] = self.ws.resolve_group(args.target.group_id)
        try:
            groups = self.ws.checkpoints.groups_for_target(session_id, target)
        except KeyError as exc:
            raise NotFound(str(exc).strip("'")) from None
        except ValueError as exc:  # e.g. {"turnId": ""}: present, but names nothing
            raise InvalidParams(str(exc)) from None
        paths = None
        if args.uris:
            paths = {self.ws.path_of_uri(u).as_posix() for u in args.uris}
        return session_id, plan_rewind(groups, self.ws.blobs, self._reader(), force=force, paths=paths,
                                       meta=self._meta, children=self._children)

    def _label(self, session_id: str | None, plan: RewindPlan) -> tuple[str, str]:
        turns = sorted({g.turn_id for g in plan.groups if g.turn_id})
        label = f"Rewind {plural(len(plan.groups), 'agent change')}"
        desc = f"MiniCode rewind of session {session_id or '?'}, {'turn' if len(turns) == 1 else 'turns'} {', '.join(turns) or '?'}"
        return label, desc

    def preview(self, args: RewindPreviewArgs) -> p.RewindPreview:
        session_id, plan = self._plan(args, force=False)
        return self._preview_result(session_id, args, plan)

    def _preview_result(self, session_id: str | None, args: RewindPreviewArgs, plan: RewindPlan) -> p.RewindPreview:
        label, _ = self._label(session_id, plan)
        preview_id = uuid.uuid4().hex
        self.previews[preview_id] = StoredPreview(session_id, args, plan, label)
        while len(self.previews) > MAX_PREVIEWS:
            self.previews.popitem(last=False)
        # each file's restored text once (newText): no WorkspaceEdit repeating it
        return p.RewindPreview(preview_id=preview_id, session_id=session_id,
                               files=[wire.rewind_file(f, with_text=True) for f in plan.files],
                               groups=plan.group_ids, conflicts=len(plan.conflicts))

    async def apply(self, args: RewindApplyArgs) -> p.RewindApplied:
        if args.preview_id:
            stored = self.previews.get(args.preview_id)
            if stored is None:
                raise NotFound(f"unknown or expired preview {args.preview_id}; preview again")
            self.refuse_if_running(stored.session_id)
            if stored.plan.is_stale(self._reader(), self._meta):
                raise StalePreview("files changed since the preview was made; preview again")
            session_id, plan = stored.session_id, stored.plan
            if args.force and plan.conflicts:
                session_id, plan = self._plan(stored.args, force=True)
        else:
            session_id, plan = self._plan(args, force=args.force)
        self.refuse_if_running(session_id)
        if not plan.groups:
            return p.RewindApplied(applied=False, safety_group_id=None, files=[], reason="nothing to rewind")
        files = [wire.rewind_file(f) for f in plan.files]
        if not any(f.write for f in plan.files):  # every file left out (conflicts): nothing happens
            left = len(plan.files)
            return p.RewindApplied(applied=False, safety_group_id=None, files=files,
                                   reason=f"{plural(left, 'file')} left out" + (
                                       f", {len(plan.conflicts)} in conflict (force writes conflict markers)"
                                       if plan.conflicts else ""))
        label, desc = self._label(session_id, plan)
        to_write = plan.to_write
        # by previewId the user has seen and accepted the preview: applied without asking again
        confirm = self.ws.settings.rewind.confirm and not args.preview_id
        result = await self._write(session_id, fully_undone(plan), to_write, label, desc, confirm=confirm)
        result.files = files
        if args.preview_id:
            self.previews.pop(args.preview_id, None)
        return result

    async def _write(self, session_id: str | None, group_ids: list[str], files: list[FilePlan], label: str,
                     desc: str, *, confirm: bool) -> p.RewindApplied:
        writer = self.ws.checkpoints.begin_group(session_id, None, None, "rewind", label)
        for f in files:
            writer.before_write(f.path, None if f.current_kind == "dir" else f.current, kind=f.current_kind,
                                mode=f.current_mode if f.current is not None else None)
        self.ws.rewinding.add(session_id or "")
        try:
            applied = await self._apply(files, label, desc, confirm=confirm, group_id=writer.id)
        except RewindFailed as exc:
            writer.abort()
            return p.RewindApplied(applied=False, safety_group_id=None, reason=str(exc))
        finally:
            self.ws.rewinding.discard(session_id or "")
        if not applied:
            writer.abort()
            return p.RewindApplied(applied=False, safety_group_id=None, reason="declined in the editor")
        for f in files:
            mode = f.new_mode if f.new_mode is not None else f.current_mode
            writer.after_write(f.path, None if f.new_kind == "dir" else f.new_content, kind=f.new_kind,
                               mode=mode if f.new_content is not None else None)
        group = writer.commit()
        safety_id = group.id if group is not None else None
        if safety_id is not None:
            self.ws.checkpoints.mark_rewound(group_ids, safety_id)
        if session_id:
            self.ws.notify_sessions(session_id, "updated")
        return p.RewindApplied(applied=True, safety_group_id=safety_id)

    def _op(self, f: FilePlan, *, content: bool = True) -> NodeOp | None:
        """The disk change of one planned path (``content`` False: its mode only; an editor
        writes its text)."""
        rel = Path(f.path).relative_to(self.ws.root).as_posix()
        cur_kind = None if f.current is None else f.current_kind
        new_kind = None if f.new_content is None else f.new_kind
        if not content:
            if cur_kind != "file" or new_kind != "file" or f.new_mode is None or f.new_mode == f.current_mode:
                return None
            return NodeOp(rel, cur_kind, new_kind, None, f.new_mode, f.current_mode)
        data = None if new_kind in (None, "dir") else f.new_content
        if cur_kind == new_kind and (new_kind == "dir" or data == f.current):
            data = None  # same content: its mode only
            if f.new_mode is None or f.new_mode == f.current_mode:
                return None
        return NodeOp(rel, cur_kind, new_kind, data, f.new_mode, f.current_mode)

    async def _apply(self, files: list[FilePlan], label: str, desc: str, *, confirm: bool,
                     group_id: str | None = None) -> bool:
        """Write the planned states, all or nothing: staged on disk first, then the editor's part
        (open files, or every text change when confirmation is asked), then moved into place.
        False if declined (nothing changed); ``RewindFailed`` when it could not be done (nothing
        changed either, the reason says why)."""
        frontend = self.ws.frontend
        editor = [f for f in files if f.text_edit and (confirm or frontend.open_text(Path(f.path)) is not None)]
        ops: list[NodeOp] = []
        by_path: dict[str, NodeOp] = {}
        for f in files:
            op = self._op(f)
            if op is not None:
                ops.append(op)
                by_path[f.path] = op
        if not ops and not editor:
            return True
        disk = DiskRewind(self.ws.root, self.ws.store_dir, ops, group_id=group_id)
        await asyncio.to_thread(disk.prepare)
        edited: list[FilePlan] = []  # applied by the editor: undone there too if the disk step fails
        try:
            if editor:
                if not await self._ask_editor(editor, label, desc, confirm):
                    disk.discard()
                    return False
                edited = editor
                for f in editor:  # what the editor did: its open buffers hold the text now
                    op = by_path.get(f.path)
                    if op is None:
                        continue
                    op.cur_kind, op.cur_mode = disk.state(op.rel)
                    in_editor = bool(getattr(frontend, "can_edit_buffers", True)) and \
                        frontend.open_text(Path(f.path)) is not None
                    if in_editor or (op.new_kind is None and op.cur_kind is None):
                        op.data = None  # the buffer is the truth (or the editor deleted the file)
                        if op.new_kind is None or op.cur_kind != "file" or op.mode in (None, op.cur_mode):
                            disk.ops.remove(op)
                            continue
                        op.new_kind = "file"
            await asyncio.to_thread(disk.commit)
        except BaseException as exc:
            disk.discard()
            left = await restore_buffers(frontend, edited) if edited else []
            if left and isinstance(exc, RewindFailed):
                raise RewindFailed(f"{exc}; the editor's changes to {', '.join(left)} could not be undone: "
                                   "undo them in the editor") from exc
            raise
        return True

    async def _ask_editor(self, editor: list[FilePlan], label: str, desc: str, confirm: bool) -> bool:
        frontend = self.ws.frontend
        edits = [FileEdit(path=Path(f.path), old=f.current, new=f.new_content) for f in editor]
        can_edit = bool(getattr(frontend, "can_edit_buffers", True))
        if confirm and not (can_edit and frontend.supports_confirmation):
            names = ", ".join(e.path.name for e in edits)
            answer = await frontend.choose(f"MiniCode: {label} ({names})?", ["Apply", "Decline"])
            if answer != "Apply":
                return False
            confirm = False
        if not confirm:  # approved (or nothing to ask): files not open are written on disk, never
            # sent to an editor that would hold them in a hidden buffer (nor to one that cannot edit)
            edits = [e for e in edits if can_edit and frontend.open_text(e.path) is not None]
            if not edits:
                return True
        try:
            return bool(await frontend.apply_edits(edits, label=label, description=desc, confirm=confirm))
        except UserDeclined:
            return False

    def _undo_plan(self, session_id: str | None) -> tuple[Group, RewindPlan]:
        """The latest rewind's safety group and the plan that would put its files back."""
        sid = self.ws.resolve_session_or_latest(session_id) if session_id else None
        safety = self.ws.checkpoints.latest_safety_group(sid)
        if safety is None:
            raise NotFound("no rewind to undo")
        plan = plan_rewind([safety], self.ws.blobs, self._reader(), meta=self._meta, children=self._children)
        return safety, plan

    def preview_undo(self, session_id: str | None) -> tuple[list[p.RewindFile], int]:
        """What ``undo`` would write (its files, and how many changed since the rewind); changes nothing."""
        _safety, plan = self._undo_plan(session_id)
        return [wire.rewind_file(f) for f in plan.files], len(plan.conflicts)

    async def undo(self, session_id: str | None) -> p.RewindUndone:
        safety, plan = self._undo_plan(session_id)
        self.refuse_if_running(safety.session_id)
        if plan.conflicts:
            paths = ", ".join(f.path for f in plan.conflicts)
            raise InvalidParams(f"files changed since the rewind, undo would overwrite them: {paths}")
        files = plan.to_write
        label = "Undo rewind"
        desc = f"MiniCode: restore the state before rewind {safety.id}"
        try:
            applied = await self._apply(files, label, desc, confirm=self.ws.settings.rewind.confirm)
        except RewindFailed as exc:
            return p.RewindUndone(applied=False, restored_group_id=safety.id, files=[], reason=str(exc))
        if not applied:
            return p.RewindUndone(applied=False, restored_group_id=safety.id, files=[])
        self.ws.checkpoints.unmark_rewound(safety.id)
        if safety.session_id:
            self.ws.notify_sessions(safety.session_id, "updated")
        return p.RewindUndone(applied=True, restored_group_id=safety.id, files=[wire.rewind_file(f) for f in plan.files])
