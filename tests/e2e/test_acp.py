"""`minicode-lsp acp` end to end: the ACP SDK's client side driving the real agent process,
the scripted model on 127.0.0.1, the same store as the CLI and the language server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("acp")

from acp import text_block  # noqa: E402
from acp.schema import EmbeddedResourceContentBlock, TextResourceContents  # noqa: E402

from minicode_lsp.testing.model_server import ScriptedModelServer  # noqa: E402

from .acp_client import AcpTestClient, acp_agent  # noqa: E402
from .conftest import write_config  # noqa: E402
from .harness import server_env  # noqa: E402

EDIT = {"text": "Fixing add.", "tool_calls": [{"name": "edit_file", "arguments": {
    "path": "calc.py", "old_text": "a - b", "new_text": "a + b"}}]}
COMMAND = {"tool_calls": [{"name": "run_command", "arguments": {"command": "echo checked"}}]}
DONE = {"text": "Fixed add."}
FIXED = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"


def cli(root: Path, *args: str) -> str:
    out = subprocess.run([sys.executable, "-m", "minicode_lsp", *args, "--workspace", str(root)],
                         capture_output=True, text=True, env=server_env(root.parent / "home"), timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


async def test_ask_mode_task_asks_with_the_diff_and_lands_in_the_shared_store(
        workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="ask")
    model.set_script([EDIT, COMMAND, DONE])
    client = AcpTestClient()
    async with acp_agent(workspace, client) as conn:
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        reply = await conn.prompt(session_id=session.session_id, prompt=[text_block("fix add in calc.py")])
    assert reply.stop_reason == "end_turn"
    assert (workspace / "calc.py").read_text() == FIXED
    edit_ask, command_ask = client.permissions
    diff = edit_ask["toolCall"]["content"][0]
    assert diff["type"] == "diff" and diff["path"] == str(workspace / "calc.py")
    assert "a - b" in diff["oldText"] and "a + b" in diff["newText"]
    assert edit_ask["options"] == ["allow_once", "allow_always", "reject_once"]
    assert command_ask["toolCall"]["kind"] == "execute" and "echo checked" in command_ask["toolCall"]["title"]
    starts = client.of("tool_call")
    assert [s["kind"] for s in starts] == ["edit", "execute"]
    assert all(s["status"] == "pending" for s in starts)  # until the permission is answered
    finished = [u for u in client.of("tool_call_update") if u.get("status") == "completed"]
    assert any(c.get("type") == "diff" for c in finished[0]["content"])  # the change, from the checkpoint
    assert "exit code 0" in json.dumps(finished[1]["content"])
    assert "Fixing add." in client.text() and "Fixed add." in client.text()
    usage = client.of("usage_update")
    assert usage and all(0 < u["used"] < u["size"] for u in usage)  # the context window in use
    assert client.writes == []  # the server writes the disk itself (ACP tells no open buffers)
    # the same store: the CLI lists the ACP session under its id
    assert session.session_id in cli(workspace, "sessions", "list")


async def test_text_of_a_later_model_reply_starts_a_new_paragraph(
        workspace: Path, model: ScriptedModelServer) -> None:
    # found by hand with codecompanion.nvim: it joins consecutive agent_message_chunks, so the
    # verification step's reply was shown glued to the previous one ("Fixed add.Checked it.")
    write_config(workspace, model, mode="auto")
    model.set_script([EDIT, DONE, {"text": "Checked it."}])
    client = AcpTestClient()
    async with acp_agent(workspace, client) as conn:
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        await conn.prompt(session_id=session.session_id, prompt=[text_block("fix add in calc.py")])
    text = client.text()
    assert "Fixed add.\n\nChecked it." in text, text
    assert text.startswith("Fixing add.")  # the first text of a turn gets no break


async def test_rejected_edit_changes_nothing_and_the_model_is_told(
        workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="ask")
    model.set_script([EDIT, {"text": "Understood, leaving it."}])
    client = AcpTestClient(answers=["reject_once"])
    async with acp_agent(workspace, client) as conn:
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        reply = await conn.prompt(session_id=session.session_id, prompt=[text_block("fix add")])
    assert reply.stop_reason == "end_turn"
    assert "a - b" in (workspace / "calc.py").read_text()
    assert [u["status"] for u in client.of("tool_call_update") if u.get("status") in ("completed", "failed")] == \
        ["failed"]
    tool_result = json.dumps(model.model_requests[-1].body["messages"][-1])
    assert "declined" in tool_result


async def test_cancel_ends_the_prompt_quickly_even_while_a_permission_is_pending(
        workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="ask")
    model.set_script([EDIT])
    client = AcpTestClient(hold_permissions=True)  # a client that never answers the question
    async with acp_agent(workspace, client) as conn:
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        prompt = asyncio.ensure_future(conn.prompt(session_id=session.session_id, prompt=[text_block("fix")]))
        for _ in range(200):
            if client.permissions:
                break
            await asyncio.sleep(0.05)
        assert client.permissions, "the agent never asked"
        started = time.monotonic()
        await conn.cancel(session_id=session.session_id)
        reply = await asyncio.wait_for(prompt, timeout=10)
        took = time.monotonic() - started
        assert reply.stop_reason == "cancelled"
        assert took < 3.0, f"cancel took {took:.1f} s"
        # the session is free again: a new prompt runs
        model.set_script([{"text": "Still here."}])
        again = await conn.prompt(session_id=session.session_id, prompt=[text_block("hello?")])
        assert again.stop_reason == "end_turn"
    assert "a - b" in (workspace / "calc.py").read_text()


async def test_prompts_sent_while_a_turn_runs_are_queued(workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="auto")
    model.set_script([{"text": "first", "delay_s": 0.5}, {"text": "second"}])
    client = AcpTestClient()
    async with acp_agent(workspace, client) as conn:
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        first = conn.prompt(session_id=session.session_id, prompt=[text_block("one")])
        second = conn.prompt(session_id=session.session_id, prompt=[text_block("two")])
        replies = await asyncio.wait_for(asyncio.gather(first, second), timeout=30)
    assert [r.stop_reason for r in replies] == ["end_turn", "end_turn"]
    assert client.text() == "firstsecond"


async def test_load_in_a_new_process_replays_history_and_restores_the_mode(
        workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="auto")
    model.set_script([EDIT, DONE])
    async with acp_agent(workspace, AcpTestClient()) as conn:
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        await conn.prompt(session_id=session.session_id, prompt=[text_block("fix add in calc.py")])
        await conn.set_session_mode(session_id=session.session_id, mode_id="plan")
    client = AcpTestClient()
    async with acp_agent(workspace, client) as conn:
        listed = await conn.list_sessions(cwd=str(workspace))
        assert session.session_id in [s.session_id for s in listed.sessions]
        loaded = await conn.load_session(cwd=str(workspace), session_id=session.session_id, mcp_servers=[])
        replayed = list(client.kinds())  # everything before the answer
        assert loaded.modes.current_mode_id == "plan"
        # plan mode is in force: the model's edit is refused, the file stays as the first turn left it
        model.set_script([{"tool_calls": [{"name": "write_file", "arguments": {"path": "calc.py", "content": "x"}}]},
                          {"text": "I may not edit in plan mode."}])
        await conn.prompt(session_id=session.session_id, prompt=[text_block("overwrite calc.py")])
    assert replayed[0] == "user_message_chunk"
    assert client.of("user_message_chunk")[0]["content"]["text"] == "fix add in calc.py"
    assert "Fixing add." in client.text()
    assert any(c.get("type") == "diff" for u in client.of("tool_call_update") for c in u.get("content", []))
    assert (workspace / "calc.py").read_text() == FIXED


async def test_rewind_slash_command_asks_with_the_diff_and_keeps_the_users_edit(
        workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="auto")
    model.set_script([EDIT, DONE])
    client = AcpTestClient()
    async with acp_agent(workspace, client) as conn:
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        await conn.prompt(session_id=session.session_id, prompt=[text_block("fix add")])
        calc = workspace / "calc.py"
        calc.write_text(calc.read_text().replace("a * b", "a * b  # mine"))  # the user's own later edit
        await conn.prompt(session_id=session.session_id, prompt=[text_block("/checkpoints")])
        assert "Checkpoints" in client.text()
        reply = await conn.prompt(session_id=session.session_id, prompt=[text_block("/rewind latest")])
        assert reply.stop_reason == "end_turn"
        ask = client.permissions[-1]["toolCall"]
        assert ask["kind"] == "edit" and any(c.get("type") == "diff" for c in ask["content"])
        assert calc.read_text() == "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b  # mine\n"
        await conn.prompt(session_id=session.session_id, prompt=[text_block("/rewind-undo")])
        assert "a + b" in calc.read_text() and "# mine" in calc.read_text()


async def test_messages_over_64_kb_in_both_directions(workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="auto")
    big = "".join(f"line {i:06d} of a large file\n" for i in range(3000))  # ~81 KB
    model.set_script([{"tool_calls": [{"name": "write_file", "arguments": {"path": "big.txt", "content": big}}]},
                      DONE])
    client = AcpTestClient()
    async with acp_agent(workspace, client) as conn:
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
        attached = EmbeddedResourceContentBlock(type="resource", resource=TextResourceContents(
            uri=(workspace / "notes.txt").as_uri(), text=big, mime_type="text/plain"))
        reply = await conn.prompt(session_id=session.session_id, prompt=[text_block("copy it"), attached])
    assert reply.stop_reason == "end_turn"
    assert (workspace / "big.txt").read_text() == big
    assert big in model.model_requests[0].body["messages"][-1]["content"]  # the attachment reached the model
    diffs = [c for u in client.of("tool_call_update") for c in u.get("content", []) if c.get("type") == "diff"]
    assert diffs and diffs[0]["newText"] == big


async def test_unknown_session_and_bad_cwd_are_clear_errors(workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model)
    async with acp_agent(workspace, AcpTestClient()) as conn:
        with pytest.raises(Exception, match="unknown session"):
            await conn.prompt(session_id="NOPE", prompt=[text_block("hi")])
        with pytest.raises(Exception, match="not a folder|absolute"):
            await conn.new_session(cwd=str(workspace / "missing"), mcp_servers=[])
        with pytest.raises(Exception, match="unknown mode"):
            session = await conn.new_session(cwd=str(workspace), mcp_servers=[])
            await conn.set_session_mode(session_id=session.session_id, mode_id="yolo")


def test_without_the_sdk_acp_exits_2_with_one_line(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "acp"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('no acp here')\n")
    env = server_env(tmp_path / "home", {"PYTHONPATH": str(shadow.parent)})
    out = subprocess.run([sys.executable, "-m", "minicode_lsp", "acp"], capture_output=True, text=True,
                         env=env, timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 2
    assert out.stdout == ""
    assert out.stderr.strip().count("\n") == 0 and "minicode-lsp[acp]" in out.stderr
