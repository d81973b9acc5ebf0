"""Time-sortable ids, prefix resolution, and process identity (pid + start marker).

Ids are ULID-shaped: 26 characters of Crockford base32 encoding a 48-bit millisecond
timestamp followed by 80 random bits. Within one process, ids made in the same
millisecond are monotonic (the random part is incremented), so sorting ids as strings
sorts them by creation time.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ID_LENGTH = 26

_lock = threading.Lock()
_last_ms = -1
_last_rand = 0


class UnknownId(LookupError):
    """No id starts with the given prefix."""

    def __init__(self, prefix: str, kind: str = "session"):
        self.prefix = prefix = prefix.strip()  # as the user typed it (ids are stored upper case)
        self.kind = kind
        super().__init__(f"no {kind} matches {prefix!r}")


class AmbiguousId(LookupError):
    """Several ids start with the given prefix; ``matches`` lists them."""

    def __init__(self, prefix: str, matches: list[str], kind: str = "session"):
        self.prefix = prefix = prefix.strip()
        self.matches = matches
        self.kind = kind
        shown = ", ".join(matches[:10]) + (" ..." if len(matches) > 10 else "")
        super().__init__(f"{kind} id {prefix!r} is ambiguous: matches {shown}")


def _encode(value: int, length: int) -> str:
    out = []
    for _ in range(length):
        out.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_id(now: float | None = None) -> str:
    """A new 26-character id, sortable by creation time."""
    global _last_ms, _last_rand
    ms = int((time.time() if now is None else now) * 1000) & ((1 << 48) - 1)
    with _lock:
        if ms <= _last_ms and now is None:
            ms = _last_ms
            rand = (_last_rand + 1) & ((1 << 80) - 1)
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        if now is None:
            _last_ms, _last_rand = ms, rand
    return _encode(ms, 10) + _encode(rand, 16)


def id_time(id_: str) -> float:
    """The creation time (epoch seconds) encoded in an id."""
    ms = 0
    for ch in id_[:10].upper():
        ms = ms * 32 + CROCKFORD.index(ch)
    return ms / 1000


def normalize_prefix(prefix: str) -> str:
    """Ids are upper case; accept any case and surrounding blanks."""
    return prefix.strip().upper()


def resolve_prefix(prefix: str, candidates: Iterable[str], kind: str = "session") -> str:
    """Resolve ``prefix`` against ``candidates``.

    An exact (case-insensitive) match wins; otherwise exactly one candidate must start
    with the prefix. Raises :class:`UnknownId` (none, or an empty prefix) or
    :class:`AmbiguousId` (several; ``matches`` sorted).
    """
    want = normalize_prefix(prefix)
    if not want:
        raise UnknownId(prefix, kind)
    matches = sorted({c for c in candidates if c.upper().startswith(want)})
    for c in matches:
        if c.upper() == want:
            return c
    if not matches:
        raise UnknownId(prefix, kind)
    if len(matches) > 1:
        raise AmbiguousId(prefix, matches, kind)
    return matches[0]


def resolve_in_table(db: Any, table: str, prefix: str, kind: str) -> str:
    """The full id of a row of ``table`` (``turns``, ``edit_groups``) from any unique prefix,
    in any case: the CLI prints short ids and takes them back."""
    want = prefix.strip()
    escaped = want.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = db.query(f"SELECT id FROM {table} WHERE id LIKE ? ESCAPE '\\' LIMIT 50", (escaped + "%",)) \
        if want else []
    return resolve_prefix(want, [r["id"] for r in rows], kind)

# ------------------------------------------------------- process identity
def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) from /proc, or None where unavailable."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes().decode("ascii", "replace")
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return (fields[0], fields[19]) if len(fields) > 19 else None


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def process_marker(pid: int) -> str:
    """``<boot id>:<start ticks>``: tells a live process from a later one reusing its pid."""
    stat = _proc_stat(pid)
    return f"{_boot_id()}:{stat[1]}" if stat else ""


def is_alive(pid: int, marker: str = "") -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    stat = _proc_stat(pid)
    if stat is not None and stat[0] in ("Z", "X"):
        return False  # killed, not yet reaped
    return not marker or process_marker(pid) in ("", marker)
