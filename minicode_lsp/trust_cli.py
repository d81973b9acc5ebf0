"""`minicode-lsp trust`: show what a workspace's .minicode.toml would enable, and allow it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import trust
from .config import MCP_JSON, WORKSPACE_FILE, ConfigLoader, load_for_workspace


def trust_cmd(args: argparse.Namespace) -> int:
    root = Path(args.workspace).resolve()
    path = root / WORKSPACE_FILE
    if getattr(args, "revoke", False):
        removed = trust.revoke(path)
        print(f"{path}: allow removed" if removed else f"{path} was not allowed")
        return 0
    loader = load_for_workspace(root)
    if loader.workspace_bytes is None and loader.mcp_json_bytes is not None:
        return _trust_mcp_json(loader, args)
    if loader.workspace_bytes is None:
        print(f"minicode-lsp: error: there is no readable {WORKSPACE_FILE} or {MCP_JSON} in {root}", file=sys.stderr)
        return 2
    digest = trust.content_hash(loader.workspace_bytes)
    withheld = loader.workspace_withheld()
    settings = trust.describe(withheld) if withheld else []
    if loader.mcp_json_bytes is not None:  # the .mcp.json beside it is shown and allowed with it
        settings += [f"{MCP_JSON}: {line}" for line in _mcp_lines(loader)]
    if args.json and not args.yes:
        print(json.dumps({"path": str(path), "sha256": digest, "allowed": loader.workspace_allowed,
                          "settings": settings}, indent=2))
        return 0
    mcp_digest = trust.content_hash(loader.mcp_json_bytes) if loader.mcp_json_bytes is not None else None
    print(f"{path} (sha256 {digest})")
    if loader.workspace_allowed:
        print("already allowed with this content")
    print("allowing it enables:" if settings else "it sets nothing that needs an allow")
    for line in settings:
        print(f"  {line}")
    refused = None if args.yes else _confirm("Allow this file's settings?")
    if refused is not None:
        return refused
    if not loader.allow_workspace(digest):  # the content shown, never a later one
        print("minicode-lsp: error: the file changed meanwhile; run again", file=sys.stderr)
        return 2
    if loader.mcp_json_bytes is not None and not loader.allow_mcp_json(mcp_digest):
        print(f"minicode-lsp: error: {MCP_JSON} changed meanwhile; run again", file=sys.stderr)
        return 2
    print(f"allowed; recorded in {trust.trust_file()} (any change to the file asks again)")
    return 0


def _mcp_lines(loader: ConfigLoader) -> list[str]:
    return [f"MCP server {name!r}: " + (f"url={cfg.get('url')}" if cfg.get("url") else
                                        f"command={cfg.get('command')} args={json.dumps(cfg.get('args', []))}")
            for name, cfg in loader.mcp_json_servers.items()] or ["(no servers)"]


def _trust_mcp_json(loader: ConfigLoader, args: argparse.Namespace) -> int:
    """A workspace with a .mcp.json and no .minicode.toml: show its servers and allow it."""
    assert loader.mcp_json_path is not None and loader.mcp_json_bytes is not None
    digest = trust.content_hash(loader.mcp_json_bytes)
    lines = _mcp_lines(loader)
    if args.json and not args.yes:
        print(json.dumps({"path": str(loader.mcp_json_path), "sha256": digest, "allowed": loader.mcp_json_allowed,
                          "settings": lines}, indent=2))
        return 0
    print(f"{loader.mcp_json_path} (sha256 {digest})")
    print("allowing it starts these servers when the agent works here:")
    for line in lines:
        print(f"  {line}")
    refused = None if args.yes else _confirm("Allow these servers?")
    if refused is not None:
        return refused
    if not loader.allow_mcp_json(digest):
        print(f"minicode-lsp: error: {MCP_JSON} changed meanwhile; run again", file=sys.stderr)
        return 2
    print(f"allowed; recorded in {trust.trust_file()} (any change to the file asks again)")
    return 0


def _confirm(question: str) -> int | None:
    """None when the user says yes at the terminal; else the exit code (2: no terminal, 1: no)."""
    if sys.stdin is None or not sys.stdin.isatty():
        print("minicode-lsp: error: not a terminal: run with --yes to allow exactly this content", file=sys.stderr)
        return 2
    try:
        answer = input(f"{question} [y/N] ").strip().lower()
    except EOFError:
        answer = ""
    except KeyboardInterrupt:  # the terminal echoed ^C after the question: end that line first
        print(flush=True)
        raise
    if answer not in ("y", "yes"):
        print("not allowed")
        return 1
    return None
