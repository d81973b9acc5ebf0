"""Opening a workspace's store without ever crashing: a folder that cannot be used is a clear
error with a fix; a ``sessions.db`` or the user's memory database that is not a database (or
is damaged beyond opening) is moved aside, kept for the user, and a fresh one is made (the
message is noted for readiness). Damaged blob files are moved aside by ``store.blobs``."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

from ..store.db import Database
from ..store.records import file_stamp
from .errors import StoreUnavailable

log = logging.getLogger(__name__)

NOTE = "store-note.txt"
DAMAGED_CODES = {getattr(sqlite3, "SQLITE_NOTADB", 26), getattr(sqlite3, "SQLITE_CORRUPT", 11)}


def _fix(store_dir: Path, configured: str) -> str:
    where = f"store.path is {configured!r}" if configured else "the default store folder is used"
    return (f"{where}; set store.path (user config or initializationOptions) to a folder you can write, "
            f"or make {store_dir} one")


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in DAMAGED_CODES:
        return True
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text


def _move_aside(path: Path) -> Path:
    stamp = file_stamp()
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):  # they belong to the damaged file
        side = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            os.replace(side, aside.with_name(aside.name + suffix))
    return aside


def open_database(store_dir: Path, configured: str = "", path: Path | None = None) -> Database:
    """The store's ``sessions.db`` (or the database at ``path``, e.g. the user's memory); raises
    ``StoreUnavailable`` (reason and fix) when the folder or file cannot be used. A damaged
    database is moved aside (logged, and noted in ``store_dir`` for readiness)."""
    path = path or store_dir / "sessions.db"
    try:
        return Database(path)
    except sqlite3.DatabaseError as exc:
        if not _damaged(exc):
            raise StoreUnavailable(f"cannot open the store {path}: {exc}. {_fix(store_dir, configured)}") from None
        try:
            aside = _move_aside(path)
        except OSError as move_exc:
            raise StoreUnavailable(f"the store {path} is damaged ({exc}) and could not be moved aside"
                                   f" ({move_exc.strerror}); move or delete it") from None
        what = "earlier sessions are not listed" if path.name == "sessions.db" else "its entries are not used"
        message = (f"the store {path} was damaged ({exc}); it was moved aside to {aside.name} (kept, nothing"
                   f" deleted) and a fresh one was created: {what}")
        log.warning("%s", message)
        note(store_dir, message)
        try:
            return Database(path)
        except (OSError, sqlite3.Error) as again:
            raise StoreUnavailable(f"cannot create a fresh store {path}: {again}. "
                                   f"{_fix(store_dir, configured)}") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StoreUnavailable(f"cannot use the store folder {path.parent}: {reason}"
                               f"{f' ({exc.filename})' if exc.filename else ''}. {_fix(store_dir, configured)}") from None


def note(store_dir: Path, message: str) -> None:
    """Keep ``message`` for the next readiness report (shown once, ``take_note``)."""
    with contextlib.suppress(OSError), (store_dir / NOTE).open("a", encoding="utf-8") as fh:
        fh.write(message + "\n")


def check_folder(path: Path, what: str, store_dir: Path, configured: str) -> None:
    """A store sub-folder (e.g. ``blobs``) that cannot be made is the same clear error."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.is_dir():
            raise NotADirectoryError(0, "not a folder", str(path))
    except OSError as exc:
        raise StoreUnavailable(f"cannot use the store's {what} folder {path}: {exc.strerror or exc}. "
                               f"{_fix(store_dir, configured)}") from None


def take_note(store_dir: Path) -> str | None:
    """A store event to show once (the damaged database moved aside), then forgotten."""
    path = store_dir / NOTE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    with contextlib.suppress(OSError):
        path.unlink()
    return text or None
