"""Rewind use-cases: preview (plan + annotated WorkspaceEdit + diffs), apply, undo."""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..agent.ports import UserDeclined
from ..protocol import RewindApplyArgs, RewindPreviewArgs
from ..store.rewind import FilePlan, RewindPlan, plan_rewind
from .diskio import decode
from .errors import InvalidParams, NotFound, StalePreview
from .frontend import FileEdit
from .workspace_fs import apply_changes, current_bytes

if TYPE_CHECKING:
    from .core import Service

log = logging.getLogger(__name__)

ANNOTATION_ID = "minicode.rewind"
MAX_PREVIEWS = 32


@dataclass
class StoredPreview:
    session_id: str | None
    args: RewindPreviewArgs
    plan: RewindPlan
    label: str


def full_range(text: str) -> dict[str, Any]:
    lines = text.split("\n")
    return {"start": {"line": 0, "character": 0}, "end": {"line": len(lines) - 1, "character": len(lines[-1])}}


def workspace_edit(files: list[FilePlan], current: dict[str, bytes | None], *, label: str, description: str,
                   confirm: bool) -> dict[str, Any]:
    """A WorkspaceEdit (wire form) whose every change carries the rewind annotation."""
    changes: list[dict[str, Any]] = []
    for f in files:
        uri = Path(f.path).as_uri()
        cur = current.get(f.path)
        if f.new_content is None:
            changes.append({"kind": "delete", "uri": uri, "options": {"ignoreIfNotExists": True},
                            "annotationId": ANNOTATION_ID})
            continue
        if cur is None:
            changes.append({"kind": "create", "uri": uri, "options": {"ignoreIfExists": True},
                            "annotationId": ANNOTATION_ID})
            cur_text = ""
        else:
            cur_text = decode(cur)
        changes.append({
            "textDocument": {"uri": uri, "version": None},
            "edits": [{"range": full_range(cur_text), "newText": decode(f.new_content),
                       "annotationId": ANNOTATION_ID}],
        })
    return {
        "documentChanges": changes,
        "changeAnnotations": {
            ANNOTATION_ID: {"label": label, "needsConfirmation": confirm, "description": description}
        },
    }


def fully_undone(plan: RewindPlan) -> list[str]:
    """Groups this rewind takes back entirely: every file of theirs is in the plan and written
    (or already at its target). Groups left partly done (a ``uris`` filter, a conflict left out)
    stay live, so a later rewind still covers what remains of them."""
    settled = {f.path for f in plan.files if f.write or f.new_content == f.current}
    return [g.id for g in plan.groups if all(gf.path in settled for gf in g.files)]


