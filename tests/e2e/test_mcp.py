"""MCP tool servers no one here wrote, through the real language server and the scripted model:
npm ``@modelcontextprotocol/server-everything`` (stdio and Streamable HTTP) and
``@modelcontextprotocol/server-filesystem``, PyPI ``mcp-server-git``.

``make test`` installs the npm servers under ``.tools/mcp`` and sets ``MINICODE_REQUIRE_TOOLS=1``
(a missing server is then a failure); a bare ``pytest`` skips what is not installed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import write_config
from .harness import editor

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("MINICODE_MCP_DIR", ROOT / ".tools" / "mcp")) / "node_modules" / ".bin"
EVERYTHING, FILESYSTEM = BIN / "mcp-server-everything", BIN / "mcp-server-filesystem"

if not (EVERYTHING.exists() and FILESYSTEM.exists()):
    if os.environ.get("MINICODE_REQUIRE_TOOLS"):
        raise RuntimeError(f"the MCP reference servers are not installed under {BIN.parent.parent} (make test does it)")
    pytest.skip("the MCP reference servers are not installed (make test installs them)", allow_module_level=True)
pytest.importorskip("mcp")


def call(name: str, **arguments: object) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def user_config(ws: Path, servers: str) -> None:
    """The user's own config (always trusted), as harness.server_env points MINICODE_CONFIG at it."""
    home = ws.parent / "home"
    home.mkdir(exist_ok=True)
    (home / "user-config.toml").write_text(servers, encoding="utf-8")


def fs_server(ws: Path, allow: str = "") -> str:
    return f'[mcpServers.fs]\ncommand = "{FILESYSTEM}"\nargs = ["{ws}"]\n{allow}\n'


def everything() -> str:
    return f'[mcpServers.everything]\ncommand = "{EVERYTHING}"\nargs = ["stdio"]\n'


def tool_results(model: ScriptedModelServer) -> list[str]:
    """The tool results of the conversation, as the last model request carried them."""
    return [m["content"] for m in model.model_requests[-1].body["messages"] if m.get("role") == "tool"]


async def test_filesystem_server_write_is_checkpointed_and_rewound(workspace: Path, model: ScriptedModelServer) -> None:
    user_config(workspace, fs_server(workspace) + everything())
    made = workspace / "made.txt"
    model.set_script([call("mcp__fs__write_file", path=str(made), content="written by the MCP server\n"),
                      call("mcp__everything__echo", message="hello"), {"text": "Done."}])
    async with editor(workspace) as ed:
        ids = await ed.run_task("write made.txt with the filesystem server")
        done = await ed.wait_turn(ids["turnId"])
        assert done["stopReason"] in ("done", "verification_failed"), done
        assert made.read_text() == "written by the MCP server\n"
        changed = [e["data"] for e in ed.turn_events(ids["turnId"]) if e["type"] == p.EV_FILES_CHANGED]
        assert [f["action"] for f in changed[0]["files"]] == ["create"] and changed[0]["uris"] == [made.as_uri()]
        assert "Echo: hello" in "\n".join(tool_results(model))
        # the tools were offered under their prefixed names, with the servers' schemas
        offered = {t["function"]["name"]: t for t in model.model_requests[0].body["tools"]}
        assert "mcp__fs__write_file" in offered and "path" in json.dumps(offered["mcp__fs__write_file"])
        applied = await ed.command(p.CMD_REWIND_APPLY, {"sessionId": ids["sessionId"], "target": {"latest": True}})
        assert applied["applied"], applied
        assert not made.exists()  # the MCP server's file change was taken back like any other


async def test_ask_mode_asks_like_a_command_plan_mode_runs_only_read_only_tools(
        workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="ask")
    user_config(workspace, fs_server(workspace) + everything())
    target = workspace / "asked.txt"
    model.set_script([call("mcp__fs__write_file", path=str(target), content="no\n"),
                      call("mcp__fs__write_file", path=str(target), content="yes\n"), {"text": "ok"}])
    async with editor(workspace) as ed:
        ed.answers = ["Deny", "Allow once"]
        ids = await ed.run_task("write asked.txt")
        await ed.wait_turn(ids["turnId"])
        assert [q.message for q in ed.questions][0].startswith("MiniCode wants to run: mcp__fs__write_file")
        assert target.read_text() == "yes\n"
        assert "declined" in tool_results(model)[0] or "refused" in tool_results(model)[0]

        model.set_script([call("mcp__fs__write_file", path=str(target), content="plan\n"),
                          call("mcp__everything__echo", message="read-only is fine"), {"text": "ok"}])
        ids = await ed.run_task("try in plan mode", sessionId=ids["sessionId"], permissionMode="plan")
        await ed.wait_turn(ids["turnId"])
        assert target.read_text() == "yes\n"
        offered = [t["function"]["name"] for t in model.model_requests[-1].body["tools"]]
        assert "mcp__everything__echo" in offered and "mcp__fs__write_file" not in offered
        assert "Echo: read-only is fine" in "\n".join(tool_results(model))


async def test_allowed_tools_need_no_question(workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, mode="ask")
    user_config(workspace, fs_server(workspace, allow='allow = ["write_file"]'))
    model.set_script([call("mcp__fs__write_file", path=str(workspace / "free.txt"), content="ok\n"), {"text": "ok"}])
    async with editor(workspace) as ed:
        ids = await ed.run_task("write free.txt")
        await ed.wait_turn(ids["turnId"])
        assert not ed.questions
    assert (workspace / "free.txt").read_text() == "ok\n"


