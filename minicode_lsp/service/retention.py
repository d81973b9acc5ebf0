"""Retention: a cap on the number of sessions and on the store's size; oldest sessions go first."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def prune(sessions: Any, checkpoints: Any, blobs: Any, db: Any, *, max_sessions: int, max_bytes: int,
          keep: set[str]) -> list[str]:
    """Delete the oldest sessions beyond the caps (never those in ``keep`` or running ones),
    their edit groups, and the blobs nothing references any more. Returns the deleted ids."""

    def drop(ids: list[str]) -> list[str]:
        for sid in ids:
            checkpoints.delete_session(sid)
        if ids:
            removed = checkpoints.gc()
            log.info("retention: removed %d old session(s) and %d blob(s)", len(ids), removed)
        return ids

    deleted = drop(list(sessions.prune(max_sessions, keep=keep)))
    # staged blobs are inside the database file: counted by size_bytes, not again here
    while db.size_bytes() + blobs.size_on_disk(include_staged=False) > max_bytes:
        rows, _ = sessions.list_sessions(limit=1000)
        if len(rows) <= len(keep):
            break
        gone = drop(list(sessions.prune(len(rows) - 1, keep=keep)))
        if not gone:
            break
        deleted += gone
    return deleted
