"""A writer killed with SIGKILL mid-turn: the store opens, committed events are all there,
and the next start marks the turn interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from minicode_lsp.store.db import Database
from minicode_lsp.store.sessions import SessionStore

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from minicode_lsp.store.db import Database
    from minicode_lsp.store.sessions import SessionStore

    store = SessionStore(Database(Path(sys.argv[1])))
    session = store.create_session("", "/ws")
    turn = store.start_turn(session.id, "a long task", "single", "auto")
    print(session.id, turn.id, flush=True)
    i = 0
    while True:
        ev = store.append_event(session.id, turn.id, "text.delta", {"text": "x" * (i % 300), "i": i})
        if i % 7 == 0:
            store.save_messages(turn.id, [{"role": "user", "text": "a long task"}] * (i % 5))
        print(ev.seq, flush=True)
        i += 1
    """
)


@pytest.mark.parametrize("run", range(4))
def test_sigkill_mid_turn(tmp_path: Path, run: int) -> None:
    path = tmp_path / "store" / "sessions.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    session_id, turn_id = proc.stdout.readline().split()
    committed = 0
    stop_after = random.Random(run).randint(50, 400)
    for line in proc.stdout:
        committed = int(line)  # printed only after the commit returned
        if committed >= stop_after:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()

    db = Database(path)  # opens (recovers the WAL)
    assert db.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = SessionStore(db)
    events = store.replay(session_id)
    seqs = [e.seq for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) >= committed  # every committed event is there (maybe a few more)
    assert [e.data["i"] for e in events] == list(range(len(events)))
    assert store.get_turn(turn_id).status == "running"

    assert store.mark_interrupted() == [turn_id]
    turn = store.get_turn(turn_id)
    assert (turn.status, turn.stop_reason) == ("interrupted", "interrupted")
    assert store.get_session(session_id).last_stop_reason == "interrupted"
    assert store.replay(session_id, from_seq=len(seqs) + 1)[0].data["stopReason"] == "interrupted"
    assert store.list_sessions()[0][0].id == session_id
    db.close()


def test_zombie_writer_counts_as_dead(tmp_path: Path) -> None:
    """Killed but not yet reaped by its parent: still interrupted."""
    path = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    _, turn_id = proc.stdout.readline().split()
    proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    try:
        stat = Path(f"/proc/{proc.pid}/stat")
        deadline = time.monotonic() + 5
        while stat.exists() and time.monotonic() < deadline:
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.01)
        db = Database(path)
        assert SessionStore(db).mark_interrupted() == [turn_id]
        db.close()
    finally:
        proc.wait()
        proc.stdout.close()
