"""SessionStore: sessions, turns, events, history, tool calls, reports, paging, pruning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minicode_lsp.service import wire
from minicode_lsp.store.db import Database
from minicode_lsp.store.export import export_markdown, summary_markdown
from minicode_lsp.store.ids import AmbiguousId, UnknownId
from minicode_lsp.store.redact import Redactor
from minicode_lsp.store.sessions import SessionStore, decode_cursor

SECRET = "live-key-0123456789abcdef"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "store" / "sessions.sqlite3")
    yield database
    database.close()


@pytest.fixture
def store(db: Database) -> SessionStore:
    return SessionStore(db, Redactor([SECRET]))


def record_turn(store: SessionStore, session_id: str, prompt: str = "fix it") -> str:
    turn = store.start_turn(session_id, prompt, "single", "auto")
    store.append_event(session_id, turn.id, "turn.started", {"prompt": prompt})
    store.append_event(session_id, turn.id, "text.delta", {"text": "Looking "})
    store.append_event(session_id, turn.id, "text.delta", {"text": "at it."})
    args = {"command": "pytest -q"}
    store.append_event(
        session_id, turn.id, "tool.started", {"toolCallId": "c1", "name": "run_command", "arguments": args}
    )
    store.record_tool_call(turn.id, "c1", "run_command", args)
    store.append_event(
        session_id,
        turn.id,
        "tool.finished",
        {"toolCallId": "c1", "name": "run_command", "summary": "2 passed"},
    )
    store.record_tool_call(turn.id, "c1", "run_command", args, summary="2 passed")
    store.append_event(session_id, turn.id, "files.changed", {"uris": ["file:///ws/a.py"], "groupId": "g1"})
    usage = {"inputTokens": 120, "outputTokens": 30}
    store.append_event(session_id, turn.id, "turn.finished", {"stopReason": "done", "usage": usage})
    store.finish_turn(turn.id, "done", usage, "local")
    return turn.id


def test_create_get_and_wire_shape(store: SessionStore) -> None:
    s = store.create_session("", "/ws")
    got = store.get_session(s.id)
    assert got == s
    shown = wire.session_summary(got).wire()
    assert set(shown) == {"id", "title", "createdAt", "updatedAt", "turnCount", "lastStopReason", "workspace"}
    assert shown["createdAt"].endswith("Z") and "T" in shown["createdAt"]
    with pytest.raises(UnknownId):
        store.get_session("NOPE")


def test_first_prompt_titles_the_session_and_turns_are_counted(store: SessionStore) -> None:
    s = store.create_session("", "/ws")
    record_turn(store, s.id, "Add a --json flag to the CLI\nand tests")
    record_turn(store, s.id, "now docs")
    row = store.get_session(s.id)
    assert row.title == "Add a --json flag to the CLI"
    assert row.turns == 2 and row.last_stop_reason == "done"
    assert [t.seq for t in store.list_turns(s.id)] == [1, 2]


def test_events_are_numbered_and_replayed_in_order(store: SessionStore) -> None:
    s = store.create_session("t", "/ws")
    record_turn(store, s.id)
    events = store.replay(s.id)
    assert [e.seq for e in events] == list(range(1, 8))
    assert [e.type for e in events][:2] == ["turn.started", "text.delta"]
    assert [e.seq for e in store.replay(s.id, from_seq=5)] == [5, 6, 7]
    last = wire.replay_event(events[-1]).wire()
    assert set(last) == {"seq", "turnId", "type", "data", "at"}
    assert last["data"]["stopReason"] == "done" and isinstance(last["at"], float)
    assert wire.event_notification(events[0]).session_id == s.id
    with pytest.raises(UnknownId):
        store.append_event("NOPE", None, "error", {})


def test_a_page_is_the_newest_events_with_the_prompt_of_the_turn_it_begins_in(store: SessionStore) -> None:
    s = store.create_session("t", "/ws")
    first = record_turn(store, s.id, "one")  # seqs 1-7
    store.append_event(s.id, None, "mode.changed", {"mode": "plan"})  # 8: outside any turn
    record_turn(store, s.id, "two")  # 9-15
    events, older, started = store.replay_page(s.id, limit=3)
    assert [e.seq for e in events] == [13, 14, 15] and older is True
    assert started is not None and started.seq == 9 and started.data == {"prompt": "two"}
    # the older ones, up to the seam; a page of them; everything at once
    assert [e.seq for e in store.replay_page(s.id, before_seq=13)[0]] == list(range(1, 13))
    events, older, started = store.replay_page(s.id, before_seq=13, limit=6)
    assert [e.seq for e in events] == list(range(7, 13)) and older is True
    assert started is not None and started.turn_id == first and started.seq == 1
    events, older, started = store.replay_page(s.id, limit=15)
    assert [e.seq for e in events] == list(range(1, 16)) and older is False and started is None
    # a page beginning with an event outside any turn, or with a turn's start, needs no prompt added
    assert store.replay_page(s.id, before_seq=10, limit=2)[2] is None
    assert store.replay_page(s.id, before_seq=9, limit=1)[2] is None
    assert store.replay_page(s.id, from_seq=14, limit=5) == (store.replay(s.id, from_seq=14), False, None)


def test_event_data_is_redacted_before_writing(store: SessionStore, db: Database) -> None:
    s = store.create_session("t", "/ws")
    store.append_event(
        s.id, None, "error", {"message": f"401 for key {SECRET}", "headers": {"x-api-key": "abc123xyz"}}
    )
    raw = db.conn.execute("SELECT data FROM events").fetchone()[0]
    assert SECRET not in raw and "abc123xyz" not in raw
    assert "[REDACTED]" in raw


def test_history_round_trip_for_resume(store: SessionStore) -> None:
    s = store.create_session("t", "/ws")
    t1 = record_turn(store, s.id, "one")
    t2 = record_turn(store, s.id, "two")
    store.save_messages(t2, [{"role": "user", "text": "two"}, {"role": "assistant", "text": "ok 2"}])
    store.save_messages(
        t1, [{"role": "user", "text": f"one {SECRET}"}, {"role": "assistant", "text": "ok 1"}]
    )
    store.save_messages(
        t1, [{"role": "user", "text": f"one {SECRET}"}, {"role": "assistant", "text": "ok 1!"}]
    )
    history = store.load_history(s.id)
    assert [m["text"] for m in history] == ["one [REDACTED]", "ok 1!", "two", "ok 2"]


def test_show_session(store: SessionStore) -> None:
    s = store.create_session("t", "/ws")
    record_turn(store, s.id, "fix it")
    shown = wire.session_detail(store.get_session(s.id), store.list_turns(s.id), [], running=False).wire()
    assert shown["id"] == s.id and len(shown["turns"]) == 1
    turn = shown["turns"][0]
    assert {"id", "prompt", "stopReason", "toolCalls", "groups", "usage", "provider", "status",
            "startedAt", "finishedAt"} <= set(turn)  # fmt: skip
    assert turn["toolCalls"] == [
        {
            "id": "c1",
            "name": "run_command",
            "arguments": {"command": "pytest -q"},
            "isError": False,
            "summary": "2 passed",
        }
    ]
    assert turn["groups"] == [] and turn["provider"] == "local" and turn["status"] == "finished"
    assert turn["usage"] == {"inputTokens": 120, "outputTokens": 30}


def test_resolve_session_prefix(store: SessionStore, db: Database) -> None:
    with db.transaction() as conn:
        for id_ in ("01AAAA", "01AABB", "01BBBB"):
            conn.execute("INSERT INTO sessions (id, created_at, updated_at) VALUES (?, 0, 0)", (id_,))
    assert store.resolve_session("01b") == "01BBBB"
    assert store.resolve_session("01AAAA") == "01AAAA"
    with pytest.raises(AmbiguousId) as exc:
        store.resolve_session("01AA")
    assert exc.value.matches == ["01AAAA", "01AABB"]
    with pytest.raises(UnknownId):
        store.resolve_session("02")


def test_list_newest_first_with_cursor_paging(store: SessionStore, db: Database) -> None:
    ids = [store.create_session(f"s{i}", "/ws").id for i in range(7)]
    with db.transaction() as conn:  # equal updated_at for some: the id breaks ties
        conn.execute("UPDATE sessions SET updated_at = 100 WHERE id IN (?, ?, ?)", ids[:3])
    seen: list[str] = []
    cursor = None
    while True:
        rows, cursor = store.list_sessions(limit=3, cursor=cursor)
        seen += [r.id for r in rows]
        if cursor is None:
            break
    assert seen == ids[3:][::-1] + ids[:3][::-1]
    with pytest.raises(ValueError):
        store.list_sessions(cursor="not a cursor!")
    assert decode_cursor(store.list_sessions(limit=1)[1] or "")[1] == ids[-1]


def test_query_over_titles_and_prompts(store: SessionStore) -> None:
    a = store.create_session("Refactor parser", "/ws")
    b = store.create_session("", "/ws")
    record_turn(store, b.id, "Fix the ÜNICODE handling in the Lexer")
    record_turn(store, b.id, "then the tokenizer")
    store.create_session("Unrelated", "/ws")
    assert [r.id for r in store.list_sessions(query="PARSER")[0]] == [a.id]
    assert [r.id for r in store.list_sessions(query="lexer tokenizer")[0]] == [b.id]
    assert [r.id for r in store.list_sessions(query="ünicode")[0]] == [b.id]
    assert store.list_sessions(query="lexer parser")[0] == []
    rows, cursor = store.list_sessions(query="e", limit=2)
    assert len(rows) == 2 and cursor is not None


def test_delete_cascades(store: SessionStore, db: Database) -> None:
    s = store.create_session("t", "/ws")
    t = record_turn(store, s.id)
    store.save_messages(t, [{"role": "user", "text": "x"}])
    keep = store.create_session("keep", "/ws")
    record_turn(store, keep.id)
    store.delete_session(s.id)
    for table, col in (("turns", "session_id"), ("events", "session_id"), ("session_search", "session_id")):
        assert db.conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {col} = ?", (s.id,)).fetchone()[0] == 0
    assert db.conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0
    assert db.conn.execute("SELECT COUNT(*) FROM tool_calls").fetchone()[0] == 1
    with pytest.raises(UnknownId):
        store.delete_session(s.id)


def test_prune_oldest_first_never_kept_or_running(store: SessionStore, db: Database) -> None:
    ids = [store.create_session(f"s{i}", "/ws").id for i in range(6)]
    store.start_turn(ids[1], "still running")
    deleted = store.prune(3, keep={ids[0]})
    assert deleted == [ids[2], ids[3], ids[4]][: len(deleted)] and len(deleted) == 3
    remaining = {r.id for r in store.list_sessions()[0]}
    assert remaining == {ids[0], ids[1], ids[5]}
    assert store.prune(10) == []


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_mark_interrupted(store: SessionStore, db: Database) -> None:
    s = store.create_session("t", "/ws")
    mine = store.start_turn(s.id, "mine")  # this process: alive, left running
    dead = store.start_turn(s.id, "dead")
    reused = store.start_turn(s.id, "reused")
    with db.transaction() as conn:
        conn.execute("UPDATE turns SET pid = ? WHERE id = ?", (dead_pid(), dead.id))
        # our own pid, but a different process start marker: the pid was reused
        conn.execute("UPDATE turns SET pid_marker = 'other-boot:1' WHERE id = ?", (reused.id,))
    marked = store.mark_interrupted()
    assert sorted(marked) == sorted([dead.id, reused.id])
    assert store.get_turn(mine.id).status == "running"
    t = store.get_turn(dead.id)
    assert (t.status, t.stop_reason) == ("interrupted", "interrupted") and t.finished_at
    assert store.get_session(s.id).last_stop_reason == "interrupted"
    last = store.replay(s.id)[-1]
    assert last.type == "turn.finished" and last.data["stopReason"] == "interrupted"
    assert store.mark_interrupted() == []
    assert os.getpid() == store.get_turn(mine.id).pid


def test_a_turn_killed_after_its_finish_event_gets_no_second_one(store: SessionStore, db: Database) -> None:
    """The process stored turn.finished, then died before the status update: that event stands."""
    s = store.create_session("t", "/ws")
    turn = store.start_turn(s.id, "almost done")
    store.append_event(s.id, turn.id, "turn.finished", {"stopReason": "done", "usage": {"outputTokens": 3},
                                                       "provider": "local"})
    with db.transaction() as conn:
        conn.execute("UPDATE turns SET pid = ? WHERE id = ?", (dead_pid(), turn.id))
    assert store.mark_interrupted() == [turn.id]
    finished = [e for e in store.replay(s.id) if e.type == "turn.finished"]
    assert len(finished) == 1 and finished[0].data["stopReason"] == "done"
    t = store.get_turn(turn.id)
    assert (t.status, t.stop_reason, t.provider) == ("finished", "done", "local")
    assert store.get_session(s.id).last_stop_reason == "done"


def test_summary_is_deterministic_markdown(store: SessionStore) -> None:
    s = store.create_session("", "/ws")
    record_turn(store, s.id, "Fix the failing test")
    text = summary_markdown(store, s.id)
    assert text == summary_markdown(store, s.id)
    for needle in (
        "Fix the failing test",
        "file:///ws/a.py",
        "`pytest -q`",
        "`done`",
        "Input: 120",
        "Output: 30",
    ):
        assert needle in text


def test_exports(store: SessionStore) -> None:
    s = store.create_session("", "/ws")
    record_turn(store, s.id, f"Fix it, my key is {SECRET}")
    md = export_markdown(store, s.id)
    for needle in (
        "Fix it",
        "Looking at it.",
        "run_command",
        "pytest -q",
        "2 passed",
        "file:///ws/a.py",
        "`done`",
        "120 in",
    ):
        assert needle in md
    assert SECRET not in md
    lines = wire.export_jsonl(store, s.id).splitlines()
    objs = [json.loads(line) for line in lines]
    assert [o["seq"] for o in objs] == list(range(1, 8))
    assert {"sessionId", "seq", "turnId", "type", "data", "at"} == set(objs[0])
    # a secret learned after the write is still kept out of exports
    store.redactor.add_secret("2 passed")
    assert "2 passed" not in wire.export_jsonl(store, s.id)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    times=st.lists(st.integers(min_value=0, max_value=5), min_size=0, max_size=25),
    limit=st.integers(min_value=1, max_value=7),
)
def test_paging_visits_every_session_once_in_order(db: Database, times: list[int], limit: int) -> None:
    store = SessionStore(db)
    with db.transaction() as conn:
        conn.execute("DELETE FROM sessions")
        conn.executemany(
            "INSERT INTO sessions (id, created_at, updated_at) VALUES (?, 0, ?)",
            [(f"S{i:03d}", float(t)) for i, t in enumerate(times)],
        )
    expected = [f"S{i:03d}" for i, _ in sorted(enumerate(times), key=lambda p: (p[1], p[0]), reverse=True)]
    seen: list[str] = []
    cursor = None
    for _ in range(len(times) + 2):
        rows, cursor = store.list_sessions(limit=limit, cursor=cursor)
        seen += [r.id for r in rows]
        if cursor is None:
            break
    assert seen == expected


def test_markdown_export_lists_each_changed_file_once(tmp_path):  # type: ignore[no-untyped-def]
    from minicode_lsp.store.db import Database
    from minicode_lsp.store.export import export_markdown
    from minicode_lsp.store.sessions import SessionStore

    store = SessionStore(Database(tmp_path / "s.db"))
    sid = store.create_session("t", "/ws").id
    turn = store.start_turn(sid, "p").id
    store.append_event(sid, turn, "files.changed", {"groupId": "g", "uris": ["file:///ws/a.py"],
                                                    "files": [{"uri": "file:///ws/a.py", "action": "modify"}]})
    md = export_markdown(store, sid)
    assert md.count("file:///ws/a.py") == 1 and "file:///ws/a.py (modify)" in md
