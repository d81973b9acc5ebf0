"""The rewind planner: undo the agent's changes, keep the user's, never lose work silently.

For each file in the groups being undone (oldest first), ``target`` is the pre-image of the
earliest group, ``agent`` the post-image of the latest, ``current`` the open buffer or disk.
The groups are undone one by one from the newest: ``state = current``, then for each group
``state = merge3(base=post, ours=state, theirs=pre)``. When nobody else touched the file this
is exactly "restore target" (status ``clean``); user edits made *between* two agent groups
survive too, because each step only takes back that group's own hunks. Merge3 is line based on
raw bytes (lines keep their endings), so CRLF and non-UTF-8 files round-trip byte for byte.

Statuses: ``clean`` (every step found the file as the agent left it), ``merged`` (the user's
edits were kept), ``conflict`` (the user's and the agent's changes overlap or touch, the user
deleted a file the agent edited, recreated one it deleted, or changed one it created),
``skipped`` (a pre- or post-image was over the size cap or its blob is unreadable). Conflicts
are left out unless ``force``: then the file gets a single three-way merge of agent / current /
target with conflict markers (or, when the file must go, it is deleted / recreated anyway).
Actions: ``delete`` (the agent created it), ``recreate`` (the agent deleted it), ``restore``.

The plan carries a fingerprint of every current content so apply can refuse a stale preview.
"""

from __future__ import annotations

import difflib
import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from merge3 import Merge3

from minicode_lsp.store.blobs import BlobCorrupted, BlobStore
from minicode_lsp.store.checkpoints import Group, GroupFile
from minicode_lsp.store.diffs import unified_diff

log = logging.getLogger(__name__)

RewindAction = Literal["restore", "delete", "recreate"]
RewindStatus = Literal["clean", "merged", "conflict", "skipped"]
Reader = Callable[[str], bytes | None]

START_MARKER = b"<<<<<<< current (your edits)"
MID_MARKER = b"======="
END_MARKER = b">>>>>>> before the agent's change"


@dataclass
class FilePlan:
    path: str
    action: RewindAction
    status: RewindStatus
    new_content: bytes | None  # what apply writes; None = delete the file
    current: bytes | None
    diff: str
    reason: str | None = None
    write: bool = True  # False for skipped files and for conflicts without force
    group_ids: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return Path(self.path).as_uri()

    @property
    def changes_file(self) -> bool:
        return self.write and self.new_content != self.current

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uri": self.uri, "path": self.path, "action": self.action,
                               "status": self.status, "diff": self.diff, "willApply": self.write}
        if self.reason:
            out["reason"] = self.reason
        return out


def _hash(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def fingerprint_of(currents: dict[str, str | None]) -> str:
    h = hashlib.sha256()
    for path in sorted(currents):
        h.update(f"{path}\0{currents[path] or '-'}\n".encode())
    return h.hexdigest()


@dataclass
class RewindPlan:
    files: list[FilePlan]
    groups: list[Group]
    force: bool = False
    current_hashes: dict[str, str | None] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.current_hashes)

    @property
    def group_ids(self) -> list[str]:
        return [g.id for g in self.groups]

    @property
    def to_write(self) -> list[FilePlan]:
        return [f for f in self.files if f.changes_file]

    @property
    def conflicts(self) -> list[FilePlan]:
        return [f for f in self.files if f.status == "conflict"]

    def is_stale(self, current: Reader) -> bool:
        """True when any file's current content differs from when the plan was made."""
        return any(_hash(current(p)) != h for p, h in self.current_hashes.items())

    def to_wire(self) -> dict[str, Any]:
        return {"files": [f.to_wire() for f in self.files], "groups": self.group_ids,
                "fingerprint": self.fingerprint, "force": self.force}


# ---------------------------------------------------------------------------- merging
class _Matcher(difflib.SequenceMatcher):  # type: ignore[type-arg]
    def __init__(self, isjunk: Any = None, a: Any = "", b: Any = "", autojunk: bool = False) -> None:
        super().__init__(isjunk, a, b, autojunk=False)


def split_lines(data: bytes) -> list[bytes]:
    """Lines with their endings (``\\n``, ``\\r\\n``, ``\\r``); ``b"".join`` gives ``data`` back."""
    return data.splitlines(keepends=True)


def _newline(*texts: list[bytes]) -> bytes:
    for lines in texts:
        for line in lines:
            if line.endswith(b"\r\n"):
                return b"\r\n"
            if line.endswith(b"\n"):
                return b"\n"
            if line.endswith(b"\r"):
                return b"\r"
    return b"\n"


def merge_bytes(base: bytes, ours: bytes, theirs: bytes, *, markers: bool = False) -> tuple[bytes, bool]:
    """Three-way merge by lines. Returns ``(merged, had_conflict)``; markers only when asked."""
    b_lines, o_lines, t_lines = split_lines(base), split_lines(ours), split_lines(theirs)
    m = Merge3(b_lines, o_lines, t_lines, sequence_matcher=_Matcher)  # type: ignore[arg-type]
    nl = _newline(o_lines, b_lines, t_lines)
    out: list[bytes] = []
    conflict = False

    def ensure_eol() -> None:
        if out and not out[-1].endswith((b"\n", b"\r")):
            out[-1] = out[-1] + nl

    for region in m.merge_regions():
        what = region[0]
        if what == "unchanged":
            out.extend(b_lines[region[1]:region[2]])  # type: ignore[misc]
        elif what in ("a", "same"):
            out.extend(o_lines[region[1]:region[2]])  # type: ignore[misc]
        elif what == "b":
            out.extend(t_lines[region[1]:region[2]])  # type: ignore[misc]
        elif what == "conflict":
            conflict = True
            _, _iz, _zm, ia, am, ib, bm = region  # type: ignore[misc]
            if not markers:
                continue
            ensure_eol()
            out.append(START_MARKER + nl)
            out.extend(o_lines[ia:am])
            ensure_eol()
            out.append(MID_MARKER + nl)
            out.extend(t_lines[ib:bm])
            ensure_eol()
            out.append(END_MARKER + nl)
    return b"".join(out), conflict


