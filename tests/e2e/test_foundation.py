"""The server's foundation over stdio: capabilities, readiness, bad requests, shutdown."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lsprotocol import types as t
from pygls.exceptions import JsonRpcException

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from ..trusting import allow_workspace_config
from .harness import editor


async def test_capabilities_advertise_exactly_the_contract(workspace: Path, profile: str) -> None:
    async with editor(workspace, profile=profile) as ed:
        caps = ed.init_result.capabilities
        assert set(caps.execute_command_provider.commands) == set(p.COMMANDS)
        assert caps.code_action_provider is not None
        assert ed.init_result.server_info.name == "minicode-lsp"


async def test_readiness_sent_after_initialized_and_on_request(workspace: Path, profile: str) -> None:
    async with editor(workspace, profile=profile) as ed:
        await ed.wait_for(lambda: ed.readiness, what="minicode/readiness")
        first = ed.readiness[0]
        assert first["state"] in ("ready", "degraded", "blocked")
        names = {c["name"] for c in first["checks"]}
        assert {"provider:scripted", "fallback", "workspace", "store"} <= names
        report = await ed.command(p.CMD_READINESS, {"probe": True})
        provider = next(c for c in report["checks"] if c["name"] == "provider:scripted")
        assert provider["status"] == "ok", provider
        # one working provider is ready; a missing fallback is advice in an ok check, not a warning
        assert report["state"] == "ready", report
        fallback = next(c for c in report["checks"] if c["name"] == "fallback")
        assert fallback["status"] == "ok" and "second [[providers]]" in fallback["detail"]


async def test_readiness_blocked_says_what_to_set(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / ".minicode.toml").write_text(
        '[[providers]]\nname = "cloud"\nkind = "anthropic"\nbaseUrl = "https://api.anthropic.com"\n'
        'model = "claude"\napiKeyEnv = "MINICODE_TEST_MISSING_KEY"\n[store]\npath = "%s"\n' % (tmp_path / "store"),
        encoding="utf-8",
    )
    allow_workspace_config(root)
    async with editor(root) as ed:
        report = await ed.command(p.CMD_READINESS, {})
        assert report["state"] == "blocked"
        check = next(c for c in report["checks"] if c["name"] == "provider:cloud")
        assert check["status"] == "fail"
        assert "MINICODE_TEST_MISSING_KEY" in check["detail"] and "MINICODE_TEST_MISSING_KEY" in check["fix"]


async def _error_of(ed, name: str, args) -> JsonRpcException:  # type: ignore[no-untyped-def]
    with pytest.raises(JsonRpcException) as info:
        await ed.command(name, args)
    return info.value


async def test_bad_requests_get_clear_errors_and_the_server_lives(workspace: Path, profile: str) -> None:
    async with editor(workspace, profile=profile) as ed:
        err = await _error_of(ed, "minicode.nope", {})
        assert "minicode.nope" in str(err)
        err = await _error_of(ed, p.CMD_TASK_RUN, {"prompt": 5})
        assert err.code == p.ERR_INVALID_PARAMS and "prompt" in str(err)
        err = await _error_of(ed, p.CMD_TASK_RUN, {})
        assert "prompt" in str(err) and "required" in str(err).lower()
        err = await _error_of(ed, p.CMD_SESSION_LIST, {"limit": "many"})
        assert "limit" in str(err)
        err = await _error_of(ed, p.CMD_SESSION_SHOW, {"sessionId": "01NOSUCHSESSION"})
        assert err.code == p.ERR_UNKNOWN_SESSION and "01NOSUCHSESSION" in str(err)
        err = await _error_of(ed, p.CMD_REWIND_PREVIEW, {"target": {"latest": True, "steps": 2}})
        assert "exactly one" in str(err)
        err = await _error_of(ed, p.CMD_SESSION_LIST, "not an object")
        assert "one argument object" in str(err)
        err = await _error_of(ed, p.CMD_CHECKPOINT_LIST, {"uri": "file:///etc/passwd"})
        assert err.code == p.ERR_OUTSIDE_WORKSPACE
        # empty argument objects in all three spellings
        for args in (None, [], {}):
            listed = await ed.command(p.CMD_SESSION_LIST, args)
            assert listed["sessions"] == []
        # still alive
        assert (await ed.command(p.CMD_READINESS, {}))["state"]


async def test_invalid_config_keeps_defaults_and_shows_in_readiness(workspace: Path, model: ScriptedModelServer) -> None:
    text = (workspace / ".minicode.toml").read_text() + '\n[rewind]\nconfirm = "sometimes"\nbogus = 1\n'
    (workspace / ".minicode.toml").write_text(text)
    allow_workspace_config(workspace)
    async with editor(workspace) as ed:
        report = await ed.command(p.CMD_READINESS, {})
        names = {c["name"] for c in report["checks"]}
        assert "config:rewind.confirm" in names and "config:rewind.bogus" in names


async def test_shutdown_with_a_running_turn_ends_within_two_seconds(workspace: Path, model: ScriptedModelServer) -> None:
    model.set_script([{"fault": "delay", "seconds": 30}])
    async with editor(workspace) as ed:
        ids = await ed.run_task("take your time")
        await ed.wait_for(lambda: any(e["type"] == p.EV_TURN_STARTED for e in ed.turn_events(ids["turnId"])),
                          what="turn.started")
        server = ed.client._server
        assert server is not None
        start = time.monotonic()
        await ed.client.shutdown_async(None)
        ed.client.exit(None)
        await asyncio.wait_for(server.wait(), timeout=5)
        elapsed = time.monotonic() - start
        assert elapsed < 2.0, f"exit took {elapsed:.2f}s"
        ed.client.capabilities = None  # already shut down: the harness must not do it again


async def test_code_actions_offer_fix_and_refactors(workspace: Path) -> None:
    async with editor(workspace) as ed:
        uri = ed.open("calc.py")
        diag = t.Diagnostic(range=t.Range(t.Position(1, 4), t.Position(1, 16)), message="add subtracts")
        actions = await ed.client.text_document_code_action_async(t.CodeActionParams(
            text_document=t.TextDocumentIdentifier(uri=uri),
            range=t.Range(t.Position(0, 0), t.Position(1, 16)),
            context=t.CodeActionContext(diagnostics=[diag]),
        ))
        titles = [a.title for a in actions]
        assert "MiniCode: fix add subtracts" in titles
        assert "MiniCode: explain this code" in titles
        fix = next(a for a in actions if a.title == "MiniCode: fix add subtracts")
        assert fix.command.command == p.CMD_TASK_RUN
        arg = fix.command.arguments[0]
        assert arg["context"]["uri"] == uri and arg["context"]["diagnostics"][0]["message"] == "add subtracts"
        explain = next(a for a in actions if a.title == "MiniCode: explain this code")
        assert explain.command.arguments[0]["context"]["selectionText"].startswith("def add(a, b):")
        assert explain.command.arguments[0]["permissionMode"] == "plan"
        assert explain.kind == "refactor.minicode.explain" and fix.kind == "quickfix"


async def test_commands_sent_at_once_wait_for_the_service(workspace: Path) -> None:
    """The service opens after the initialize reply; commands that arrive first wait for it."""
    async with editor(workspace) as ed:
        answers = await asyncio.gather(
            ed.command(p.CMD_SESSION_LIST, {}), ed.command(p.CMD_READINESS, {}), ed.command(p.CMD_SESSION_LIST, {}))
        assert answers[0] == answers[2] and isinstance(answers[0], dict | list)
        assert answers[1]["state"] in ("ready", "degraded", "blocked")
        await ed.wait_for(lambda: ed.readiness, what="minicode/readiness")


async def test_a_store_that_cannot_open_is_named_in_every_answer(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store folder should go\n")
    (root / ".minicode.toml").write_text(f'[store]\npath = "{blocker / "store"}"\n', encoding="utf-8")
    allow_workspace_config(root)
    async with editor(root) as ed:
        for name in (p.CMD_SESSION_LIST, p.CMD_TASK_RUN):
            err = await _error_of(ed, name, {"prompt": "hi"} if name == p.CMD_TASK_RUN else {})
            assert err.code == p.ERR_NOT_READY and "cannot open the store" in str(err), err
        report = await ed.command(p.CMD_READINESS, {})  # readiness answers: blocked, and why
        assert report["state"] == "blocked", report
        store = [c for c in report["checks"] if c["name"] == "store"]
        assert store and store[0]["status"] == "fail" and "cannot open the store" in store[0]["detail"], report
        assert (await _error_of(ed, "minicode.nope", {})).code != p.ERR_NOT_READY  # the server still answers


async def test_malformed_notifications_are_one_line_warnings(workspace: Path, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    async with editor(workspace, log_file=log) as ed:
        send = ed.client.protocol._send_data  # raw frames: the client's own types would refuse these
        send({"jsonrpc": "2.0", "method": t.TEXT_DOCUMENT_DID_OPEN, "params": {"textDocument": {"uri": "file:///x.py"}}})
        send({"jsonrpc": "2.0", "method": t.TEXT_DOCUMENT_DID_CHANGE, "params": {"nonsense": True}})
        err = await _error_of(ed, "minicode.nope", {})  # answered after both: they were read and dropped
        assert "minicode.nope" in str(err)
        report = await ed.command(p.CMD_READINESS, {})
        assert report["state"] in ("ready", "degraded", "blocked")
    text = log.read_text(encoding="utf-8")
    assert "Traceback" not in text and "Unable to deserialize" not in text, text[-2000:]
    warnings = [line for line in text.splitlines() if "ignored textDocument/" in line]
    assert len(warnings) == 2 and all("WARNING" in w for w in warnings), warnings
    assert "languageId" in warnings[0] or "language_id" in warnings[0]
