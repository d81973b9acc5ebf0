"""Load: two editor clients (two server processes) and the CLI run turns on one workspace and
one store at once, for ``MINICODE_LOAD_SECONDS`` (default 20; the issue's full run is 60).

Each editor loops: start a turn (the model writes a file and runs a command), and while it
runs ask ``session.list``/``session.show``/``session.replay``, timing every request. The CLI
loops ``minicode-lsp run`` (forked from a warm parent). Afterwards the store must hold every
turn started, each finished, every session's events gapless and in order (``turn.started``
first, ``turn.finished`` last, no event of one turn between another session's), and each
turn's file written. The request latency p99 is printed.
"""

from __future__ import annotations

import json
import os
import re
import threading
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

SECONDS = float(os.environ.get("MINICODE_LOAD_SECONDS", "20"))
MARK = re.compile(r"load-[a-z0-9]+-\d+")


def reply(body: dict[str, Any]) -> dict[str, Any]:
    """A deterministic model for many clients at once: write a file named after the prompt, run a
    command, then answer."""
    messages = body.get("messages") or []
    mark = MARK.search(json.dumps(messages[:3] + messages[-1:]))
    tools_seen = sum(1 for m in messages if m.get("role") == "tool")
    if mark is None:
        return {"text": "no mark"}
    name = mark.group(0)
    if tools_seen == 0:
        return {"tool_calls": [{"name": "write_file", "arguments": {"path": f"load/{name}.txt",
                                                                      "content": f"{name}\n"}}]}
    if tools_seen == 1:
        return {"tool_calls": [{"name": "run_command", "arguments": {"command": f"echo {name} >> load/ran.txt"}}]}
    return {"text": f"{name} done"}


def editor_loop(srv: RawServer, name: str, deadline: float, started: list[str], latencies: list[float],
                errors: list[str]) -> None:
    n = 0
    try:
        while time.monotonic() < deadline:
            n += 1
            mark = f"load-{name}-{n}"
            t0 = time.monotonic()
            ids = srv.result(p.CMD_TASK_RUN, {"prompt": f"please {mark}"}, timeout=60)
            latencies.append(time.monotonic() - t0)
            started.append(mark)
            finished = False
            while not finished:
                for cmd, args in ((p.CMD_SESSION_LIST, {"limit": 20}), (p.CMD_SESSION_SHOW, {"sessionId": ids["sessionId"]}),
                                  (p.CMD_SESSION_REPLAY, {"sessionId": ids["sessionId"]})):
                    t0 = time.monotonic()
                    answer = srv.command(cmd, args, timeout=60)
                    latencies.append(time.monotonic() - t0)
                    if "error" in answer:
                        errors.append(f"{name} {cmd}: {answer['error']}")
                finished = any(e["type"] == p.EV_TURN_FINISHED for e in srv.events(ids["turnId"]))
    except Exception as exc:  # reported by the main thread
        errors.append(f"{name}: {exc!r}")


@pytest.mark.timeout(int(SECONDS) + 240)
def test_two_editors_and_the_cli_at_once(tmp_path: Path) -> None:
    with ScriptedModelServer(reply_fn=reply) as model:
        root = make_workspace(tmp_path, model, mode="auto")
        (root / "load").mkdir()
        home = tmp_path / "home"
        servers = [RawServer(root, home, log_file=tmp_path / f"server-{i}.log") for i in range(2)]
        fork = ForkServer(tmp_path / "forkserver.log")
        started: list[str] = []
        latencies: list[float] = []
        errors: list[str] = []
        cli_runs = 0
        try:
            for srv in servers:
                srv.initialize()
            deadline = time.monotonic() + SECONDS
            threads = [threading.Thread(target=editor_loop, args=(srv, f"ed{i}", deadline, started, latencies, errors),
                                        daemon=True) for i, srv in enumerate(servers)]
            for th in threads:
                th.start()
            env = server_env(home)
            while time.monotonic() < deadline:
                cli_runs += 1
                mark = f"load-cli-{cli_runs}"
                pid = fork.spawn(["run", f"please {mark}", "--workspace", str(root), "--permission-mode", "auto"],
                                 root, env, tmp_path / f"cli-{cli_runs}.out")
                status = fork.wait(pid)
                assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, \
                    (tmp_path / f"cli-{cli_runs}.out").read_text()[-2000:]
                started.append(mark)
            for th in threads:
                th.join(timeout=120)
                assert not th.is_alive(), "an editor loop is stuck"
            assert not errors, errors[:5]
        finally:
            for srv in servers:
                srv.close()
            fork.close()

        svc = Service(root, HeadlessFrontend(interactive=False), watch=False)
        try:
            assert svc.workspace.db.query_one("PRAGMA integrity_check")[0] == "ok"
            sessions = svc.sessions.list(p.SessionListArgs(limit=1000)).wire()["sessions"]
            titles = sorted(MARK.search(s["title"]).group(0) for s in sessions)
            assert titles == sorted(started), (set(started) ^ set(titles))
            for s in sessions:
                events = svc.sessions.replay(p.SessionReplayArgs(session_id=s["id"])).wire()["events"]
                assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
                assert events[0]["type"] == p.EV_TURN_STARTED and events[-1]["type"] == p.EV_TURN_FINISHED
                assert sum(e["type"] == p.EV_TURN_FINISHED for e in events) == 1
                assert [e["at"] for e in events] == sorted(e["at"] for e in events)
                turns = svc.sessions.show(s["id"]).wire()["turns"]
                assert [t["status"] for t in turns] == ["finished"], turns
                assert {e["turnId"] for e in events} == {turns[0]["id"]}
                mark = MARK.search(s["title"]).group(0)
                assert (root / "load" / f"{mark}.txt").read_text() == f"{mark}\n"
            ran = (root / "load" / "ran.txt").read_text().split()
            assert sorted(ran) == sorted(started), "a command was lost or ran twice"
        finally:
            svc.close()
        lat_ms = sorted(x * 1000 for x in latencies)
        stats.figure("load: seconds, turns (editors + CLI), CLI runs",
                     (SECONDS, len(started), cli_runs))
        stats.figure("load: requests timed", len(lat_ms))
        stats.figure("load: request latency p50 / p99 / max (ms)",
                     (round(lat_ms[len(lat_ms) // 2], 1), round(stats.p99(lat_ms), 1), round(lat_ms[-1], 1)))
