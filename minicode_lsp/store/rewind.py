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
from minicode_lsp.store.diffs import unified_diff
from minicode_lsp.store.records import Group, GroupFile

log = logging.getLogger(__name__)

RewindAction = Literal["restore", "delete", "recreate"]
RewindStatus = Literal["clean", "merged", "conflict", "skipped"]
Reader = Callable[[str], bytes | None]

START_MARKER = b"<<<<<<< current (your edits)"
MID_MARKER = b"======="
END_MARKER = b">>>>>>> before the agent's change"


# what is at a path: (kind, image) with kind file | link (image: its target) | dir (image: b"")
Node = tuple[str, bytes]
# (kind, permission bits or None) of what is at a path, never following a link; None: absent
MetaReader = Callable[[str], tuple[str, int | None] | None]


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
    new_kind: str = "file"  # file | link (new_content: its target) | dir
    new_mode: int | None = None  # permission bits to set; None: leave (or the default for a new file)
    current_kind: str = "file"
    current_mode: int | None = None

    @property
    def uri(self) -> str:
        return Path(self.path).as_uri()

    @property
    def changes_file(self) -> bool:
        if not self.write:
            return False
        if self.new_content is None or self.current is None:
            return self.new_content != self.current
        return (self.new_kind, self.new_content) != (self.current_kind, self.current) or (
            self.new_mode is not None and self.new_mode != self.current_mode)

    @property
    def text_edit(self) -> bool:
        """A change of a regular file's content that an editor can show and apply."""
        return (self.new_content is None or self.new_kind == "file") and (
            self.current is None or self.current_kind == "file") and self.new_content != self.current


