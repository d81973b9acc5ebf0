"""Edit groups: the file changes of one tool call, each file's pre- and post-image as blobs.

Crash safety: ``GroupWriter.before_write`` commits the group row (status ``open``), the file
row and the pre-image (staged in ``pending_blobs``, see ``store/blobs.py``) in one transaction
*before* the caller changes the file: the row never exists without its pre-image. Post-images
are staged with the rows ``commit`` writes (status ``closed``), in one transaction too. A
background flusher turns staged images into fsynced blob files later; reads see them
either way. A group left ``open`` by a crash keeps its pre-images; for its files with no
post-image (``post_known`` false) the rewind planner takes whatever is on disk as the agent's
post-image, so the interrupted turn can still be rewound.

Rewind bookkeeping: applying a rewind records a group of kind ``rewind`` (the *safety group*:
pre = each file as it was just before the rewind, post = what the rewind wrote) and marks the
undone groups ``rewound_by`` = the safety group's id. Targets skip ``rewind`` groups and groups
already rewound, so "latest" after a rewind means the next older agent change. Undo of a
rewind plans a rewind of the safety group itself (three-way again, so the user's edits since
are kept), then ``unmark_rewound(safety_id)`` makes the undone groups live again and marks the
safety group as used.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from minicode_lsp.store.blobs import BlobStore, BlobTooLarge, sha256
from minicode_lsp.store.db import Database
from minicode_lsp.store.ids import resolve_in_table
from minicode_lsp.store.records import FileAction, Group, GroupFile, GroupKind

log = logging.getLogger(__name__)

NodeKind = Literal["file", "link", "dir"]

def norm_path(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    if not p.is_absolute():
        raise ValueError(f"checkpoint paths must be absolute: {path}")
    return p.as_posix()


def _mode_changed(pre: int | None, post: int | None) -> bool:
    return pre is not None and post is not None and pre != post


def _action(pre_present: bool, post_present: bool) -> FileAction:
    return "modify" if pre_present and post_present else "create" if post_present else "delete"


@dataclass
class _Entry:
    pre_sha: str | None
    post_sha: str | None = None
    post_known: bool = False
    skipped: str | None = None
    row_written: bool = False
    pre_present: bool = True  # whether the file existed (a skipped image has no sha)
    post_present: bool = True
    pre_data: bytes | None = None  # image bytes to stage with the rows at commit
    post_data: bytes | None = None
    pre_kind: str = "file"
    post_kind: str = "file"
    pre_mode: int | None = None
    post_mode: int | None = None


def disk_mode(path: str | os.PathLike[str]) -> int | None:
    """The permission bits of a regular file at ``path`` (not followed); None otherwise."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None


