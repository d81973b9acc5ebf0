"""Memory entries: things worth knowing in later sessions (project or user scope).

``MemoryStore`` works on whatever :class:`Database` it is given: the service uses the
workspace store for ``project`` entries and a user-level database (``locations.
user_memory_db_path()``) for ``user`` entries. Entries proposed by the model at the end of
a turn are stored with status ``proposed`` and only take part in :meth:`select` once the
user has accepted them.
"""

from __future__ import annotations

import builtins
import json
import math
import re
import sqlite3
import time

from minicode_lsp.store.db import Database
from minicode_lsp.store.ids import UnknownId, new_id, normalize_prefix, resolve_prefix
from minicode_lsp.store.records import MemoryEntry
from minicode_lsp.store.redact import NO_SECRETS, Redactor

SCOPES = ("project", "user")
RECENCY_HALF_LIFE_DAYS = 30.0
_WORD = re.compile(r"[a-z0-9_]+")
_STOP = frozenset(
    "the and for with that this from into are was were you your our not but can will should "
    "have has had all any its it's use used using when what how why where which then than there "
    "them they these those a an of to in on at by or is be as if do does did so no".split()
)


def words(text: str) -> set[str]:
    """Lower-case keywords (3+ characters, no stop words); ``snake_case`` also split."""
    out: set[str] = set()
    for w in _WORD.findall(text.casefold()):
        parts = [w, *w.split("_")] if "_" in w else [w]
        out.update(p for p in parts if len(p) >= 3 and p not in _STOP)
    return out


def _entry(row: sqlite3.Row) -> MemoryEntry:
    tags = json.loads(row["tags"] or "[]")
    return MemoryEntry(
        row["id"], row["text"], row["scope"], tags, row["created_at"], row["source_session"], row["status"]
    )


class MemoryStore:
    def __init__(self, db: Database, redactor: Redactor | None = None):
        self.db = db
        self.redactor = redactor or NO_SECRETS
        self._word_cache: dict[str, frozenset[str]] = {}  # entries are immutable: cache by id
        self._active: tuple[tuple[int, int], builtins.list[MemoryEntry]] | None = None

    def add(
        self,
        text: str,
        scope: str = "project",
        tags: builtins.list[str] | None = None,
        source_session: str | None = None,
        proposed: bool = False,
    ) -> MemoryEntry:
        if scope not in SCOPES:
            raise ValueError(f"unknown memory scope {scope!r} (expected project or user)")
        text = self.redactor.text(text.strip())
        if not text:
            raise ValueError("a memory entry needs text")
        entry = MemoryEntry(
            new_id(), text, scope, [str(t) for t in tags or []], time.time(), source_session,
            "proposed" if proposed else "active",
        )  # fmt: skip
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO memory (id, text, scope, tags, created_at, source_session, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (entry.id, entry.text, entry.scope, json.dumps(entry.tags), entry.created_at,
                 entry.source_session, entry.status),
            )  # fmt: skip
        return entry

    def list(self, scope: str | None = None, include_proposed: bool = False) -> builtins.list[MemoryEntry]:
        """Entries, newest first."""
        sql, params = "SELECT * FROM memory WHERE 1", []
        if scope is not None:
            sql += " AND scope = ?"
            params.append(scope)
        if not include_proposed:
            sql += " AND status = 'active'"
        rows = self.db.query(sql + " ORDER BY created_at DESC, id DESC", params)
        return [_entry(r) for r in rows]

    def proposals(self) -> builtins.list[MemoryEntry]:
        return [
            _entry(r) for r in self.db.query("SELECT * FROM memory WHERE status = 'proposed' ORDER BY id")
        ]

    def get(self, id_or_prefix: str) -> MemoryEntry:
        row = self.db.query_one("SELECT * FROM memory WHERE id = ?", (self.resolve(id_or_prefix),))
        assert row is not None
        return _entry(row)

    def resolve(self, id_or_prefix: str) -> str:
        want = normalize_prefix(id_or_prefix)
        if not want:
            raise UnknownId(id_or_prefix, "memory entry")
        rows = self.db.query(
            "SELECT id FROM memory WHERE id >= ? AND id < ? LIMIT 50", (want, want + "\uffff")
        )
        return resolve_prefix(id_or_prefix, [r["id"] for r in rows], "memory entry")

    def remove(self, id_or_prefix: str) -> str:
        """Delete an entry (any unique id prefix); returns its full id."""
        id_ = self.resolve(id_or_prefix)
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM memory WHERE id = ?", (id_,))
        return id_

    def accept(self, id_or_prefix: str) -> MemoryEntry:
        """Turn a proposed entry into an active one."""
        id_ = self.resolve(id_or_prefix)
        with self.db.transaction() as conn:
            conn.execute("UPDATE memory SET status = 'active' WHERE id = ?", (id_,))
        return self.get(id_)

    def _active_entries(self) -> builtins.list[MemoryEntry]:
        """Active entries, cached until this or another connection commits a change."""
        version = (self.db.query_tuples("PRAGMA data_version")[0][0], self.db.conn.total_changes)
        if self._active is None or self._active[0] != version:
            self._active = (version, self.list(include_proposed=False))
        return self._active[1]

    def select(
        self, query_text: str, budget_tokens: int, *, now: float | None = None
    ) -> builtins.list[MemoryEntry]:
        """Active entries most relevant to ``query_text`` that fit in ``budget_tokens``.

        Score = keyword overlap with the query (entry text and tags; each shared word
        weighted by its rarity among the entries) + a recency bonus halving every
        30 days. Entries sharing no keyword rank after all that do, newest first, and
        fill whatever budget is left. Greedy in score order; an entry too large for the
        remaining budget is skipped, smaller ones after it may still fit.
        """
        if budget_tokens <= 0:
            return []
        entries = self._active_entries()
        if not entries:
            return []
        now = time.time() if now is None else now
        query = words(query_text)
        doc_freq: dict[str, int] = {}
        matched: builtins.list[tuple[MemoryEntry, frozenset[str]]] = []
        rest: builtins.list[MemoryEntry] = []  # no shared keyword: already newest first
        cache = self._word_cache
        for e in entries:
            cached = cache.get(e.id)
            if cached is None:
                cached = cache[e.id] = frozenset(words(e.text) | words(" ".join(e.tags)))
            e._words = cached
            shared = cached & query
            if shared:
                matched.append((e, shared))
                for w in shared:
                    doc_freq[w] = doc_freq.get(w, 0) + 1
            else:
                rest.append(e)
        n = len(entries)
        weight = {w: 1.0 + math.log(n / f) for w, f in doc_freq.items()}

        def score(item: tuple[MemoryEntry, frozenset[str]]) -> tuple[float, float]:
            e, shared = item
            age_days = max(0.0, now - e.created_at) / 86400
            recency = 0.5 ** (age_days / RECENCY_HALF_LIFE_DAYS)
            return (sum(weight[w] for w in shared) + recency, e.created_at)

        ranked = [e for e, _ in sorted(matched, key=score, reverse=True)]
        ranked += rest
        chosen: builtins.list[MemoryEntry] = []
        left = budget_tokens
        for e in ranked:
            cost = e.tokens
            if cost <= left:
                chosen.append(e)
                left -= cost
            if left <= 0:
                break
        return chosen
