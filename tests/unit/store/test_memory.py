"""MemoryStore: entries, proposals, prefixes, selection within a token budget."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from minicode_lsp.service import wire
from minicode_lsp.store.db import Database
from minicode_lsp.store.ids import AmbiguousId, UnknownId
from minicode_lsp.store.memory import MemoryStore, words
from minicode_lsp.store.records import estimate_tokens
from minicode_lsp.store.redact import Redactor


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "memory.sqlite3")
    yield database
    database.close()


@pytest.fixture
def mem(db: Database) -> MemoryStore:
    return MemoryStore(db, Redactor(["hunter2-secret"]))


def test_add_list_remove(mem: MemoryStore) -> None:
    a = mem.add("Tests run with `make test`", "project", ["testing"], source_session="S1")
    b = mem.add("Prefer tabs", "user")
    assert [e.id for e in mem.list()] == [b.id, a.id]  # newest first
    assert [e.id for e in mem.list(scope="project")] == [a.id]
    shown = wire.memory_entry(a).wire()
    assert shown["tags"] == ["testing"] and shown["sourceSession"] == "S1" and shown["status"] == "active"
    assert shown["createdAt"].endswith("Z")
    assert mem.remove(a.id.lower()) == a.id
    assert [e.id for e in mem.list()] == [b.id]
    with pytest.raises(UnknownId):
        mem.remove(a.id)
    with pytest.raises(ValueError):
        mem.add("x", "galaxy")
    with pytest.raises(ValueError):
        mem.add("   ")


def test_prefix_ambiguity(mem: MemoryStore, db: Database) -> None:
    with db.transaction() as conn:
        for id_ in ("M1AA", "M1AB"):
            conn.execute("INSERT INTO memory (id, text, created_at) VALUES (?, 'x', 0)", (id_,))
    with pytest.raises(AmbiguousId) as exc:
        mem.remove("m1a")
    assert exc.value.matches == ["M1AA", "M1AB"]
    assert mem.remove("m1ab") == "M1AB"


def test_proposals_need_acceptance(mem: MemoryStore) -> None:
    p = mem.add("The API lives in api/v2", proposed=True, source_session="S")
    assert mem.list() == []
    assert [e.id for e in mem.list(include_proposed=True)] == [p.id]
    assert mem.select("api v2", 1000) == []
    assert [e.id for e in mem.proposals()] == [p.id]
    assert mem.accept(p.id[:20]).status == "active"
    assert [e.id for e in mem.select("where is the api", 1000)] == [p.id]


def test_secrets_are_redacted(mem: MemoryStore) -> None:
    e = mem.add("the password is hunter2-secret")
    assert "hunter2" not in e.text and "hunter2" not in mem.list()[0].text


def test_select_prefers_overlap_then_recency_within_budget(mem: MemoryStore, db: Database) -> None:
    now = time.time()
    old_match = mem.add("Database migrations live in store/db.py", tags=["sqlite"])
    new_other = mem.add("Use ruff for linting")
    new_match = mem.add("The sqlite store uses WAL mode")
    with db.transaction() as conn:
        conn.execute("UPDATE memory SET created_at = ? WHERE id = ?", (now - 200 * 86400, old_match.id))
    chosen = mem.select("why does the sqlite database lock?", 1000)
    assert [e.id for e in chosen][:2] == [old_match.id, new_match.id] or [e.id for e in chosen][:2] == [
        new_match.id,
        old_match.id,
    ]
    assert chosen[-1].id == new_other.id  # no overlap: after all matches, still fills the budget
    tight = mem.select("sqlite wal mode", estimate_tokens(new_match.text))
    assert [e.id for e in tight] == [new_match.id]
    assert mem.select("anything", 0) == []


def test_select_skips_entries_too_large_and_keeps_filling(mem: MemoryStore) -> None:
    big = mem.add("parser " + "x" * 400)
    small = mem.add("parser is in src/parse.py")
    chosen = mem.select("parser", 20)
    assert [e.id for e in chosen] == [small.id]
    assert big.id not in {e.id for e in chosen}


def test_select_sees_changes_from_other_connections(db: Database, mem: MemoryStore) -> None:
    mem.add("alpha beta")
    assert len(mem.select("alpha", 100)) == 1
    other = Database(db.path)
    MemoryStore(other).add("alpha gamma")
    other.close()
    assert len(mem.select("alpha", 100)) == 2


def test_words() -> None:
    assert words("The run_command tool, and THE Parser!") == {
        "run_command",
        "run",
        "command",
        "tool",
        "parser",
    }
