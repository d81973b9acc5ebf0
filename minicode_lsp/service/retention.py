"""Retention: caps on the number of sessions and on the size of their history, per workspace
(each workspace has its own store), oldest sessions first, keeping what must stay rewindable.

Never deleted: the sessions in ``keep`` (the one starting a turn), those with a running turn,
the newest ``keep_newest`` sessions and every session updated less than ``keep_days`` ago.
The size cap counts the *history* (the database and blob files) minus the workspace's own
snapshot (the blobs the stat cache holds for the files as they are now): deleting sessions
cannot shrink the snapshot, so a workspace larger than the cap no longer wipes its history.

What retention deleted is logged, and noted in the store folder for the next readiness report,
which shows it once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from ..store.checkpoints import CheckpointStore
from ..store.shell_state import state_blob_sizes
from ..wording import plural

log = logging.getLogger(__name__)

NOTE = "retention-note.json"
DAY_S = 86_400.0


def snapshot_bytes(checkpoints: CheckpointStore, live: dict[str, int] | None = None) -> int:
    """Bytes of the workspace snapshot's blobs (persisted stat caches, plus ``live``: sha ->
    size of this process's latest snapshot), each distinct blob once."""
    sizes = dict(live or {})
    for sha, size in state_blob_sizes(checkpoints.db).items():
        sizes[sha] = max(sizes.get(sha, 0), size)
    return sum(sizes.values())


def prune(sessions: Any, checkpoints: Any, blobs: Any, db: Any, *, max_sessions: int, max_bytes: int,
          keep: set[str], keep_newest: int = 0, keep_days: float = 0.0, snapshot: int = 0,
          store_dir: Path | None = None, now: float | None = None) -> list[str]:
    """Delete the oldest sessions beyond the caps (never the protected ones, see the module),
    their edit groups, and the blobs nothing references any more. Returns the deleted ids.
    ``snapshot``: bytes of the workspace snapshot, not counted against ``max_bytes``."""
    now = time.time() if now is None else now
    protected = set(keep) | sessions.protected_ids(keep_newest, now - keep_days * DAY_S)

    def drop(ids: list[str]) -> list[str]:
        for sid in ids:
            checkpoints.delete_session(sid)
        if ids:
            removed = checkpoints.gc()
            log.info("retention: removed %s and %s", plural(len(ids), "old session"), plural(removed, "blob"))
        return ids

    def history() -> int:
        # staged blobs are inside the database file: counted by size_bytes, not again here
        return int(db.size_bytes() + blobs.size_on_disk(include_staged=False)) - snapshot

    deleted = drop(list(sessions.prune(max_sessions, keep=protected)))
    by_size = False
    while history() > max_bytes:
        total = sessions.count()
        gone = drop(list(sessions.prune(total - 1, keep=protected)))
        if not gone:
            break
        deleted += gone
        by_size = True
    if deleted:
        why = (f"to keep the history under store.maxBytes ({max_bytes} bytes)" if by_size
               else f"to keep at most store.maxSessions ({max_sessions}) sessions")
        days = f"{keep_days:g} day" + ("" if keep_days == 1 else "s")
        message = (f"retention deleted {plural(len(deleted), 'old session')} and their checkpoints {why}; the newest "
                   f"{keep_newest} and those younger than {days} are always kept "
                   "(store.keepSessions, store.keepDays)")
        log.warning("%s: %s", message, ", ".join(deleted))
        if store_dir is not None:
            _note(store_dir, message, deleted, now)
    return deleted


def _note(store_dir: Path, message: str, deleted: list[str], now: float) -> None:
    path = store_dir / NOTE
    try:
        old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError):
        old = {}
    count = int(old.get("count", 0)) + len(deleted) if isinstance(old, dict) else len(deleted)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"message": message, "count": count, "at": now}, fh)
    except OSError as exc:
        log.warning("could not keep the retention note: %s", exc)


def take_note(store_dir: Path) -> str | None:
    """What retention deleted since the last report (then forgotten: it is reported once)."""
    path = store_dir / NOTE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    finally:
        with contextlib.suppress(OSError):
            path.unlink()
    if not isinstance(doc, dict):
        return None
    count = doc.get("count", 0)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(float(doc.get("at", 0))))
    return f"{plural(int(count), 'old session')} deleted on {when}: {doc.get('message', '')}"
