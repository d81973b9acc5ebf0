"""Durable sessions through the real server: list, show, replay, export, resume, crash, ids."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcException

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from .harness import editor, server_env
from .test_agent import call, tools


def cli(workspace: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minicode_lsp", *args, "--workspace", str(workspace)],
        capture_output=True, text=True, timeout=60, env=server_env(home), stdin=subprocess.DEVNULL,
    )


async def test_recorded_session_is_listed_shown_replayed_exported_and_resumed(
    workspace: Path, model: ScriptedModelServer, profile: str
) -> None:
    model.set_script([
        tools(call("edit_file", path="notes.txt", old_text="second line", new_text="2nd line")),
        tools(call("read_file", path="notes.txt")),
        {"text": "Edited notes."},
    ])
    async with editor(workspace, profile=profile) as ed:
        ids = await ed.run_task("shorten the second line of notes.txt")
        await ed.wait_turn(ids["turnId"])
        sid = ids["sessionId"]
        assert {"sessionId": sid, "change": "created"} in ed.session_changes
        listed = await ed.command(p.CMD_SESSION_LIST, {})
        assert listed["sessions"][0]["id"] == sid
        assert listed["sessions"][0]["title"] == "shorten the second line of notes.txt"
        assert listed["sessions"][0]["lastStopReason"] == "done" and listed["sessions"][0]["turnCount"] == 1
        shown = await ed.command(p.CMD_SESSION_SHOW, {"sessionId": sid})
        turn = shown["turns"][0]
        assert turn["prompt"] == "shorten the second line of notes.txt" and turn["stopReason"] == "done"
        assert turn["groups"] and turn["groups"][0]["files"][0]["path"].endswith("notes.txt")
        assert turn["usage"]["inputTokens"] > 0
        calls = turn["toolCalls"]
        assert [c["name"] for c in calls] == ["edit_file", "read_file"]
        assert calls[0]["arguments"]["path"] == "notes.txt" and calls[0]["isError"] is False
        assert calls[0]["summary"]
        # replay: the recorded timeline, in order, the same events the editor saw live
        replay = await ed.command(p.CMD_SESSION_REPLAY, {"sessionId": sid})
        seqs = [e["seq"] for e in replay["events"]]
        assert seqs == sorted(seqs) == list(range(seqs[0], seqs[0] + len(seqs)))
        live = [(e["seq"], e["type"]) for e in ed.events if e["sessionId"] == sid]
        assert [(e["seq"], e["type"]) for e in replay["events"]] == live
        assert replay["events"][0]["type"] == p.EV_TURN_STARTED and replay["events"][-1]["type"] == p.EV_TURN_FINISHED
        tail = await ed.command(p.CMD_SESSION_REPLAY, {"sessionId": sid, "fromSeq": seqs[-2]})
        assert [e["seq"] for e in tail["events"]] == seqs[-2:]
        # a page (a chat view opening a long session): the newest events, the prompt of the turn
        # they belong to, and whether older ones are left; then the older ones, to the seam
        page = await ed.command(p.CMD_SESSION_REPLAY, {"sessionId": sid, "limit": 3})
        assert [e["seq"] for e in page["events"]] == seqs[-3:] and page["older"] is True
        assert page["turnStarted"]["type"] == p.EV_TURN_STARTED and page["turnStarted"]["seq"] == seqs[0]
        assert page["turnStarted"]["data"]["prompt"] == "shorten the second line of notes.txt"
        rest = await ed.command(p.CMD_SESSION_REPLAY, {"sessionId": sid, "beforeSeq": seqs[-3]})
        assert rest["events"] + page["events"] == replay["events"] and "older" not in rest
        whole = await ed.command(p.CMD_SESSION_REPLAY, {"sessionId": sid, "limit": len(seqs)})
        assert whole["events"] == replay["events"] and whole["older"] is False and "turnStarted" not in whole
        md = await ed.command(p.CMD_SESSION_EXPORT, {"sessionId": sid, "format": "markdown"})
        assert "shorten the second line" in md["content"] and "edit_file" in md["content"]
        lines = (await ed.command(p.CMD_SESSION_EXPORT, {"sessionId": sid, "format": "jsonl"}))["content"].splitlines()
        assert [json.loads(line)["seq"] for line in lines] == seqs
        summary = await ed.command(p.CMD_SESSION_SUMMARIZE, {"sessionId": sid})
        assert "notes.txt" in summary["markdown"]
        # resume with a unique prefix: the model receives the earlier history
        model.set_script([{"text": "You asked me to shorten a line."}])
        again = await ed.run_task("what did I ask before?", sessionId=sid[:10])
        assert again["sessionId"] == sid
        await ed.wait_turn(again["turnId"])
        request = model.model_requests[-1].body
        sent = json.dumps(request["messages"])
        assert "shorten the second line of notes.txt" in sent and "Edited notes." in sent
        assert "what did I ask before?" in sent
        # open the transcript as a document (editors with no plugin)
        shown = await ed.command(p.CMD_SESSION_SHOW, {"sessionId": sid, "openDocument": True})
        assert ed.shown_documents == [shown["documentUri"]]
        assert Path(shown["documentUri"][len("file://"):]).read_text().count("what did I ask before?") == 1
        # delete
        assert await ed.command(p.CMD_SESSION_DELETE, {"sessionId": sid}) == {}
        assert {"sessionId": sid, "change": "deleted"} in ed.session_changes
        with pytest.raises(JsonRpcException) as err:
            await ed.command(p.CMD_SESSION_SHOW, {"sessionId": sid})
        assert err.value.code == p.ERR_UNKNOWN_SESSION


async def test_query_and_paging(workspace: Path, model: ScriptedModelServer) -> None:
    async with editor(workspace) as ed:
        for i in range(5):
            ids = await ed.run_task(f"task number {i} about {'zebras' if i % 2 else 'lions'}")
            await ed.wait_turn(ids["turnId"])
        first = await ed.command(p.CMD_SESSION_LIST, {"limit": 2})
        second = await ed.command(p.CMD_SESSION_LIST, {"limit": 2, "cursor": first["nextCursor"]})
        third = await ed.command(p.CMD_SESSION_LIST, {"limit": 2, "cursor": second["nextCursor"]})
        titles = [s["title"] for page in (first, second, third) for s in page["sessions"]]
        assert titles == [f"task number {i} about {'zebras' if i % 2 else 'lions'}" for i in range(4, -1, -1)]
        assert "nextCursor" not in third
        zebras = await ed.command(p.CMD_SESSION_LIST, {"query": "ZEBRAS"})
        assert sorted(s["title"] for s in zebras["sessions"]) == ["task number 1 about zebras",
                                                                   "task number 3 about zebras"]


async def test_ambiguous_and_unknown_prefixes(workspace: Path, model: ScriptedModelServer) -> None:
    async with editor(workspace) as ed:
        a = await ed.run_task("one")
        b = await ed.run_task("two")
        await ed.wait_turn(a["turnId"])
        await ed.wait_turn(b["turnId"])
        common = os.path.commonprefix([a["sessionId"], b["sessionId"]])
        with pytest.raises(JsonRpcException) as err:
            await ed.command(p.CMD_SESSION_SHOW, {"sessionId": common})
        assert err.value.code == p.ERR_AMBIGUOUS_ID
        assert a["sessionId"] in str(err.value) and b["sessionId"] in str(err.value)
        with pytest.raises(JsonRpcException) as err:
            await ed.command(p.CMD_TASK_RUN, {"prompt": "x", "sessionId": "ZZZZ"})
        assert err.value.code == p.ERR_UNKNOWN_SESSION


async def test_two_servers_and_the_cli_share_one_store(tmp_path: Path, workspace: Path,
                                                      model: ScriptedModelServer) -> None:
    home = tmp_path / "home"
    model.reply_fn = lambda body: {"text": "ok"}  # every request answers at once
    async with editor(workspace, home=home) as one, editor(workspace, home=home) as two:
        async def burst(ed, tag):  # type: ignore[no-untyped-def]
            out = []
            for i in range(6):
                out.append(await ed.run_task(f"{tag} {i}"))
            for ids in out:
                await ed.wait_turn(ids["turnId"])
            return out

        cli_runs = [asyncio.to_thread(cli, workspace, home, "run", f"cli {i}", "--permission-mode", "plan")
                    for i in range(3)]
        results = await asyncio.gather(burst(one, "one"), burst(two, "two"), *cli_runs)
        for proc in results[2:]:
            assert proc.returncode == 0, proc.stderr
        listed = await one.command(p.CMD_SESSION_LIST, {"limit": 100})
        titles = sorted(s["title"] for s in listed["sessions"])
        assert titles == sorted([f"one {i}" for i in range(6)] + [f"two {i}" for i in range(6)]
                                + [f"cli {i}" for i in range(3)])
        for s in listed["sessions"]:
            replay = await two.command(p.CMD_SESSION_REPLAY, {"sessionId": s["id"]})
            seqs = [e["seq"] for e in replay["events"]]
            assert seqs == list(range(1, len(seqs) + 1)), (s["title"], seqs)
            assert replay["events"][-1]["type"] == p.EV_TURN_FINISHED


async def test_kill_9_during_a_turn_marks_it_interrupted(tmp_path: Path, workspace: Path,
                                                        model: ScriptedModelServer) -> None:
    home = tmp_path / "home"
    model.set_script([
        tools(call("write_file", path="half.txt", content="written before the crash\n")),
        {"fault": "delay", "seconds": 30},
    ])
    async with editor(workspace, home=home) as ed:
        ids = await ed.run_task("crash me")
        await ed.wait_for(lambda: any(e["type"] == p.EV_FILES_CHANGED for e in ed.turn_events(ids["turnId"])),
                          what="the first edit")
        seen = [e["seq"] for e in ed.events if e["sessionId"] == ids["sessionId"]]
        server = ed.client._server
        assert server is not None
        os.kill(server.pid, signal.SIGKILL)
        await server.wait()
        ed.client.capabilities = None
    async with editor(workspace, home=home) as ed:
        shown = await ed.command(p.CMD_SESSION_SHOW, {"sessionId": ids["sessionId"]})
        assert shown["turns"][0]["status"] == "interrupted"
        assert shown["turns"][0]["stopReason"] == "interrupted"
        replay = await ed.command(p.CMD_SESSION_REPLAY, {"sessionId": ids["sessionId"]})
        assert set(seen) <= {e["seq"] for e in replay["events"]}
        # the interrupted turn's edit is still rewindable
        applied = await ed.command(p.CMD_REWIND_APPLY, {"sessionId": ids["sessionId"], "target": {"turnId": ids["turnId"]}})
        assert applied["applied"] is True
        assert not (workspace / "half.txt").exists()


def test_cli_sessions_commands(tmp_path: Path, workspace: Path, model: ScriptedModelServer) -> None:
    home = tmp_path / "home"
    model.set_script([tools(call("write_file", path="made.txt", content="x\n")),
                      tools(call("read_file", path="made.txt")), {"text": "Made it."}])
    run = cli(workspace, home, "run", "make a file", "--permission-mode", "auto", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["stopReason"] == "done" and result["text"] == "Made it."
    assert "tool write_file" in run.stderr  # the timeline streams to stderr
    sid = result["sessionId"]
    listed = cli(workspace, home, "sessions", "list", "--json")
    assert json.loads(listed.stdout)["sessions"][0]["id"] == sid
    human = cli(workspace, home, "sessions", "list")
    assert "make a file" in human.stdout and sid in human.stdout
    shown = cli(workspace, home, "sessions", "show", sid[:8])
    assert shown.returncode == 0 and "make a file" in shown.stdout
    replay = cli(workspace, home, "sessions", "replay", sid[:8])
    assert "tool write_file" in replay.stdout and "turn finished: done" in replay.stdout
    exported = cli(workspace, home, "sessions", "export", sid[:8], "--format", "jsonl")
    assert all(json.loads(line) for line in exported.stdout.strip().splitlines())
    bad = cli(workspace, home, "sessions", "show", "ZZZZZZ")
    assert bad.returncode == 2 and "ZZZZZZ" in bad.stderr
    checkpoints = cli(workspace, home, "checkpoints", sid[:8])
    assert "made.txt" in checkpoints.stdout
    preview = cli(workspace, home, "rewind", "--all", "--preview", "--session", sid[:8])
    assert preview.returncode == 0 and "made.txt" in preview.stdout and (workspace / "made.txt").exists()
    applied = cli(workspace, home, "rewind", "--all", "--session", sid[:8])
    assert applied.returncode == 0 and not (workspace / "made.txt").exists()
    # --undo --preview shows what an undo would write and changes nothing (it once undid for real, then crashed)
    undo_preview = cli(workspace, home, "rewind", "--undo", "--preview")
    assert undo_preview.returncode == 0, undo_preview.stderr
    assert "made.txt" in undo_preview.stdout and "nothing changed" in undo_preview.stdout
    assert not (workspace / "made.txt").exists() and "Traceback" not in undo_preview.stderr
    undone = cli(workspace, home, "rewind", "--undo")
    assert undone.returncode == 0 and (workspace / "made.txt").read_text() == "x\n"
    deleted = cli(workspace, home, "sessions", "delete", sid)
    assert deleted.returncode == 0
    assert json.loads(cli(workspace, home, "sessions", "list", "--json").stdout)["sessions"] == []
    model.set_script([{"fault": "401", "message": "bad key"}])
    failing = cli(workspace, home, "run", "nothing works", "--permission-mode", "plan")
    assert failing.returncode == 1 and "turn stopped: provider error" in failing.stderr