class RewindService:
    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self.previews: OrderedDict[str, StoredPreview] = OrderedDict()

    def _reader(self) -> Any:
        return lambda path: current_bytes(self.svc.frontend, Path(path))

    def _plan(self, args: RewindPreviewArgs, *, force: bool) -> tuple[str | None, RewindPlan]:
        session_id = self.svc.resolve_session_or_latest(args.session_id)
        turn_id = args.target.turn_id
        if turn_id and not self.svc.db.query_one("SELECT 1 FROM turns WHERE id = ?", (turn_id,)):
            raise NotFound(f"unknown turn {turn_id}")
        try:
            groups = self.svc.checkpoints.groups_for_target(session_id, args.target.model_dump())
        except KeyError as exc:
            raise NotFound(str(exc).strip("'")) from None
        except ValueError as exc:  # e.g. {"turnId": ""}: present, but names nothing
            raise InvalidParams(str(exc)) from None
        paths = None
        if args.uris:
            paths = {self.svc.path_of_uri(u).as_posix() for u in args.uris}
        return session_id, plan_rewind(groups, self.svc.blobs, self._reader(), force=force, paths=paths)

    def _label(self, session_id: str | None, plan: RewindPlan) -> tuple[str, str]:
        turns = sorted({g.turn_id for g in plan.groups if g.turn_id})
        label = f"Rewind {len(plan.groups)} agent change(s)"
        desc = f"MiniCode rewind of session {session_id or '?'}, turn(s) {', '.join(turns) or '?'}"
        return label, desc

    def preview(self, args: RewindPreviewArgs) -> dict[str, Any]:
        session_id, plan = self._plan(args, force=False)
        return self._preview_result(session_id, args, plan)

    def _preview_result(self, session_id: str | None, args: RewindPreviewArgs, plan: RewindPlan) -> dict[str, Any]:
        label, desc = self._label(session_id, plan)
        preview_id = uuid.uuid4().hex
        self.previews[preview_id] = StoredPreview(session_id, args, plan, label)
        while len(self.previews) > MAX_PREVIEWS:
            self.previews.popitem(last=False)
        writable = [f for f in plan.files if f.write and f.new_content != f.current]
        edit = workspace_edit(writable, {f.path: f.current for f in plan.files}, label=label, description=desc,
                              confirm=self.svc.settings.rewind.confirm)
        files = []
        for f in plan.files:
            wire = f.to_wire()
            if f.new_content is not None:
                wire["newText"] = decode(f.new_content)
            files.append(wire)
        return {
            "previewId": preview_id,
            "sessionId": session_id,
            "edit": edit,
            "files": files,
            "groups": plan.group_ids,
            "conflicts": len(plan.conflicts),
        }

    async def apply(self, args: RewindApplyArgs) -> dict[str, Any]:
        if args.preview_id:
            stored = self.previews.get(args.preview_id)
            if stored is None:
                raise NotFound(f"unknown or expired preview {args.preview_id}; preview again")
            if stored.plan.is_stale(self._reader()):
                raise StalePreview("files changed since the preview was made; preview again")
            session_id, plan = stored.session_id, stored.plan
            if args.force and plan.conflicts:
                session_id, plan = self._plan(stored.args, force=True)
        else:
            session_id, plan = self._plan(args, force=args.force)
        if not plan.groups:
            return {"applied": False, "safetyGroupId": None, "files": [], "reason": "nothing to rewind"}
        if not any(f.write for f in plan.files):  # every file left out (conflicts): nothing happens
            left = len(plan.files)
            return {"applied": False, "safetyGroupId": None, "files": [f.to_wire() for f in plan.files],
                    "reason": f"nothing applied: {left} file(s) left out" + (
                        f", {len(plan.conflicts)} in conflict (force writes conflict markers)"
                        if plan.conflicts else "")}
        label, desc = self._label(session_id, plan)
        to_write = [f for f in plan.files if f.write and f.new_content != f.current]
        result = await self._write(session_id, fully_undone(plan), to_write, label, desc)
        result["files"] = [f.to_wire() for f in plan.files]
        if args.preview_id:
            self.previews.pop(args.preview_id, None)
        return result

    async def _write(self, session_id: str | None, group_ids: list[str], files: list[FilePlan], label: str,
                     desc: str) -> dict[str, Any]:
        writer = self.svc.checkpoints.begin_group(session_id, None, None, "rewind", label)
        for f in files:
            writer.before_write(f.path, f.current)
        if not await self._apply(files, label, desc):
            writer.abort()
            return {"applied": False, "safetyGroupId": None, "reason": "declined in the editor"}
        for f in files:
            writer.after_write(f.path, f.new_content)
        group = writer.commit()
        safety_id = group.id if group is not None else None
        if safety_id is not None:
            self.svc.checkpoints.mark_rewound(group_ids, safety_id)
        if session_id:
            self.svc.notify_sessions(session_id, "updated")
        return {"applied": True, "safetyGroupId": safety_id}

    async def _apply(self, files: list[FilePlan], label: str, desc: str) -> bool:
        """Write the planned contents (through the editor for open or confirmed files); False if declined."""
        edits = [FileEdit(path=Path(f.path), old=f.current, new=f.new_content) for f in files]
        if not edits:
            return True
        try:
            await apply_changes(self.svc.frontend, edits, label=label, description=desc,
                                confirm=self.svc.settings.rewind.confirm)
        except UserDeclined:
            return False
        return True

    async def undo(self, session_id: str | None) -> dict[str, Any]:
        sid = self.svc.resolve_session_or_latest(session_id) if session_id else None
        safety = self.svc.checkpoints.latest_safety_group(sid)
        if safety is None:
            raise NotFound("no rewind to undo")
        plan = plan_rewind([safety], self.svc.blobs, self._reader())
        if plan.conflicts:
            paths = ", ".join(f.path for f in plan.conflicts)
            raise InvalidParams(f"files changed since the rewind, undo would overwrite them: {paths}")
        files = [f for f in plan.files if f.new_content != f.current]
        label = "Undo rewind"
        desc = f"MiniCode: restore the state before rewind {safety.id}"
        if not await self._apply(files, label, desc):
            return {"applied": False, "restoredGroupId": safety.id, "files": []}
        self.svc.checkpoints.unmark_rewound(safety.id)
        if safety.session_id:
            self.svc.notify_sessions(safety.session_id, "updated")
        return {"applied": True, "restoredGroupId": safety.id, "files": [f.to_wire() for f in plan.files]}