class GroupWriter:
    """Collects one tool call's file changes. Not thread-safe; one writer per tool call."""

    def __init__(self, store: CheckpointStore, session_id: str | None, turn_id: str | None,
                 tool_call_id: str | None, kind: GroupKind, label: str) -> None:
        self.store, self.id, self.created_at = store, uuid.uuid4().hex, time.time()
        self.session_id, self.turn_id, self.tool_call_id = session_id, turn_id, tool_call_id
        self.kind, self.label = kind, label
        self._files: dict[str, _Entry] = {}
        self._row_written = self._done = False
        self._ordinal = 0

    def _image(self, data: bytes | None) -> tuple[str | None, str | None]:
        """``(sha, None)``, ``(None, None)`` for an absent file, ``(None, reason)`` over the size cap."""
        if data is None:
            return None, None
        limit = self.store.blobs.max_size
        if len(data) > limit:
            return None, BlobTooLarge(len(data), limit).reason
        return sha256(data), None

    def write_open_row(self, conn: sqlite3.Connection) -> None:
        """Inside the caller's transaction: the group's row (status ``open``), once."""
        if not self._row_written:
            cur = conn.execute("INSERT INTO edit_groups(id, session_id, turn_id, tool_call_id, kind, label,"
                               " created_at, status) VALUES (?,?,?,?,?,?,?,'open')",
                               (self.id, self.session_id, self.turn_id, self.tool_call_id, self.kind,
                                self.label, self.created_at))
            self._ordinal = int(cur.lastrowid or 0)
            self._row_written = True

    def before_write(self, path: str | os.PathLike[str], current: bytes | None, *, kind: str = "file",
                     mode: int | None = None) -> None:
        """Record ``current`` as the pre-image the first time ``path`` is touched; durable on return
        (committed with the rows, in the same transaction). ``kind``: what ``current`` is (a
        link's image is its target; a folder has none); ``mode``: its permission bits (default:
        a regular file's, read from the disk)."""
        key = norm_path(path)
        if key in self._files or self._done:
            return
        if mode is None and current is not None and kind == "file":
            mode = disk_mode(key)
        present = current is not None or kind == "dir"
        sha, skipped = self._image(current)
        blobs = self.store.blobs
        staged = False
        with self.store._tx() as conn:
            self.write_open_row(conn)
            conn.execute("INSERT OR REPLACE INTO group_files(group_id, path, action, pre_sha, post_sha,"
                         " post_known, skipped_reason, pre_kind, pre_mode) VALUES (?,?,?,?,NULL,0,?,?,?)",
                         (self.id, key, "modify" if present else "create", sha, skipped, kind, mode))
            if current is not None and sha is not None:
                staged = blobs.stage(conn, sha, current)
        self._files[key] = _Entry(pre_sha=sha, skipped=skipped, row_written=True, pre_present=present,
                                  pre_kind=kind, pre_mode=mode if present else None)
        if staged:
            blobs.wake()

    def after_write(self, path: str | os.PathLike[str], new: bytes | None, *, kind: str = "file",
                    mode: int | None = None) -> None:
        """Record ``new`` (None: deleted) as the post-image; stored in the database at commit.
        ``mode`` defaults to a regular file's bits as they are on disk now."""
        key = norm_path(path)
        entry = self._files.get(key)
        if entry is None:
            raise ValueError(f"after_write without before_write for {key}")
        if mode is None and new is not None and kind == "file":
            mode = disk_mode(key)
        sha, skipped = self._image(new)
        entry.post_sha, entry.post_known, entry.post_present = sha, True, new is not None or kind == "dir"
        entry.post_data = new if sha is not None else None
        entry.post_kind, entry.post_mode = kind, mode if entry.post_present else None
        entry.skipped = entry.skipped or skipped

    def add_change(self, path: str | os.PathLike[str], pre: bytes | None, post: bytes | None) -> None:
        """A change found after the fact (shell groups): both images at once, staged at commit."""
        pre_sha, s1 = self._image(pre)
        post_sha, s2 = self._image(post)
        action = _action(pre is not None, post is not None)
        key = norm_path(path)
        new = key not in self._files
        self.add_change_sha(path, pre_sha, post_sha, skipped_reason=s1 or s2, action=action)
        entry = self._files[key]
        if new and pre_sha is not None:
            entry.pre_data = pre
        if post_sha is not None:
            entry.post_data = post

    def add_change_sha(self, path: str | os.PathLike[str], pre_sha: str | None, post_sha: str | None,
                       *, skipped_reason: str | None = None, action: FileAction | None = None,
                       pre_kind: str = "file", post_kind: str = "file", pre_mode: int | None = None,
                       post_mode: int | None = None) -> None:
        """Like ``add_change`` with blobs already in the store (e.g. from a ``Snapshotter``).

        ``action`` tells absent from skipped when a sha is None (default: from the shas).
        """
        key = norm_path(path)
        pre_present = pre_sha is not None if action is None else action != "create"
        post_present = post_sha is not None if action is None else action != "delete"
        old = self._files.get(key)
        if old is not None:
            old.post_sha, old.post_known, old.post_present = post_sha, True, post_present
            old.post_data = None
            old.post_kind, old.post_mode = post_kind, post_mode
            old.skipped = old.skipped or skipped_reason
            return
        self._files[key] = _Entry(pre_sha, post_sha, True, skipped_reason, False, pre_present, post_present,
                                  pre_kind=pre_kind, post_kind=post_kind, pre_mode=pre_mode, post_mode=post_mode)

    @property
    def paths(self) -> list[str]:
        return list(self._files)

    def commit(self, current: Callable[[str], bytes | None] | None = None) -> Group | None:
        """Close the group; ``None`` (and nothing stored) when no file changed.

        A path with a pre-image but no ``after_write`` is read back through ``current`` when
        given, else dropped (the write did not happen). The images not stored yet are staged
        in the same transaction as the rows. The returned ``Group`` is built from what the
        writer holds (it equals ``store.get_group(id)``).
        """
        if self._done:
            raise RuntimeError("group already committed")
        self._done = True
        keep: dict[str, _Entry] = {}
        for key, e in self._files.items():
            if not e.post_known and current is not None:
                data = current(key)
                e.post_sha, skipped = self._image(data)
                e.post_data = data if e.post_sha is not None else None
                e.post_known, e.skipped, e.post_present = True, e.skipped or skipped, data is not None
            if e.post_known and (e.skipped is not None or e.pre_sha != e.post_sha
                                 or e.pre_present != e.post_present or e.pre_kind != e.post_kind
                                 or _mode_changed(e.pre_mode, e.post_mode)):
                keep[key] = e
        blobs = self.store.blobs
        to_stage: dict[str, bytes] = {}
        for e in keep.values():
            for sha, data in ((e.pre_sha, e.pre_data), (e.post_sha, e.post_data)):
                if sha is not None and data is not None:
                    to_stage[sha] = data
        staged = False
        with self.store._tx() as conn:
            if not keep:
                self._forget(conn)
                return None
            self.write_open_row(conn)
            dropped = [(self.id, k) for k, e in self._files.items() if k not in keep and e.row_written]
            if dropped:
                conn.executemany("DELETE FROM group_files WHERE group_id=? AND path=?", dropped)
            # rows before_write made are updated in place (cheaper than a replace: no index changes)
            updates = [(_action(e.pre_present, e.post_present), e.post_sha, e.skipped, e.post_kind, e.post_mode,
                        self.id, k) for k, e in keep.items() if e.row_written]
            if updates:
                conn.executemany("UPDATE group_files SET action=?, post_sha=?, post_known=1, skipped_reason=?,"
                                 " post_kind=?, post_mode=? WHERE group_id=? AND path=?", updates)
            inserts = [(self.id, k, _action(e.pre_present, e.post_present), e.pre_sha, e.post_sha, e.skipped,
                        e.pre_kind, e.post_kind, e.pre_mode, e.post_mode)
                       for k, e in keep.items() if not e.row_written]
            if inserts:
                conn.executemany("INSERT OR REPLACE INTO group_files(group_id, path, action, pre_sha, post_sha,"
                                 " post_known, skipped_reason, pre_kind, post_kind, pre_mode, post_mode)"
                                 " VALUES (?,?,?,?,?,1,?,?,?,?,?)", inserts)
            conn.execute("UPDATE edit_groups SET status='closed' WHERE id=?", (self.id,))
            conn.execute("DELETE FROM shell_manifests WHERE group_id=?", (self.id,))
            for sha, data in to_stage.items():
                staged = blobs.stage(conn, sha, data) or staged
        if staged:
            blobs.wake()
        for e in self._files.values():
            e.pre_data = e.post_data = None
        files = tuple(GroupFile(k, _action(e.pre_present, e.post_present), e.pre_sha, e.post_sha, e.skipped, True,
                                e.pre_kind, e.post_kind, e.pre_mode, e.post_mode)
                      for k, e in sorted(keep.items()))
        return Group(self.id, self.session_id, self.turn_id, self.tool_call_id, self.kind, self.label,
                     self.created_at, self._ordinal, "closed", None, files)

    def abort(self) -> None:
        """Forget the group (e.g. the user declined every write)."""
        self._done = True
        with self.store._tx() as conn:
            self._forget(conn)

    def _forget(self, conn: sqlite3.Connection) -> None:
        if self._row_written:
            conn.execute("DELETE FROM group_files WHERE group_id=?", (self.id,))
            conn.execute("DELETE FROM edit_groups WHERE id=?", (self.id,))
            conn.execute("DELETE FROM shell_manifests WHERE group_id=?", (self.id,))


