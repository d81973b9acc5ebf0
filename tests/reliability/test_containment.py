"""Nothing a tool does can wedge the server (issue #15, part A), against the real server process.

Each hostile tool call below froze the whole server before: ``read_file`` on a FIFO blocked
in ``open()``, ``search`` with ``(a+)+$`` backtracked for ever, an ``edit_file`` miss on a
2,000-line file spent minutes finding the closest text, all on the event loop. Now, while
each runs, ``session.list`` answers and ``task.cancel`` ends the turn.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from ..trusting import allow_workspace_config
from . import stats
from .conftest import make_workspace
from .rpc import RawServer

LIST_BOUND_S = 2.0  # the target is 200 ms; generous for a loaded 2-core machine
CANCEL_BOUND_S = 5.0  # target 1 s


def call(name: str, **arguments: object) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def fuzzy_files() -> tuple[dict[str, str], str]:
    import random

    rng = random.Random(15)
    words = ["alpha", "beta", "gamma", "delta", "value", "return", "self", "data", "x", "y", "if", "for"]
    big = "\n".join("    " + " ".join(rng.choice(words) for _ in range(8)) for _ in range(2000)) + "\n"
    missing = "\n".join("    " + " ".join(rng.choice(words) for _ in range(8)) for _ in range(60))
    return {"big.py": big}, missing


def hostile(case: str, root: Path) -> dict[str, Any]:
    if case == "fifo":
        os.mkfifo(root / "pipe")
        return call("read_file", path="pipe")
    if case == "fifo_gitignore":  # the walk reads every .gitignore it meets
        (root / "sub").mkdir()
        os.mkfifo(root / "sub" / ".gitignore")
        (root / "sub" / "a.py").write_text("x = 1\n", encoding="utf-8")
        return call("list_files", path=".")
    if case == "long_command":  # a tool that really runs: cancel must end it
        return call("run_command", command="sleep 30")
    if case == "catastrophic_search":
        (root / "aaa.txt").write_text(("a" * 40 + "b\n") * 50, encoding="utf-8")
        return call("search", pattern="(a+)+$")
    _, missing = fuzzy_files()
    return call("edit_file", path="big.py", old_text=missing, new_text="pass")


def probe_latency(srv: RawServer, seconds: float) -> float:
    """The longest ``session.list`` round trip over ``seconds``."""
    worst = 0.0
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        t0 = time.monotonic()
        answer = srv.command(p.CMD_SESSION_LIST, {}, timeout=LIST_BOUND_S * 3)
        assert "result" in answer, answer
        worst = max(worst, time.monotonic() - t0)
        time.sleep(0.05)
    return worst


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", ["fifo", "fifo_gitignore", "catastrophic_search", "fuzzy_edit_miss",
                                  "long_command"])
def test_hostile_tool_never_blocks_the_server(tmp_path: Path, model: ScriptedModelServer, case: str) -> None:
    files = fuzzy_files()[0] if case == "fuzzy_edit_miss" else None
    root = make_workspace(tmp_path, model, mode="auto", files=files)
    step = hostile(case, root)
    model.set_script([step, {"text": "done"}])
    srv = RawServer(root, tmp_path / "home")
    try:
        srv.initialize()
        ids = srv.result(p.CMD_TASK_RUN, {"prompt": f"hostile {case}"})
        srv.wait_notification(lambda m: m.get("method") == "minicode/event"
                              and m["params"].get("type") == p.EV_TOOL_STARTED, timeout=30)
        worst = probe_latency(srv, 1.0)
        stats.figure(f"containment: longest session.list while {case} runs (s)", round(worst, 3))
        assert worst < LIST_BOUND_S, f"session.list took {worst:.2f}s while {case} ran"
        t0 = time.monotonic()
        answer = srv.command(p.CMD_TASK_CANCEL, {"sessionId": ids["sessionId"]}, timeout=CANCEL_BOUND_S)
        assert "result" in answer, answer
        srv.wait_turn(ids["turnId"], timeout=CANCEL_BOUND_S)
        stats.figure(f"containment: task.cancel to turn.finished while {case} runs (s)",
                     round(time.monotonic() - t0, 3))
        finished = [e for e in srv.events(ids["turnId"]) if e["type"] == p.EV_TOOL_FINISHED]
        if case == "fifo":  # refused at once, never opened
            assert finished and finished[0]["data"]["isError"], finished
            assert "not a regular file" in finished[0]["data"]["summary"], finished
        if case == "fifo_gitignore":
            assert finished and "sub/a.py" in finished[0]["data"]["output"], finished
        if case == "long_command":
            assert srv.events(ids["turnId"])[-1]["data"]["stopReason"] == "cancelled"
        if case == "catastrophic_search":  # linear time: finished, and the right answer
            assert finished and "no matches" in finished[0]["data"]["summary"], finished
        # the session takes a new turn
        model.set_script([{"text": "again"}])
        again = srv.result(p.CMD_TASK_RUN, {"prompt": "again", "sessionId": ids["sessionId"]})
        assert srv.wait_turn(again["turnId"], timeout=30)["stopReason"] == "done"
        assert srv.alive()
    finally:
        srv.close()


# ---------------------------------------------------------------------------- commands are contained

def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def wait_gone(pids: list[int], within: float = 5.0) -> list[int]:
    until = time.monotonic() + within
    while time.monotonic() < until:
        left = [pid for pid in pids if alive(pid)]
        if not left:
            return []
        time.sleep(0.05)
    return [pid for pid in pids if alive(pid)]


def read_pids(root: Path, names: list[str], within: float = 10.0) -> list[int]:
    until = time.monotonic() + within
    while time.monotonic() < until:
        try:
            texts = [(root / n).read_text().strip() for n in names]
            if all(texts):
                return [int(t) for t in texts]
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"pid files {names} not written")


# Each escapes a plain process group: its own session, a double fork, nohup, a fork-and-setsid.
ESCAPES = {
    "setsid": "setsid bash -c 'echo $$ > p.setsid; exec sleep 60' >/dev/null 2>&1 &",
    "nohup": "nohup bash -c 'echo $$ > p.nohup; exec sleep 60' >/dev/null 2>&1 &",
    "double_fork": "( ( bash -c 'echo $$ > p.double_fork; exec sleep 60' >/dev/null 2>&1 & ) & )",
    "setsid_fork": "setsid -f bash -c 'echo $$ > p.setsid_fork; exec sleep 60' >/dev/null 2>&1",
    "background": "bash -c 'echo $$ > p.background; exec sleep 60' &",
}


@pytest.mark.timeout(60)
def test_detached_processes_end_with_their_command(tmp_path: Path) -> None:
    import asyncio

    from minicode_lsp.agent.tools.run_command import run_shell

    command = "\n".join([*ESCAPES.values(), "sleep 0.3", "echo done"])
    result = asyncio.run(run_shell(command, cwd=tmp_path, env=None, timeout_s=30))
    assert "done" in result.output and result.exit_code == 0, result
    pids = read_pids(tmp_path, [f"p.{name}" for name in ESCAPES], within=1)
    left = wait_gone(pids, within=3)
    assert not left, {name: pid for name, pid in zip(ESCAPES, pids, strict=True) if pid in left}


@pytest.mark.timeout(120)
def test_command_processes_end_when_the_server_is_killed(tmp_path: Path, model: ScriptedModelServer) -> None:
    root = make_workspace(tmp_path, model, mode="auto")
    command = "\n".join([ESCAPES["setsid"], ESCAPES["double_fork"], "sleep 60"])
    model.set_script([call("run_command", command=command), {"text": "done"}])
    srv = RawServer(root, tmp_path / "home")
    try:
        srv.initialize()
        srv.result(p.CMD_TASK_RUN, {"prompt": "start things"})
        pids = read_pids(root, ["p.setsid", "p.double_fork"], within=30)
        srv.proc.kill()  # SIGKILL: no cleanup code of the server runs
        srv.proc.wait(timeout=10)
        left = wait_gone(pids, within=5)
        assert not left, f"processes {left} outlived the killed server's turn"
    finally:
        srv.close(graceful=False)


@pytest.mark.timeout(120)
def test_command_timeout_setting_and_late_writes(tmp_path: Path, model: ScriptedModelServer) -> None:
    """``agent.commandTimeoutS`` bounds every command (the model asked for 100 s); a detached
    process that would write a file after its turn ended is ended with the turn, so no change
    happens outside a checkpoint group."""
    root = make_workspace(tmp_path, model, mode="auto", extra="\n[agent]\ncommandTimeoutS = 1\n")
    text = (root / ".minicode.toml").read_text()
    # one [agent] table: move the setting into the existing one
    text = text.replace("\n[agent]\ncommandTimeoutS = 1\n", "").replace(
        'permissionMode = "auto"', 'permissionMode = "auto"\ncommandTimeoutS = 1')
    (root / ".minicode.toml").write_text(text)
    allow_workspace_config(root)
    late = "setsid bash -c 'sleep 0.8; echo late > late.txt' >/dev/null 2>&1 & echo returned"
    model.set_script([call("run_command", command="sleep 30", timeout_s=100), call("run_command", command=late),
                      {"text": "done"}])
    srv = RawServer(root, tmp_path / "home")
    try:
        srv.initialize()
        t0 = time.monotonic()
        ids = srv.result(p.CMD_TASK_RUN, {"prompt": "run"})
        done = srv.wait_turn(ids["turnId"], timeout=20)
        elapsed = time.monotonic() - t0
        assert done["stopReason"] == "done", done
        finished = [e["data"] for e in srv.events(ids["turnId"]) if e["type"] == p.EV_TOOL_FINISHED]
        assert finished[0]["isError"] and "timed out after 1 s" in finished[0]["output"], finished[0]
        assert elapsed < 15, elapsed
        time.sleep(1.5)
        assert not (root / "late.txt").exists(), "a process of a finished command changed the workspace"
    finally:
        srv.close()


LEFTOVER = "setsid bash -c 'echo $$ > p.{name}; sleep {delay}; echo late > {name}.txt; exec sleep 60' >/dev/null 2>&1 &"


@pytest.mark.timeout(120)
def test_leftover_processes_live_until_the_turn_ends_and_their_changes_count(
        tmp_path: Path, model: ScriptedModelServer) -> None:
    """A process a command left behind runs on while the turn does (the model is still
    thinking), the file it writes then is in that command's checkpoint group (a rewind of the
    group removes it), and it is ended when the turn ends."""
    root = make_workspace(tmp_path, model, mode="auto")
    model.set_script([call("run_command", command=LEFTOVER.format(name="late", delay=0.5) + " echo returned"),
                      {"text": "done", "delay_s": 3}])
    srv = RawServer(root, tmp_path / "home")
    try:
        srv.initialize()
        ids = srv.result(p.CMD_TASK_RUN, {"prompt": "start a watcher"})
        done = srv.wait_turn(ids["turnId"], timeout=60)
        assert done["stopReason"] == "done", done
        pid = read_pids(root, ["p.late"], within=1)[0]
        assert not wait_gone([pid], within=5), "a leftover process outlived its turn"
        assert (root / "late.txt").read_text() == "late\n", "the leftover was ended with its command"
        events = srv.events(ids["turnId"])
        finished = [e["data"] for e in events if e["type"] == p.EV_TOOL_FINISHED]
        assert "still run" in finished[0]["output"], finished[0]
        changed = [e["data"] for e in events if e["type"] == p.EV_FILES_CHANGED]
        late_uri = (root / "late.txt").as_uri()
        groups = {c["groupId"] for c in changed if late_uri in c["uris"]}
        assert len(groups) == 1 and {c["groupId"] for c in changed} == groups, changed
        preview = srv.result(p.CMD_REWIND_PREVIEW, {"sessionId": ids["sessionId"],
                                                     "target": {"groupId": groups.pop()}})
        assert "late.txt" in json.dumps(preview), preview
    finally:
        srv.close()


@pytest.mark.timeout(120)
def test_late_changes_of_two_lingering_commands_go_each_to_its_own(tmp_path: Path,
                                                                   model: ScriptedModelServer) -> None:
    """Two commands leave processes that write a file after their command returned, and a
    third command leaves none: each late file is in the group of the command whose processes
    wrote it (while those of that command only were running), so a rewind of the third
    command leaves both, and a rewind of the first lingering one takes back its late file
    without the other's. Before, every late change went to the group of the last command run
    while any leftover lived (here the third, which started nothing)."""
    root = make_workspace(tmp_path, model, mode="auto")
    late = "setsid bash -c 'sleep {delay}; echo late > {name}.txt; {then}' >/dev/null 2>&1 &"
    model.set_script([
        call("run_command", command="echo b > b_own.txt; " + late.format(delay=0.2, name="late_b", then="true")),
        {**call("run_command", command="echo a > a_own.txt; " + late.format(delay=1.5, name="late_a",
                                                                              then="exec sleep 60")), "delay_s": 2},
        call("run_command", command="echo c > c.txt"),
        {"text": "done", "delay_s": 4}])
    srv = RawServer(root, tmp_path / "home")
    try:
        srv.initialize()
        ids = srv.result(p.CMD_TASK_RUN, {"prompt": "start two watchers"})
        assert srv.wait_turn(ids["turnId"], timeout=60)["stopReason"] == "done"
        assert (root / "late_a.txt").exists() and (root / "late_b.txt").exists()
        changed = [e["data"] for e in srv.events(ids["turnId"]) if e["type"] == p.EV_FILES_CHANGED]

        def group_of(name: str) -> str:
            uri = (root / name).as_uri()
            groups = {c["groupId"] for c in changed if uri in c["uris"]}
            assert len(groups) == 1, (name, changed)
            return groups.pop()

        group_a, group_b, group_c = group_of("a_own.txt"), group_of("b_own.txt"), group_of("c.txt")
        assert group_of("late_b.txt") == group_b, "late_b.txt is not in the group of the command that wrote it"
        assert group_of("late_a.txt") == group_a, "late_a.txt is not in the group of the command that wrote it"
        sid = ids["sessionId"]
        rewound = srv.result(p.CMD_REWIND_APPLY, {"sessionId": sid, "target": {"groupId": group_c}})
        assert rewound["applied"], rewound
        assert not (root / "c.txt").exists() and (root / "late_a.txt").exists(), \
            "a rewind of the command that started nothing took back a leftover's file"
        rewound = srv.result(p.CMD_REWIND_APPLY, {"sessionId": sid, "target": {"groupId": group_a}})
        assert rewound["applied"], rewound
        assert not (root / "late_a.txt").exists() and not (root / "a_own.txt").exists()
        assert (root / "late_b.txt").exists() and (root / "b_own.txt").exists(), \
            "a rewind of the second command took back the first one's late file"
        rewound = srv.result(p.CMD_REWIND_APPLY, {"sessionId": sid, "target": {"groupId": group_b}})
        assert rewound["applied"] and not (root / "late_b.txt").exists(), rewound
    finally:
        srv.close()


@pytest.mark.timeout(120)
def test_a_kept_command_runs_past_its_turn_until_the_server_exits(tmp_path: Path,
                                                                 model: ScriptedModelServer) -> None:
    """``agent.keepRunning`` (a dev server): its processes survive the turn and are said to in
    the transcript; the others of the same turn do not; the server's exit ends them."""
    root = make_workspace(tmp_path, model, mode="auto", extra='')
    text = (root / ".minicode.toml").read_text().replace(
        'permissionMode = "auto"', 'permissionMode = "auto"\nkeepRunning = ["* # dev server"]')
    (root / ".minicode.toml").write_text(text)
    allow_workspace_config(root)
    kept = "bash -c 'echo $$ > p.kept; exec sleep 60' >/dev/null 2>&1 & # dev server"
    model.set_script([call("run_command", command=kept),
                      call("run_command", command=LEFTOVER.format(name="other", delay=0) + " true"),
                      {"text": "done"}])
    srv = RawServer(root, tmp_path / "home")
    try:
        srv.initialize()
        ids = srv.result(p.CMD_TASK_RUN, {"prompt": "start the dev server"})
        assert srv.wait_turn(ids["turnId"], timeout=60)["stopReason"] == "done"
        kept_pid, other_pid = read_pids(root, ["p.kept", "p.other"], within=1)
        assert not wait_gone([other_pid], within=5), "a process not kept outlived its turn"
        time.sleep(0.5)
        assert alive(kept_pid), "the kept command was ended with its turn"
        finished = [e["data"] for e in srv.events(ids["turnId"]) if e["type"] == p.EV_TOOL_FINISHED]
        assert "kept running (agent.keepRunning)" in finished[0]["output"], finished[0]
        srv.close()
        assert not wait_gone([kept_pid], within=5), "a kept command outlived the server"
    finally:
        srv.close(graceful=False)


