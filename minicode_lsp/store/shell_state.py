"""A shell command's before-snapshot kept in the store, and the recovery of a command whose
process was killed while it ran: one place for the ``snapshot_state`` and ``shell_manifests``
tables (migrations 3 and 4 of ``store/db.py``).

Before a command runs, the snapshotter's stat cache as of its before-snapshot is written as
its owner's ``snapshot_state`` rows (only what changed since the last time:
``Snapshotter.state_delta``), with a manifest row naming that owner, in the transaction that
writes the shell group's open row. ``GroupWriter.commit`` drops the manifest. A process
killed during the command leaves both behind; the next process to open the store
(:meth:`ShellState.recover`) rebuilds the before-snapshot from them, compares it with the
disk and closes the group with what differs. States of processes that have exited are
dropped, unless a manifest still needs them; :meth:`ShellState.release` drops a process's
own state when it closes the store.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Sequence

from minicode_lsp.store.checkpoints import CheckpointStore, GroupWriter
from minicode_lsp.store.db import Database
from minicode_lsp.store.ids import is_alive
from minicode_lsp.store.records import Group, StateRow
from minicode_lsp.store.snapshots import Entry, Snapshot, Snapshotter

log = logging.getLogger(__name__)


def owner_alive(owner: str) -> bool:
    """Whether the process a ``Snapshotter.owner`` names still runs (the same process, not a
    later one reusing its pid)."""
    pid, _, rest = owner.partition(":")
    marker = rest.rpartition(":")[0]
    try:
        return is_alive(int(pid), marker)
    except ValueError:
        return False


def state_meta(snap: Snapshot) -> str:
    """What a manifest keeps of a snapshot besides its rows."""
    return json.dumps({"complete": snap.complete, "skipped": snap.skipped})


def snapshot_from_state(snapshotter: Snapshotter, rows: Sequence[StateRow], meta: str) -> Snapshot:
    """The snapshot a persisted state holds (:meth:`ShellState.rows` and its manifest's meta)."""
    try:
        doc = json.loads(meta)
        skipped, complete = dict(doc.get("skipped", {})), bool(doc.get("complete", True))
    except (ValueError, AttributeError, TypeError):
        skipped, complete = {}, False
    files = {rel: Entry(int(size), int(mtime), int(inode), sha, int(mode or 0), int(ctime or 0))
             for rel, size, mtime, inode, sha, mode, ctime in rows}
    return Snapshot(snapshotter.root, files, skipped, complete)


def state_blob_sizes(db: Database) -> dict[str, int]:
    """sha -> size of the blobs the persisted stat caches hold (each distinct blob once)."""
    rows = db.query_tuples("SELECT sha, MAX(size) FROM snapshot_state WHERE sha IS NOT NULL GROUP BY sha")
    return {str(sha): int(size) for sha, size in rows}


class ShellState:
    """The persisted before-snapshots of one snapshotter in one checkpoint store."""

    def __init__(self, checkpoints: CheckpointStore, snapshotter: Snapshotter) -> None:
        self.checkpoints, self.snapshotter = checkpoints, snapshotter
        self.db = checkpoints.db

    # ------------------------------------------------------------------ writing
    def persist(self, snap: Snapshot, writer: GroupWriter | None = None) -> None:
        """Write what changed in the snapshotter's state since last time (all of it the first
        time); with ``writer`` (an open shell group), in the same transaction as that group's
        row and a manifest row naming this state, so a kill during the command leaves them."""
        s = self.snapshotter
        upserts, deletes = s.state_delta(snap)
        with self.db.transaction() as conn:
            if writer is not None:
                writer.write_open_row(conn)
            self._write_rows(conn, s.owner, upserts, deletes)
            if writer is not None:
                conn.execute("INSERT OR REPLACE INTO shell_manifests(group_id, owner, meta) VALUES (?,?,?)",
                             (writer.id, s.owner, state_meta(snap)))
        s.mark_persisted(snap, upserts, deletes)

    @staticmethod
    def _write_rows(conn: sqlite3.Connection, owner: str, upserts: Sequence[StateRow],
                    deletes: Sequence[str]) -> None:
        conn.executemany("INSERT OR REPLACE INTO snapshot_state(owner, rel, size, mtime_ns, inode, sha, mode,"
                         " ctime_ns) VALUES (?,?,?,?,?,?,?,?)", [(owner, *row) for row in upserts])
        conn.executemany("DELETE FROM snapshot_state WHERE owner=? AND rel=?", [(owner, r) for r in deletes])

    # ------------------------------------------------------------------ reading
    def rows(self, owner: str) -> list[StateRow]:
        """An owner's persisted stat cache: ``(rel, size, mtime_ns, inode, sha, mode, ctime_ns)`` rows."""
        return [(str(rel), int(size), int(mtime), int(inode), sha, int(mode), int(ctime))
                for rel, size, mtime, inode, sha, mode, ctime in self.db.query_tuples(
                    "SELECT rel, size, mtime_ns, inode, sha, mode, ctime_ns FROM snapshot_state WHERE owner=?",
                    (owner,))]

    def interrupted(self) -> list[tuple[Group, str, str]]:
        """Open shell groups with a before-snapshot kept: ``(group, owner, meta)``."""
        out = []
        for group_id, owner, meta in self.db.query_tuples("SELECT group_id, owner, meta FROM shell_manifests"):
            group = self.checkpoints.get_group(group_id)
            if group is not None and group.status == "open":
                out.append((group, str(owner), str(meta)))
        return out

    # ------------------------------------------------------------------ recovery
    def recover_group(self, group: Group, owner: str, meta: str) -> Group | None:
        """Close a shell group whose process was killed while its command ran: the files that
        differ between its before-snapshot (the owner's persisted state) and the disk now are
        recorded as the command's. Returns the closed group (None when nothing had changed:
        the group is dropped)."""
        s = self.snapshotter
        writer = self.checkpoints.resume_group(group)
        before = snapshot_from_state(s, self.rows(owner), meta)
        s.adopt(before)  # its entries are the stat cache: only what changed is hashed
        s.record(writer, s.diff(before, s.take(full=True)))
        return writer.commit()

    def recover(self, alive: Callable[[str], bool] = owner_alive) -> list[tuple[Group, Group | None]]:
        """Close the shell groups of commands whose process is gone (changes made on disk
        between the kill and now count as the command's), then drop the states of processes
        that have exited. Returns ``(interrupted group, closed group or None)`` pairs."""
        out = []
        for group, owner, meta in self.interrupted():
            if alive(owner):  # a live process's command: not ours to close
                continue
            closed = self.recover_group(group, owner, meta)
            log.warning("recovered the shell group %s of an interrupted command: %s", group.id,
                        ", ".join(f"{f.action} {f.path}" for f in closed.files) if closed else "no changes")
            out.append((group, closed))
        self.drop(alive)
        return out

    def drop(self, alive: Callable[[str], bool]) -> int:
        """Delete the persisted states of owners ``alive`` says are gone and that no manifest
        row still needs; returns how many owners were dropped."""
        owners = {r[0] for r in self.db.query_tuples("SELECT DISTINCT owner FROM snapshot_state")}
        needed = {r[0] for r in self.db.query_tuples("SELECT owner FROM shell_manifests")}
        gone = [o for o in owners - needed if not alive(o)]
        if gone:
            with self.db.transaction() as conn:
                conn.executemany("DELETE FROM snapshot_state WHERE owner=?", [(o,) for o in gone])
        return len(gone)

    def release(self) -> None:
        """This process closes the store: its own state is no longer needed (unless a
        manifest still names it)."""
        mine = self.snapshotter.owner
        self.drop(lambda owner: owner != mine)