class CheckpointStore:
    """Edit groups and their files in a store's database (tables: migrations 3 and 4 of
    ``store/db.py``), their images in ``blobs``."""

    def __init__(self, db: Database, blobs: BlobStore) -> None:
        self.db, self.blobs = db, blobs
        # images are staged in this database and flushed to blob files in the background
        blobs.attach(db, roots=self.referenced_blobs)

    def close(self) -> None:
        """Drain staged images to blob files and stop the flusher; call before closing the db."""
        self.blobs.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self.db.transaction() as conn:
            yield conn

    def _q(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.db.query_tuples(sql, tuple(args))

    def begin_group(self, session_id: str | None, turn_id: str | None, tool_call_id: str | None,
                    kind: GroupKind, label: str = "") -> GroupWriter:
        return GroupWriter(self, session_id, turn_id, tool_call_id, kind, label)

    def resume_group(self, group: Group) -> GroupWriter:
        """A writer for a group left open by a killed process (its row exists; commit closes it)."""
        writer = GroupWriter(self, group.session_id, group.turn_id, group.tool_call_id, group.kind, group.label)
        writer.id, writer.created_at, writer._row_written = group.id, group.created_at, True
        writer._ordinal = group.ordinal
        return writer

    def reopen_group(self, group_id: str, session_id: str | None, turn_id: str | None, tool_call_id: str | None,
                     kind: GroupKind, label: str) -> GroupWriter:
        """A writer that adds later changes to a committed group (what a command's processes
        changed after it returned): a path already in the group keeps its pre-image and gets
        the new post-image; a group that had no change yet is created under the same id."""
        group = self.get_group(group_id)
        if group is None:
            writer = GroupWriter(self, session_id, turn_id, tool_call_id, kind, label)
            writer.id = group_id
            return writer
        writer = self.resume_group(group)
        for f in group.files:
            writer._files[f.path] = _Entry(f.pre_sha, f.post_sha, True, f.skipped_reason, True,
                                           f.action != "create", f.action != "delete", pre_kind=f.pre_kind,
                                           post_kind=f.post_kind, pre_mode=f.pre_mode, post_mode=f.post_mode)
        return writer

    # ------------------------------------------------------------------ reading
    _COLS = "id, session_id, turn_id, tool_call_id, kind, label, created_at, ordinal, status, rewound_by"

    def _load(self, rows: Sequence[sqlite3.Row | tuple[Any, ...]]) -> list[Group]:
        ids = [r[0] for r in rows]
        files: dict[str, list[GroupFile]] = {i: [] for i in ids}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            q = ("SELECT group_id, path, action, pre_sha, post_sha, skipped_reason, post_known, pre_kind,"
                 " post_kind, pre_mode, post_mode FROM group_files"
                 f" WHERE group_id IN ({','.join('?' * len(part))}) ORDER BY path")
            for g, path, action, pre, post, skipped, known, pk, qk, pm, qm in self._q(q, part):
                files[g].append(GroupFile(path, action, pre, post, skipped, bool(known), pk or "file", qk or "file",
                                          pm, qm))
        return [Group(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], tuple(files[r[0]]))
                for r in rows]

    def get_group(self, group_id: str) -> Group | None:
        found = self._load(self._q(f"SELECT {self._COLS} FROM edit_groups WHERE id=?", (group_id,)))
        return found[0] if found else None

    def resolve_group(self, prefix: str) -> str:
        """An edit group's full id from any unique prefix, in any case."""
        return resolve_in_table(self.db, "edit_groups", prefix, "group")

    def list_groups(self, session_id: str | None = None, path: str | os.PathLike[str] | None = None,
                    limit: int = 200, *, kinds: Sequence[str] | None = None) -> list[Group]:
        """Groups newest first, optionally of one session and/or touching one path."""
        where: list[str] = []
        args: list[Any] = []
        if session_id is not None:
            where.append("session_id=?")
            args.append(session_id)
        if path is not None:
            where.append("id IN (SELECT group_id FROM group_files WHERE path=?)")
            args.append(norm_path(path))
        if kinds:
            where.append(f"kind IN ({','.join('?' * len(kinds))})")
            args.extend(kinds)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._q(f"SELECT {self._COLS} FROM edit_groups{clause} ORDER BY ordinal DESC LIMIT ?",
                       (*args, limit))
        return self._load(rows)

    def _live(self, session_id: str | None, after_ordinal: int = 0) -> list[Group]:
        where = "kind != 'rewind' AND rewound_by IS NULL AND ordinal >= ?"
        args: list[Any] = [after_ordinal]
        if session_id is not None:
            where += " AND session_id=?"
            args.append(session_id)
        rows = self._q(f"SELECT {self._COLS} FROM edit_groups WHERE {where} ORDER BY ordinal", args)
        return self._load(rows)

    def groups_for_target(self, session_id: str | None, target: Any) -> list[Group]:
        """The live (not rewound, not ``rewind``) groups a target covers, oldest first.

        ``target``: a dict (camelCase or snake_case keys) or an object with attributes
        ``latest``, ``steps``, ``group_id``, ``turn_id``, ``session`` (exactly one set).
        """
        def get(name: str, camel: str) -> Any:
            if isinstance(target, dict):
                return target.get(name, target.get(camel))
            return getattr(target, name, None)

        group_id, turn_id = get("group_id", "groupId"), get("turn_id", "turnId")
        if group_id:
            g = self.get_group(group_id)
            if g is None:
                raise KeyError(f"unknown group {group_id}")
            return self._live(g.session_id, g.ordinal)
        if turn_id:
            found = self._q("SELECT MIN(ordinal), session_id FROM edit_groups WHERE turn_id=?", (turn_id,))
            row = found[0] if found else None
            if row is None or row[0] is None:
                return []
            return self._live(row[1], row[0])
        live = self._live(session_id)
        if get("session", "session"):
            return live
        steps = get("steps", "steps")
        if steps:
            return live[-int(steps):]
        if get("latest", "latest"):
            return live[-1:]
        raise ValueError("target needs one of latest, steps, groupId, turnId, session")

    # ------------------------------------------------------------------ rewind marks
    def mark_rewound(self, group_ids: Sequence[str], safety_group_id: str) -> None:
        with self._tx() as conn:
            conn.executemany("UPDATE edit_groups SET rewound_by=? WHERE id=?",
                             [(safety_group_id, g) for g in group_ids])

    def unmark_rewound(self, safety_group_id: str) -> list[str]:
        """Undo of a rewind: the groups it undid become live again; the safety group is used up."""
        with self._tx() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM edit_groups WHERE rewound_by=?",
                                              (safety_group_id,))]
            conn.execute("UPDATE edit_groups SET rewound_by=NULL WHERE rewound_by=?", (safety_group_id,))
            conn.execute("UPDATE edit_groups SET rewound_by=? WHERE id=?", (safety_group_id, safety_group_id))
        return ids

    def latest_safety_group(self, session_id: str | None = None) -> Group | None:
        """The newest rewind (safety) group not yet undone: what ``rewind.undo`` restores."""
        where = "kind='rewind' AND rewound_by IS NULL" + (" AND session_id=?" if session_id is not None else "")
        args = [session_id] if session_id is not None else []
        found = self._load(self._q(f"SELECT {self._COLS} FROM edit_groups WHERE {where}"
                                   " ORDER BY ordinal DESC LIMIT 1", args))
        return found[0] if found else None

    # ------------------------------------------------------------------ maintenance
    def open_groups(self) -> list[Group]:
        """Groups left open by an interrupted tool call (crash, kill)."""
        return self._load(self._q(f"SELECT {self._COLS} FROM edit_groups WHERE status='open' ORDER BY ordinal"))

    def referenced_blobs(self) -> set[str]:
        """Blobs that rows reference, persisted snapshot states included (the pre-images of
        shell groups to come, or to recover); ``BlobStore.gc`` also keeps everything staged."""
        rows = self._q("SELECT pre_sha FROM group_files UNION SELECT post_sha FROM group_files"
                       " UNION SELECT sha FROM snapshot_state")
        return {r[0] for r in rows if r[0]}

    def gc(self) -> int:
        """Remove the blob files no row references; returns the count. Staged blobs are drained
        to files first, so the unreferenced ones among them (images of groups that changed
        nothing or were aborted) go too; ``BlobStore.gc`` keeps whatever is staged meanwhile."""
        self.blobs.drain()
        return self.blobs.gc(self.referenced_blobs())

    def delete_session(self, session_id: str) -> int:
        """Drop a session's groups (retention); run ``gc()`` after."""
        with self._tx() as conn:
            conn.execute("DELETE FROM group_files WHERE group_id IN"
                         " (SELECT id FROM edit_groups WHERE session_id=?)", (session_id,))
            conn.execute("DELETE FROM shell_manifests WHERE group_id IN"
                         " (SELECT id FROM edit_groups WHERE session_id=?)", (session_id,))
            cur = conn.execute("DELETE FROM edit_groups WHERE session_id=?", (session_id,))
        return cur.rowcount