# ---------------------------------------------------------------------------- the turn always ends

@pytest.mark.timeout(120)
def test_a_damaged_user_memory_database_never_leaves_a_session_running(tmp_path: Path,
                                                                        model: ScriptedModelServer) -> None:
    root = make_workspace(tmp_path, model)
    home = tmp_path / "home"
    memory_db = home / "data" / "minicode-lsp" / "memory.sqlite3"
    memory_db.parent.mkdir(parents=True)
    memory_db.write_bytes(b"this is not a database\x00" * 200)
    srv = RawServer(root, home)
    try:
        srv.initialize()
        ids = srv.result(p.CMD_TASK_RUN, {"prompt": "hello"})
        first = srv.wait_turn(ids["turnId"], timeout=20)
        assert first["stopReason"] == "done", first  # the memories are skipped, not the turn
        again = srv.command(p.CMD_TASK_RUN, {"prompt": "again", "sessionId": ids["sessionId"]})
        assert "result" in again, again  # not -32004: the session is free
        assert srv.wait_turn(again["result"]["turnId"], timeout=20)["stopReason"] == "done"
        assert srv.alive()
    finally:
        srv.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("fail_from", [1, 3, 6])
def test_a_store_failing_mid_turn_ends_the_turn_and_frees_the_session(tmp_path: Path, model: ScriptedModelServer,
                                                                      fail_from: int) -> None:
    """Event writes fail (as on a full disk) from the ``fail_from``-th on, turn.finished included:
    the turn still ends, the session takes the next turn once the store writes again."""
    import asyncio
    import sqlite3

    from minicode_lsp.service import HeadlessFrontend, Service

    root = make_workspace(tmp_path, model, mode="auto")
    svc = Service(root, HeadlessFrontend(interactive=False), watch=False)
    real = svc.workspace.sessions.append_event
    state = {"writes": 0, "failing": True}

    def append_event(*args: Any, **kwargs: Any) -> Any:
        state["writes"] += 1
        if state["failing"] and state["writes"] >= fail_from:
            raise sqlite3.OperationalError("database or disk is full")
        return real(*args, **kwargs)

    svc.workspace.sessions.append_event = append_event  # type: ignore[method-assign]
    model.set_script([call("read_file", path="notes.txt"), call("write_file", path="new.txt", content="x\n"),
                      {"text": "done"}])

    async def scenario() -> tuple[dict[str, str], dict[str, Any]]:
        ids = svc.tasks.run(p.TaskRunArgs(prompt="work")).wire()
        await asyncio.wait_for(svc.tasks.wait_idle(), 20)
        assert not svc.workspace.running, "the session is still marked running"
        state["failing"] = False
        model.set_script([{"text": "again"}])
        again = svc.tasks.run(p.TaskRunArgs(prompt="again", session_id=ids["sessionId"])).wire()
        await asyncio.wait_for(svc.tasks.wait_idle(), 20)
        return again, svc.sessions.show(ids["sessionId"]).wire()

    try:
        again, shown = asyncio.run(scenario())
        first, second = shown["turns"]
        # it ended with a stop reason (which one depends on where the writes began to fail)
        assert first["status"] == "finished" and first["stopReason"] in ("blocked", "verification_failed"), first
        if fail_from == 1:  # not even turn.started could be stored
            assert first["stopReason"] == "blocked" and "free disk space" in (first.get("error") or ""), first
        assert second["status"] == "finished" and second["stopReason"] == "done", second
    finally:
        svc.close()