def _hash(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def state_hash(data: bytes | None, kind: str = "file", mode: int | None = None) -> str | None:
    """The fingerprint of one path's state (a regular file of unknown mode: its content's sha)."""
    if data is None:
        return None
    if kind == "file" and mode is None:
        return _hash(data)
    return hashlib.sha256(f"{kind}:{mode}:".encode() + data).hexdigest()


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

    def is_stale(self, current: Reader, meta: MetaReader | None = None) -> bool:
        """True when any path's current state differs from when the plan was made."""
        return any(_current_hash(p, current, meta) != h for p, h in self.current_hashes.items())


def _current(path: str, current: Reader, meta: MetaReader | None) -> tuple[bytes | None, str, int | None]:
    data = current(path)
    if meta is None:
        return data, "file", None
    found = meta(path)
    if found is None:  # not on disk (an open buffer of a file never saved: its text)
        return data, "file", None
    kind, mode = found
    return (b"" if kind == "dir" else data), kind, mode


def _current_hash(path: str, current: Reader, meta: MetaReader | None) -> str | None:
    data, kind, mode = _current(path, current, meta)
    return state_hash(data, kind, mode)


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
    pre: Node | None
    post: Node | None
    group_id: str
    pre_mode: int | None = None
    post_mode: int | None = None


def _undo_step(state: Node | None, step: _Step) -> tuple[Node | None, RewindStatus, str | None]:
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
    if not state[0] == pre[0] == post[0] == "file":
        return state, "conflict", f"you changed the {_noun(state[0])} after the agent changed it"
    merged, conflict = merge_bytes(post[1], state[1], pre[1])
    if conflict:
        return state, "conflict", "your edits overlap the agent's"
    return ("file", merged), "merged", None


def _undo_mode(mode: int | None, before: Node | None, step: _Step) -> int | None:
    """Permission bits after undoing ``step``: its pre-image's, unless the user changed them since."""
    if step.pre_mode is None:
        return mode  # not recorded (an older checkpoint): left as it is
    if before is None or mode is None or step.post_mode is None or mode == step.post_mode:
        return step.pre_mode
    return mode  # the user changed the mode after the agent: theirs is kept


def _noun(kind: str) -> str:
    return {"link": "symbolic link", "dir": "folder"}.get(kind, "file")


def _forced(target: Node | None, agent: Node | None, current: Node | None) -> Node | None:
    if target is None:
        return None
    if current is None or current == agent or not (target[0] == current[0] == "file"):
        return target
    merged, _ = merge_bytes(agent[1] if agent is not None and agent[0] == "file" else b"", current[1], target[1],
                            markers=True)
    return ("file", merged)


def _describe(node: Node | None, mode: int | None) -> bytes | None:
    """A folder or a link as a line a diff can show (a file is its own content)."""
    if node is None:
        return None
    kind, data = node
    perms = f" (mode {mode:04o})" if mode is not None else ""
    if kind == "dir":
        return f"folder{perms}\n".encode()
    if kind == "link":
        return b"symbolic link to " + data + b"\n"
    return data


def _node_diff(current: Node | None, cur_mode: int | None, new: Node | None, new_mode: int | None,
               path: str) -> str:
    if (current is None or current[0] == "file") and (new is None or new[0] == "file"):
        text = unified_diff(current[1] if current else None, new[1] if new else None, path)
        if current is not None and new is not None and new_mode is not None and cur_mode != new_mode:
            text += f"mode {cur_mode:04o} -> {new_mode:04o}\n" if cur_mode is not None else f"mode -> {new_mode:04o}\n"
        return text
    return unified_diff(_describe(current, cur_mode), _describe(new, new_mode), path)


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


def _image(blobs: BlobStore, kind: str, sha: str | None, present: bool) -> Node | None:
    if not present:
        return None
    if kind == "dir":
        return ("dir", b"")
    return (kind, blobs.get(sha) if sha else b"")


def _plan_file(path: str, entries: list[tuple[Group, GroupFile]], blobs: BlobStore,
               current_data: bytes | None, current_kind: str, current_mode: int | None, force: bool) -> FilePlan:
    gids = tuple(g.id for g, _ in entries)
    skipped = next((f.skipped_reason for _, f in entries if f.skipped_reason), None)
    first, last = entries[0][1], entries[-1][1]
    current: Node | None = None if current_data is None else (current_kind, current_data)
    # the recorded actions (a skipped image has no sha, but its action is known)
    action: RewindAction = ("delete" if first.action == "create"
                            else "recreate" if last.post_known and last.action == "delete" else "restore")
    plan_args: dict[str, Any] = {"current_kind": current_kind, "current_mode": current_mode}
    if skipped:
        return FilePlan(path, action, "skipped", None, current_data, "", skipped, False, gids, **plan_args)
    steps: list[_Step] = []
    try:
        for i, (g, f) in enumerate(entries):
            pre = _image(blobs, f.pre_kind, f.pre_sha, f.action != "create")
            post: Node | None
            post_mode = f.post_mode
            if _post_readable(f, blobs, path):
                post = _image(blobs, f.post_kind, f.post_sha, f.action != "delete")
            elif i + 1 < len(entries):  # interrupted group: the next group saw what it left
                nxt = entries[i + 1][1]
                post = _image(blobs, nxt.pre_kind, nxt.pre_sha, nxt.action != "create")
                post_mode = nxt.pre_mode
            else:  # interrupted latest group: whatever is there now is the agent's
                post, post_mode = current, current_mode
            steps.append(_Step(pre, post, g.id, f.pre_mode if pre is not None else None, post_mode))
    except (KeyError, BlobCorrupted) as exc:
        log.warning("rewind of %s: stored image unreadable: %s", path, exc)
        return FilePlan(path, action, "skipped", None, current_data, "", f"stored image unreadable: {exc}",
                        False, gids, **plan_args)
    target, agent = steps[0].pre, steps[-1].post
    if target is not None and agent is None:
        action = "recreate"
    state: Node | None = current
    mode = current_mode
    status: RewindStatus = "clean"
    reason: str | None = None
    for step in reversed(steps):
        before = state
        state, st, why = _undo_step(state, step)
        if st == "conflict":
            status, reason = "conflict", why
            break
        mode = None if state is None else _undo_mode(mode, before, step)
        if st == "merged":
            status = "merged"
    if status == "conflict":
        new = _forced(target, agent, current)
        new_mode = steps[0].pre_mode if new is not None else None
        return FilePlan(path, action, "conflict", new[1] if new else None, current_data,
                        _node_diff(current, current_mode, new, new_mode, path), reason, force, gids,
                        new[0] if new else "file", new_mode, **plan_args)
    return FilePlan(path, action, status, state[1] if state else None, current_data,
                    _node_diff(current, current_mode, state, mode, path), None, True, gids,
                    state[0] if state else "file", mode, **plan_args)


def _settle_folders(files: list[FilePlan], children: Callable[[str], list[str]]) -> None:
    """A folder the rewind would remove must be empty by then: when it still holds anything the
    plan does not remove (the user's files), it is left, as a conflict."""
    removed = {f.path for f in files if f.write and f.new_content is None}
    for f in sorted(files, key=lambda f: -f.path.count("/")):  # deepest first: sub-folders settle first
        if f.write and f.new_content is None and f.current_kind == "dir" and f.current is not None:
            left = [c for c in children(f.path) if c not in removed]
            if left:
                f.write, f.status = False, "conflict"
                f.reason = f"the folder holds {len(left)} entr{'y' if len(left) == 1 else 'ies'} the agent did not create"
                removed.discard(f.path)


def plan_rewind(groups: Sequence[Group], blobs: BlobStore, current: Reader, *, force: bool = False,
                paths: Collection[str] | None = None, meta: MetaReader | None = None,
                children: Callable[[str], list[str]] | None = None) -> RewindPlan:
    """Plan undoing ``groups`` (oldest first). ``current(path)`` reads the open buffer or disk
    (a link: its target); ``meta(path)`` tells what is there (kind and permission bits, never
    following a link; without it every path is a file of unknown mode); ``children(path)``
    lists a folder's entries (absolute paths).

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
        data, kind, mode = _current(path, current, meta)
        hashes[path] = state_hash(data, kind, mode)
        files.append(_plan_file(path, entries, blobs, data, kind, mode, force))
    if children is not None:
        _settle_folders(files, children)
    return RewindPlan(files, list(ordered), force, hashes)
