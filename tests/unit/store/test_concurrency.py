"""Several processes writing one store file at once: nothing lost, seqs unique and gapless."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from minicode_lsp.store.db import MIGRATIONS, Database
from minicode_lsp.store.sessions import SessionStore

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from minicode_lsp.store.db import Database
    from minicode_lsp.store.sessions import SessionStore

    path, shared, name, n = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = SessionStore(Database(path))
    own = store.create_session(f"{name} own", "/ws")
    turn = store.start_turn(own.id, f"prompt of {name}")
    for i in range(n):
        store.append_event(shared, None, "text.delta", {"writer": name, "i": i})
        store.append_event(own.id, turn.id, "text.delta", {"i": i})
        if i % 10 == 0:
            store.create_session(f"{name} extra {i}", "/ws")
    store.finish_turn(turn.id, "done", {"inputTokens": n}, "fake")
    print(own.id)
    """
)


def run_writers(path: Path, shared: str, names: list[str], n: int) -> list[str]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), shared, name, str(n)], stdout=subprocess.PIPE, text=True
        )
        for name in names
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs)
    return [o.strip() for o in outs]


def test_processes_append_and_create_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "store" / "sessions.sqlite3"
    db = Database(path)
    store = SessionStore(db)
    shared = store.create_session("shared", "/ws").id
    names, n = ["a", "b", "c"], 150
    own_ids = run_writers(path, shared, names, n)

    events = store.replay(shared)
    assert [e.seq for e in events] == list(range(1, len(names) * n + 1))  # unique and gapless
    for name in names:  # every writer's events, in its own order
        assert [e.data["i"] for e in events if e.data["writer"] == name] == list(range(n))
    for own in own_ids:
        assert [e.seq for e in store.replay(own)] == list(range(1, n + 1))
        assert store.get_session(own).last_stop_reason == "done"
    rows, _ = store.list_sessions(limit=1000)
    assert len(rows) == 1 + len(names) * (1 + n // 10)
    assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()


def test_first_open_by_several_processes_at_once_migrates_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "sessions.sqlite3"
    script = "import sys; from pathlib import Path; from minicode_lsp.store.db import Database; Database(Path(sys.argv[1])).close()"
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)]) for _ in range(4)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0, 0, 0]
    db = Database(path)
    assert db.schema_version == len(MIGRATIONS)
    db.close()


def test_threads_sharing_one_database_object(tmp_path: Path) -> None:
    db = Database(tmp_path / "s.db")
    store = SessionStore(db)
    sid = store.create_session("t", "/ws").id
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(100):
                store.append_event(sid, None, "text.delta", {"i": i})
                store.list_sessions()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [e.seq for e in store.replay(sid)] == list(range(1, 401))
    db.close()