@dataclass
class _Step:
    pre: bytes | None
    post: bytes | None
    group_id: str


def _undo_step(state: bytes | None, step: _Step) -> tuple[bytes | None, RewindStatus, str | None]:
    pre, post = step.pre, step.post
    if state == post:
        return pre, "clean", None
    if pre == post:
        return state, "clean", None
    if state is None:
        return None, "conflict", "you deleted the file after the agent changed it"
    if post is None:
        return state, "conflict", "you recreated the file after the agent deleted it"
    if pre is None:
        return state, "conflict", "you changed the file after the agent created it"
    merged, conflict = merge_bytes(post, state, pre)
    if conflict:
        return state, "conflict", "your edits overlap the agent's"
    return merged, "merged", None


def _forced(target: bytes | None, agent: bytes | None, current: bytes | None) -> bytes | None:
    if target is None:
        return None
    if current is None or current == agent:
        return target
    merged, _ = merge_bytes(agent or b"", current, target, markers=True)
    return merged


def _post_readable(f: GroupFile, blobs: BlobStore, path: str) -> bool:
    """Post-images are stored without fsync (the file holds them too); a crash can lose one."""
    if not f.post_known:
        return False
    if f.post_sha is None:
        return True
    try:
        blobs.get(f.post_sha)
        return True
    except (KeyError, BlobCorrupted) as exc:
        log.warning("rewind of %s: post-image lost (%s); using the next known state", path, exc)
        return False


def _plan_file(path: str, entries: list[tuple[Group, GroupFile]], blobs: BlobStore,
               current: bytes | None, force: bool) -> FilePlan:
    gids = tuple(g.id for g, _ in entries)
    skipped = next((f.skipped_reason for _, f in entries if f.skipped_reason), None)
    first, last = entries[0][1], entries[-1][1]
    # the recorded actions (a skipped image has no sha, but its action is known)
    action: RewindAction = ("delete" if first.action == "create"
                            else "recreate" if last.post_known and last.action == "delete" else "restore")
    if skipped:
        return FilePlan(path, action, "skipped", None, current, "", skipped, False, gids)
    steps: list[_Step] = []
    try:
        for i, (g, f) in enumerate(entries):
            pre = blobs.get(f.pre_sha) if f.pre_sha else None
            post: bytes | None
            if _post_readable(f, blobs, path):
                post = blobs.get(f.post_sha) if f.post_sha else None
            elif i + 1 < len(entries):  # interrupted group: the next group saw what it left
                nxt = entries[i + 1][1].pre_sha
                post = blobs.get(nxt) if nxt else None
            else:  # interrupted latest group: whatever is there now is the agent's
                post = current
            steps.append(_Step(pre, post, g.id))
    except (KeyError, BlobCorrupted) as exc:
        log.warning("rewind of %s: stored image unreadable: %s", path, exc)
        return FilePlan(path, action, "skipped", None, current, "", f"stored image unreadable: {exc}",
                        False, gids)
    target, agent = steps[0].pre, steps[-1].post
    if target is not None and agent is None:
        action = "recreate"
    state: bytes | None = current
    status: RewindStatus = "clean"
    reason: str | None = None
    for step in reversed(steps):
        state, st, why = _undo_step(state, step)
        if st == "conflict":
            status, reason = "conflict", why
            break
        if st == "merged":
            status = "merged"
    if status == "conflict":
        new = _forced(target, agent, current)
        return FilePlan(path, action, "conflict", new, current, unified_diff(current, new, path),
                        reason, force, gids)
    return FilePlan(path, action, status, state, current, unified_diff(current, state, path), None, True,
                    gids)


def plan_rewind(groups: Sequence[Group], blobs: BlobStore, current: Reader, *, force: bool = False,
                paths: Collection[str] | None = None) -> RewindPlan:
    """Plan undoing ``groups`` (oldest first). ``current(path)`` reads the open buffer or disk.

    ``paths`` limits the plan to those absolute paths (the ``uris`` of a preview).
    """
    ordered = sorted(groups, key=lambda g: g.ordinal)
    per_file: dict[str, list[tuple[Group, GroupFile]]] = {}
    for g in ordered:
        for f in g.files:
            if paths is not None and f.path not in paths:
                continue
            per_file.setdefault(f.path, []).append((g, f))
    files: list[FilePlan] = []
    hashes: dict[str, str | None] = {}
    for path, entries in per_file.items():
        cur = current(path)
        hashes[path] = _hash(cur)
        files.append(_plan_file(path, entries, blobs, cur, force))
    return RewindPlan(files, list(ordered), force, hashes)