async def test_broken_servers_do_not_stop_the_turn_and_readiness_names_them(
        workspace: Path, model: ScriptedModelServer) -> None:
    user_config(workspace, everything()
                + '[mcpServers.missing]\ncommand = "no-such-mcp-server-here"\n'
                + f'[mcpServers.mute]\ncommand = "{sys.executable}"\nargs = ["-c", "import time; time.sleep(60)"]\n'
                + 'startTimeoutS = 2\n'
                + f'[mcpServers.crashes]\ncommand = "{sys.executable}"\nargs = ["-c", "import sys; '
                  'sys.stderr.write(\'cannot start: no database\\\\n\'); sys.exit(3)"]\n')
    model.set_script([call("mcp__everything__get-sum", a=2, b=3), {"text": "five"}])
    async with editor(workspace) as ed:
        ids = await ed.run_task("add 2 and 3")
        done = await ed.wait_turn(ids["turnId"], timeout=90)
        assert done["stopReason"] in ("done", "verification_failed"), done
        assert "5" in "\n".join(tool_results(model))
        errors = " | ".join(e["data"]["message"] for e in ed.turn_events(ids["turnId"]) if e["type"] == p.EV_ERROR)
        assert "missing: command not found" in errors
        assert "mute: did not start" in errors
        assert "crashes:" in errors and "cannot start: no database" in errors
        report = await ed.command(p.CMD_READINESS, {"probe": True})
        checks = {c["name"]: c for c in report["checks"]}
        assert report["state"] == "degraded"
        assert checks["mcp:everything"]["status"] == "ok"
        assert checks["mcp:missing"]["status"] == "warn"


def test_mcp_list_with_the_git_server_from_pypi(workspace: Path) -> None:
    pytest.importorskip("mcp_server_git")
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    user_config(workspace, f'[mcpServers.git]\ncommand = "{sys.executable}"\n'
                           f'args = ["-m", "mcp_server_git", "--repository", "{workspace}"]\n')
    env = {**os.environ, "MINICODE_CONFIG": str(workspace.parent / "home" / "user-config.toml")}
    out = subprocess.run([sys.executable, "-m", "minicode_lsp", "mcp", "list", "--workspace", str(workspace),
                          "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    servers = json.loads(out.stdout)["servers"]
    names = [t["name"] for t in servers[0]["tools"]]
    assert "mcp__git__git_status" in names and servers[0]["running"]


@pytest.fixture
def http_everything() -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(EVERYTHING), "streamableHttp"], env={**os.environ, "PORT": str(port)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_streamable_http_server(workspace: Path, model: ScriptedModelServer, http_everything: str) -> None:
    user_config(workspace, f'[mcpServers.web]\nurl = "{http_everything}"\n')
    model.set_script([call("mcp__web__echo", message="over http"), {"text": "ok"}])
    async with editor(workspace) as ed:
        ids = await ed.run_task("echo over http")
        await ed.wait_turn(ids["turnId"])
    assert "Echo: over http" in "\n".join(tool_results(model))


async def test_a_hostile_server_fails_calls_clearly_and_the_turn_goes_on(
        workspace: Path, model: ScriptedModelServer) -> None:
    hostile = Path(__file__).with_name("hostile_mcp_server.py")
    user_config(workspace, f'[mcpServers.bad]\ncommand = "{sys.executable}"\nargs = ["{hostile}"]\ntimeoutS = 4\n')
    model.set_script([call("mcp__bad__read_file", path="x"), call("mcp__bad__huge"), call("mcp__bad__garbage"),
                      call("mcp__bad__hang"), call("mcp__bad__crash"), call("mcp__bad__ok", word="after the crash"),
                      {"text": "survived"}])
    async with editor(workspace) as ed:
        ids = await ed.run_task("call every hostile tool")
        done = await ed.wait_turn(ids["turnId"], timeout=120)
        assert done["stopReason"] in ("done", "verification_failed"), done
        results = tool_results(model)
        assert results[0] == "hostile read of x"  # its own name space: the built-in read_file is untouched
        # 50 MB: cut to what the model can take, or (on a slow machine) past the call's time; never whole
        assert len(results[1]) < 100_000 and ("cut: the result had 52,428,800 characters" in results[1]
                                              or "did not answer within 4 s" in results[1])
        assert "not json-rpc" not in results[2]  # the flood never reaches the model
        assert "did not answer within 4 s" in results[3]
        assert "MCP server bad stopped during crash" in results[4]  # the crash, said as one
        assert results[5] == "ok: after the crash"  # started again once, the turn went on
        listed = await ed.command(p.CMD_SESSION_LIST, {})
        assert listed["sessions"][0]["id"] == ids["sessionId"]  # the server answers; nothing is stuck


async def test_acp_client_servers_are_used_for_that_session(workspace: Path, model: ScriptedModelServer) -> None:
    pytest.importorskip("acp")
    from acp import text_block
    from acp.schema import EnvVariable, McpServerStdio

    from .acp_client import AcpTestClient, acp_agent

    write_config(workspace, model, mode="auto")
    model.set_script([call("mcp__fromzed__echo", message="sent by the client"), {"text": "ok"}])
    async with acp_agent(workspace, AcpTestClient()) as conn:
        session = await conn.new_session(cwd=str(workspace), mcp_servers=[McpServerStdio(
            name="fromzed", command=str(EVERYTHING), args=["stdio"], env=[EnvVariable(name="X", value="1")])])
        reply = await conn.prompt(session_id=session.session_id, prompt=[text_block("echo")])
    assert reply.stop_reason == "end_turn"
    assert "Echo: sent by the client" in "\n".join(tool_results(model))
