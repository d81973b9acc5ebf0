"""Store fixtures: a store is always a ``Database`` (the production path: migrations, the
write lock, the background blob flusher), never a bare sqlite3 connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from minicode_lsp.store.blobs import BlobStore
from minicode_lsp.store.checkpoints import CheckpointStore
from minicode_lsp.store.db import Database


@contextmanager
def open_checkpoints(db_path: Path, blobs: BlobStore) -> Iterator[CheckpointStore]:
    """A checkpoint store on its own ``Database``; drained and closed on exit."""
    db = Database(db_path)
    cps = CheckpointStore(db, blobs)
    try:
        yield cps
    finally:
        cps.close()
        db.close()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    d = Database(tmp_path / "store.db")
    yield d
    d.close()
