"""Session store benchmark: list, query and replay on a large store.

Builds a store of 10,000 sessions x 50 events (plus one session of 10,000 events) with
``executemany`` in big transactions, then prints the median time of:

- listing the newest 50 sessions (target < 30 ms),
- a text query over titles and prompts (target < 100 ms; a rare word and a word in no
  session, which scans every row). Strategy: a lower-cased title+prompts column per
  session scanned with ``instr`` (no FTS5): measured well within target at 10,000
  sessions, and it matches any substring, not only whole tokens,
- replaying the 10,000-event session, JSON decoded (target < 200 ms),

each beside baselines measured in the same run (a ``SELECT 1`` round trip, and the raw
``SELECT`` of the same events without JSON decoding), printed as ratios.

    .venv/bin/python bench/sessions.py [--sessions 10000] [--events 50] [--big 10000] [--db PATH]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minicode_lsp.service import wire
from minicode_lsp.store.db import Database
from minicode_lsp.store.ids import new_id
from minicode_lsp.store.sessions import SessionStore, title_from_prompt

WORDS = (
    "fix add refactor test parser lexer cache config server client session rewind diff merge "
    "checkpoint provider retry timeout stream model token budget memory context compaction buffer "
    "workspace folder file path glob search regex command shell output error warning readiness"
).split()
EVENT_TYPES = ["text.delta"] * 6 + ["tool.started", "tool.finished", "files.changed"]


def event_data(rng: random.Random, type_: str, i: int) -> dict[str, Any]:
    if type_ == "text.delta":
        return {"text": " ".join(rng.choices(WORDS, k=rng.randint(3, 25)))}
    if type_ == "tool.started":
        return {
            "toolCallId": f"c{i}",
            "name": "run_command",
            "arguments": {"command": "pytest -q tests/unit"},
        }
    if type_ == "tool.finished":
        return {
            "toolCallId": f"c{i}",
            "name": "run_command",
            "isError": False,
            "summary": "12 passed in 0.4s",
        }
    return {"uris": [f"file:///ws/src/{rng.choice(WORDS)}.py"], "groupId": new_id()}


def build(db: Database, n_sessions: int, n_events: int, big: int, seed: int = 7) -> str:
    """Fill the store; returns the id of the big session."""
    rng = random.Random(seed)
    base = time.time() - n_sessions * 60
    sessions, search, turns, events = [], [], [], []
    big_id = ""

    def flush() -> None:
        with db.transaction() as conn:
            conn.executemany(
                "INSERT INTO sessions (id, title, workspace, created_at, updated_at, turns, last_stop_reason)"
                " VALUES (?, ?, ?, ?, ?, 1, 'done')",
                sessions,
            )
            conn.executemany("INSERT INTO session_search (session_id, text) VALUES (?, ?)", search)
            conn.executemany(
                "INSERT INTO turns (id, session_id, seq, prompt, profile, permission_mode, status, stop_reason,"
                " usage, provider, pid, started_at, finished_at) VALUES (?, ?, 1, ?, 'single', 'auto',"
                " 'finished', 'done', '{\"inputTokens\": 1000, \"outputTokens\": 200}', 'local', 1, ?, ?)",
                turns,
            )
            conn.executemany(
                "INSERT INTO events (session_id, seq, turn_id, type, data, at) VALUES (?, ?, ?, ?, ?, ?)",
                events,
            )
        for batch in (sessions, search, turns, events):
            batch.clear()

    for s in range(n_sessions + 1):
        t0 = base + s * 60
        sid, tid = new_id(t0), new_id(t0 + 0.001)
        prompt = " ".join(rng.choices(WORDS, k=rng.randint(6, 30)))
        if s % 100 == 0:
            prompt += " zanzibar"  # the rare query word: 1% of sessions
        count = big if s == n_sessions else n_events
        if s == n_sessions:
            big_id = sid
        sessions.append((sid, title_from_prompt(prompt), "/ws", t0, t0 + 30))
        search.append((sid, (title_from_prompt(prompt) + "\n" + prompt).casefold()))
        turns.append((tid, sid, prompt, t0, t0 + 30))
        for i in range(count):
            type_ = (
                "turn.started" if i == 0 else "turn.finished" if i == count - 1 else rng.choice(EVENT_TYPES)
            )
            data = event_data(rng, type_, i)
            events.append((sid, i + 1, tid, type_, json.dumps(data, separators=(",", ":")), t0 + i * 0.01))
        if len(events) >= 50_000:
            flush()
    flush()
    return big_id


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm the page cache and statement cache
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=50)
    ap.add_argument("--big", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=21)
    ap.add_argument("--db", type=Path, help="store file (default: a temporary folder)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "store" / "sessions.sqlite3"
        db = Database(path)
        store = SessionStore(db)
        t0 = time.perf_counter()
        big_id = build(db, args.sessions, args.events, args.big)
        build_s = time.perf_counter() - t0
        total = db.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        size_mb = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
        print(f"built {args.sessions + 1} sessions, {total} events in {build_s:.1f} s ({size_mb:.0f} MB)")

        conn = db.conn
        base_ms = median_ms(lambda: conn.execute("SELECT 1").fetchall(), args.repeat)
        raw_events_sql = "SELECT seq, turn_id, type, data, at FROM events WHERE session_id = ? ORDER BY seq"
        raw_replay_ms = median_ms(lambda: conn.execute(raw_events_sql, (big_id,)).fetchall(), args.repeat)
        raw_scan_ms = median_ms(
            lambda: conn.execute("SELECT text FROM session_search").fetchall(), args.repeat
        )
        raw_list_ms = median_ms(
            lambda: conn.execute(
                "SELECT * FROM sessions ORDER BY updated_at DESC, id DESC LIMIT 51"
            ).fetchall(),
            args.repeat,
        )

        def wire_list(**kw: Any) -> list[dict[str, Any]]:
            rows, _ = store.list_sessions(limit=50, **kw)
            return [wire.session_summary(r).wire() for r in rows]

        _, cursor = store.list_sessions(limit=50)
        hits = len(store.list_sessions(limit=1000, query="zanzibar")[0])
        results = [
            ("list newest 50", median_ms(wire_list, args.repeat), 30.0, raw_list_ms, "raw SELECT of 51 rows"),
            (
                "list next page (cursor)",
                median_ms(lambda: wire_list(cursor=cursor), args.repeat),
                30.0,
                raw_list_ms,
                "raw SELECT of 51 rows",
            ),  # fmt: skip
            (
                f"query 'zanzibar' ({hits} hits)",
                median_ms(lambda: wire_list(query="zanzibar"), args.repeat),
                100.0,
                raw_scan_ms,
                "raw fetch of all search text",
            ),  # fmt: skip
            (
                "query, no match (full scan)",
                median_ms(lambda: wire_list(query="qwxyzzy"), args.repeat),
                100.0,
                raw_scan_ms,
                "raw fetch of all search text",
            ),  # fmt: skip
            (
                f"replay {args.big} events",
                median_ms(lambda: store.replay(big_id), args.repeat),
                200.0,
                raw_replay_ms,
                "raw SELECT, no JSON decode",
            ),  # fmt: skip
            (
                f"replay {args.big} events + wire",
                median_ms(lambda: [wire.replay_event(e).wire() for e in store.replay(big_id)], args.repeat),
                200.0,
                raw_replay_ms,
                "raw SELECT, no JSON decode",
            ),  # fmt: skip
        ]
        print(
            f"baselines: SELECT 1 {base_ms:.3f} ms; raw list {raw_list_ms:.2f} ms;"
            f" raw search-text fetch {raw_scan_ms:.1f} ms; raw replay {raw_replay_ms:.1f} ms"
        )
        print(f"{'operation':36} {'median':>10} {'target':>8}  {'ok':3} ratio to baseline")
        for name, ms, target, baseline, label in results:
            ok = "yes" if ms < target else "NO"
            print(f"{name:36} {ms:8.2f}ms {target:6.0f}ms  {ok:3} {ms / baseline:8.1f}x {label}")
        db.close()


if __name__ == "__main__":
    main()