@pytest.mark.timeout(120)
def test_the_cli_refuses_to_delete_a_session_whose_turn_runs_in_another_process(
        tmp_path: Path, model: ScriptedModelServer) -> None:
    import subprocess
    import sys

    from ..e2e.harness import server_env

    root = make_workspace(tmp_path, model, mode="auto")
    home = tmp_path / "home"
    model.set_script([call("run_command", command="echo started > started.txt; sleep 30"), {"text": "done"}])
    srv = RawServer(root, home)

    def cli_delete(sid: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "minicode_lsp", "sessions", "delete", sid,
                               "--workspace", str(root)], capture_output=True, text=True,
                              env=server_env(home), cwd=str(root), timeout=60)

    try:
        srv.initialize()
        ids = srv.result(p.CMD_TASK_RUN, {"prompt": "long"})
        until = time.monotonic() + 20
        while not (root / "started.txt").exists() and time.monotonic() < until:
            time.sleep(0.05)
        out = cli_delete(ids["sessionId"])
        assert out.returncode != 0, (out.stdout, out.stderr)
        assert "running" in out.stderr and "Traceback" not in out.stderr, out.stderr
        shown = srv.result(p.CMD_SESSION_SHOW, {"sessionId": ids["sessionId"]})
        assert shown["running"], shown  # still there, still running
        srv.result(p.CMD_TASK_CANCEL, {"sessionId": ids["sessionId"]})
        srv.wait_turn(ids["turnId"], timeout=10)
        out = cli_delete(ids["sessionId"])
        assert out.returncode == 0, (out.stdout, out.stderr)
        assert "Traceback" not in srv.log_tail(100_000)
    finally:
        srv.close()
