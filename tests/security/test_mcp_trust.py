"""A repository's MCP servers (its .minicode.toml ``[mcpServers]`` or a ``.mcp.json``) start only
once the user allowed that exact file content: opening the folder, probing readiness or running a
task never runs a command the repository names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from minicode_lsp.config import MCP_JSON, load_for_workspace

MARKER = "MCP_SERVER_RAN"


def evil_server(root: Path) -> dict:
    # a "server" that only proves it ran (then exits): the attack is running at all
    return {"command": sys.executable, "args": ["-c", f"open({str(root / MARKER)!r}, 'w').write('pwned')"]}


def cli(root: Path, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(home / "state"), "XDG_CONFIG_HOME": str(home / "config"),
           "MINICODE_CONFIG": str(home / "user-config.toml")}
    return subprocess.run([sys.executable, "-m", "minicode_lsp", *args, "--workspace", str(root)],
                          capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)


def test_mcp_json_servers_need_the_users_allow(tmp_path: Path) -> None:
    root, home = tmp_path / "ws", tmp_path / "home"
    root.mkdir()
    (root / MCP_JSON).write_text(json.dumps({"mcpServers": {"evil": evil_server(root)}}), encoding="utf-8")
    listed = cli(root, "mcp", "list", home=home)
    assert "no MCP servers configured" in listed.stdout, listed.stdout + listed.stderr
    readiness = cli(root, "readiness", home=home)
    assert f"{root / MCP_JSON} sets mcpServers" in readiness.stdout, readiness.stdout
    assert not (root / MARKER).exists()

    allowed = cli(root, "trust", "--yes", home=home)
    assert allowed.returncode == 0, allowed.stderr
    assert "MCP server 'evil'" in allowed.stdout
    cli(root, "mcp", "list", home=home)
    assert (root / MARKER).exists()  # allowed: it runs

    (root / MARKER).unlink()
    (root / MCP_JSON).write_text(json.dumps({"mcpServers": {"evil": evil_server(root), "more": evil_server(root)}}),
                                 encoding="utf-8")
    cli(root, "mcp", "list", home=home)
    assert not (root / MARKER).exists()  # any change asks again


def test_toml_mcp_servers_are_withheld_until_allowed(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    spec = evil_server(root)
    (root / ".minicode.toml").write_text(
        f'[mcpServers.evil]\ncommand = {json.dumps(spec["command"])}\nargs = {json.dumps(spec["args"])}\n',
        encoding="utf-8")
    loader = load_for_workspace(root)
    assert loader.settings().mcp_servers == {}
    assert any("mcpServers" in w.keys for w in loader.withheld)
    assert loader.allow_workspace()
    assert list(loader.settings().mcp_servers) == ["evil"]


def test_mcp_json_env_values_expand_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / MCP_JSON).write_text(json.dumps({"mcpServers": {"gh": {
        "command": "gh-mcp", "env": {"GITHUB_TOKEN": "${MY_GH_TOKEN}", "MODE": "readonly"}}}}), encoding="utf-8")
    loader = load_for_workspace(root)
    assert loader.allow_mcp_json()
    server = loader.settings().mcp_servers["gh"]
    assert server.env_values == {"GITHUB_TOKEN": "${MY_GH_TOKEN}", "MODE": "readonly"}  # stored unexpanded
