"""SIGKILL ``minicode-lsp run`` at random points of turns that edit files and run a command.

One workspace and one store live through all the trials. Each trial forks the real CLI
(from a warm fork server), kills it after a random delay (before, during or after the
checkpoints and store writes), then reopens the store the way a restarted server does and
checks: the store opens and passes SQLite's integrity check; every session's events are
gapless; no turn is left running and the killed one is ``interrupted``, its timeline closed by
one ``turn.finished``; every blob a group references exists; rewinding the interrupted turn
restores the pre-turn files byte for byte. At the end a real language server opens the same
store and shows the same.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from minicode_lsp import protocol as p
from minicode_lsp.service import HeadlessFrontend, Service
from minicode_lsp.testing.model_server import ScriptedModelServer

from . import stats
from .conftest import make_workspace
from .procs import ForkServer
from .rpc import RawServer, server_env

TRIALS = int(os.environ.get("MINICODE_CRASH_TRIALS", "50"))
SHELL_OUTPUTS = {"log.txt", "made.txt"}
STEP_DELAY = 0.01
FILES = {"calc.py": "def add(a, b):\n    return a - b\n", "notes.txt": "one\ntwo\n", "README.md": "# readme\n"}


def call(name: str, **arguments: object) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def script(trial: int, step_delay: float) -> list[dict[str, Any]]:
    steps = [
        call("edit_file", path="calc.py", old_text="return a - b", new_text=f"return a + b  # {trial}"),
        call("write_file", path=f"gen/t{trial}.txt", content=f"trial {trial}\n" * 50),
        call("run_command", command=f"echo run {trial} >> log.txt; echo made {trial} > made.txt"),
        call("edit_file", path="notes.txt", old_text="two", new_text=f"two {trial}"),
        call("delete_file", path="README.md"),
        call("read_file", path="notes.txt"),
    ]
    return [{"tool_calls": [s], "delay_s": step_delay} for s in steps] + [{"text": f"trial {trial} done"}]


def tree(root: Path) -> dict[str, bytes]:
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}


def check_store(svc: Service) -> None:
    """Integrity, gapless events, no running turn, one closing turn.finished, blobs present."""
    assert svc.workspace.db.query_one("PRAGMA integrity_check")[0] == "ok"
    cursor = None
    while True:
        page = svc.sessions.list(p.SessionListArgs(limit=200, cursor=cursor)).wire()
        for s in page["sessions"]:
            events = svc.sessions.replay(p.SessionReplayArgs(session_id=s["id"])).wire()["events"]
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), s["id"]
            for turn in svc.sessions.show(s["id"]).wire()["turns"]:
                assert turn["status"] != "running", turn
                mine = [e for e in events if e["turnId"] == turn["id"]]
                assert mine and mine[-1]["type"] == p.EV_TURN_FINISHED, (turn, mine[-3:])
                assert sum(e["type"] == p.EV_TURN_FINISHED for e in mine) == 1, turn
            for group in svc.workspace.checkpoints.list_groups(session_id=s["id"], limit=10_000):
                for f in group.files:
                    for sha in (f.pre_sha, f.post_sha):
                        assert sha is None or svc.workspace.blobs.has(sha), (group.id, f)
        cursor = page.get("nextCursor")
        if not cursor:
            return


@pytest.mark.timeout(420)
def test_sigkill_during_turns_loses_nothing(tmp_path: Path, model: ScriptedModelServer) -> None:
    root = make_workspace(tmp_path, model, mode="auto", files=FILES, extra="[rewind]\nconfirm = false\n")
    home = tmp_path / "home"
    env = server_env(home)
    rng = random.Random(int(os.environ.get("MINICODE_CRASH_SEED", str(time.time_ns()))))
    fork = ForkServer(tmp_path / "forkserver.log")
    outcomes: dict[str, int] = {}
    try:
        # calibrate: one turn left alone gives the span to kill in
        model.set_script(script(0, STEP_DELAY))
        start = time.monotonic()
        pid = fork.spawn(["run", "trial 0", "--workspace", str(root), "--permission-mode", "auto", "--json"],
                         root, env, tmp_path / "run-0.out")
        assert os.WEXITSTATUS(fork.wait(pid)) == 0, (tmp_path / "run-0.out").read_text()
        span = time.monotonic() - start
        stats.figure("crash: one uninterrupted turn (s)", round(span, 3))
        svc = Service(root, HeadlessFrontend(interactive=False), watch=False)
        try:
            sid = svc.sessions.list(p.SessionListArgs(limit=1)).wire()["sessions"][0]["id"]
            asyncio.run(svc.rewind.apply(p.RewindApplyArgs(session_id=sid, target={"session": True})))
        finally:
            svc.close()
        assert tree(root) == {**{k: v.encode() for k, v in FILES.items()}, ".minicode.toml":
                              (root / ".minicode.toml").read_bytes(), **{k: v for k, v in tree(root).items()
                                                                         if k in SHELL_OUTPUTS}}

        for trial in range(1, TRIALS + 1):
            before = tree(root)
            model.set_script(script(trial, STEP_DELAY))
            out = tmp_path / f"run-{trial}.out"
            pid = fork.spawn(["run", f"trial {trial}", "--workspace", str(root), "--permission-mode", "auto",
                              "--json"], root, env, out)
            delay = rng.uniform(0, min(1.5, span * 1.1))  # from before the turn starts to after it ends
            time.sleep(delay)
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            status = fork.wait(pid)
            killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            outcome = verify_trial(root, trial, killed, before)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            stats.count("crash trials")
        stats.figure("crash: trial outcomes", dict(sorted(outcomes.items())))

        # a real server on the same store sees every session, none of them running
        srv = RawServer(root, home)
        try:
            srv.initialize()
            listed = srv.result(p.CMD_SESSION_LIST, {"limit": 1000})["sessions"]
            assert len(listed) >= TRIALS - outcomes.get("killed before the session existed", 0)
            for s in listed:
                shown = srv.result(p.CMD_SESSION_SHOW, {"sessionId": s["id"]})
                assert all(t["status"] in ("finished", "interrupted") for t in shown["turns"]), shown
                events = srv.result(p.CMD_SESSION_REPLAY, {"sessionId": s["id"]})["events"]
                assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
        finally:
            srv.close()
    finally:
        fork.close()


def verify_trial(root: Path, trial: int, killed: bool, before: dict[str, bytes]) -> str:
    """Reopen the store as a restarted server does, check it, rewind the trial's turn."""
    svc = Service(root, HeadlessFrontend(interactive=False), watch=False)
    try:
        check_store(svc)
        found = [s for s in svc.sessions.list(p.SessionListArgs(limit=5)).wire()["sessions"] if s["title"] == f"trial {trial}"]
        if not found:
            assert killed
            assert tree(root) == before
            return "killed before the session existed"
        sid = found[0]["id"]
        turns = svc.sessions.show(sid).wire()["turns"]
        assert turns, f"session {sid} has no turn: the session and its first turn are one transaction"
        turn = turns[-1]
        if not killed:
            assert turn["status"] == "finished", turn
        else:
            assert turn["status"] in ("interrupted", "finished"), turn
        events = svc.sessions.replay(p.SessionReplayArgs(session_id=sid)).wire()["events"]
        started = {e["data"].get("toolCallId"): e["data"].get("name") for e in events
                   if e["type"] == p.EV_TOOL_STARTED}
        shell_groups = [g for g in svc.workspace.checkpoints.list_groups(session_id=sid) if g.kind == "shell"]
        # a command killed mid-run has its group recovered when the store is opened again
        shell_cut = "run_command" in started.values() and not shell_groups
        if svc.workspace.checkpoints.list_groups(session_id=sid):
            result = asyncio.run(svc.rewind.apply(p.RewindApplyArgs(session_id=sid, target={"turnId": turn["id"]}))).wire()
            assert result["applied"], result
        after = tree(root)
        leftovers = sorted(k for k in after if k.endswith(".minicode-tmp"))
        assert not leftovers, f"temporary files left in the workspace: {leftovers}"
        assert after == before, (turn, sorted(set(after) ^ set(before)),
                                 [k for k in after if k in before and after[k] != before[k]])
        if shell_cut:  # killed before the command's group had anything to record
            return f"{turn['status']} before its command changed anything, rewound exactly"
        return f"{turn['status']}, rewound exactly"
    finally:
        svc.close()
