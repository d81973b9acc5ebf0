"""Entry point: `minicode-lsp serve|run|demo|sessions|checkpoints|rewind|readiness|trust|memory`."""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Sequence

from . import __version__
from . import log as logsetup

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minicode-lsp", description="A language server with a coding agent inside.")
    parser.add_argument("--version", action="version", version=f"minicode-lsp {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("--log-file", help="write logs to this file instead of stderr")
    sub = parser.add_subparsers(dest="cmd")

    serve = sub.add_parser("serve", help="run the language server (the default)")
    serve.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)")
    serve.add_argument("--tcp", action="store_true",
                       help="listen on TCP instead (loopback only; the client must send the token printed at "
                            "start, or $MINICODE_TCP_TOKEN, as initializationOptions.token)")
    serve.add_argument("--host", default="127.0.0.1", help="TCP host: 127.0.0.1, localhost or ::1")
    serve.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")

    ws = argparse.ArgumentParser(add_help=False)
    ws.add_argument("--workspace", default=".", help="workspace root (default: the current folder)")
    ws.add_argument("--json", action="store_true", help="machine-readable output")

    run = sub.add_parser("run", parents=[ws], help="run one agent task in the terminal")
    run.add_argument("prompt", help="what the agent should do")
    run.add_argument("--profile", choices=["single", "single-deep"], help="step budget: 50 or 80 (default: config)")
    run.add_argument("--permission-mode", choices=["auto", "plan", "ask"],
                     help="auto: edit and run freely; plan: read-only; ask: confirm each edit and command")
    run.add_argument("--session", help="resume this session (any unique id prefix)")

    acp = sub.add_parser("acp", help="speak the Agent Client Protocol on stdio (Zed, JetBrains, codecompanion.nvim, ...)")
    acp.add_argument("--workspace", help="folder for requests that name none (default: the current folder)")

    demo = sub.add_parser("demo", help="run a real task against a scripted model on 127.0.0.1")
    demo.add_argument("--keep", action="store_true", help="keep the temporary project folder")

    sessions = sub.add_parser("sessions", help="list, show, replay, export or delete sessions")
    ssub = sessions.add_subparsers(dest="action", required=True)
    sl = ssub.add_parser("list", parents=[ws], help="the newest sessions first")
    sl.add_argument("--limit", type=positive_int, default=20, help="how many (default 20)")
    sl.add_argument("--query", help="only sessions whose title or prompts contain this text")
    for name, what in (("show", "a session's turns, tool calls and checkpoints"),
                       ("replay", "a session's events, in order"),
                       ("delete", "delete a session, its events and its checkpoints"),
                       ("summarize", "a short summary of a session")):
        sp = ssub.add_parser(name, parents=[ws], help=what)
        sp.add_argument("session", help="session id or a unique prefix of it")
    se = ssub.add_parser("export", parents=[ws], help="a session as markdown or JSON lines (secrets redacted)")
    se.add_argument("session", help="session id or a unique prefix of it")
    se.add_argument("--format", choices=["markdown", "jsonl"], default="markdown")

    cp = sub.add_parser("checkpoints", parents=[ws], help="list edit groups")
    cp.add_argument("session", nargs="?", help="session id or prefix (default: every session)")

    rw = sub.add_parser("rewind", parents=[ws], help="preview or apply a rewind, or undo the last one")
    target = rw.add_mutually_exclusive_group()
    target.add_argument("--latest", action="store_true", help="the latest edit group (the default)")
    target.add_argument("--steps", type=positive_int, help="the last N edit groups")
    target.add_argument("--to", dest="group", help="this group and everything after it")
    target.add_argument("--turn", help="this turn and everything after it")
    target.add_argument("--all", dest="whole", action="store_true", help="the whole session")
    rw.add_argument("--session", help="session id or unique prefix (default: the newest)")
    rw.add_argument("--preview", action="store_true", help="show the plan, change nothing")
    rw.add_argument("--force", action="store_true", help="write conflict markers where edits overlap")
    rw.add_argument("--undo", action="store_true", help="undo the last rewind")

    rd = sub.add_parser("readiness", parents=[ws], help="can the agent work here, and if not why")
    rd.add_argument("--no-probe", action="store_true", help="do not contact the providers")

    tr = sub.add_parser("trust", parents=[ws], help="show what the workspace's .minicode.toml would enable, and allow it")
    tr.add_argument("--yes", action="store_true", help="allow without asking (exactly the content shown)")
    tr.add_argument("--revoke", action="store_true", help="remove the allow")

    mcp = sub.add_parser("mcp", help="the configured MCP tool servers")
    mcpsub = mcp.add_subparsers(dest="action", required=True)
    mcpsub.add_parser("list", parents=[ws], help="start each server and list its tools (or its error)")

    mem = sub.add_parser("memory", help="project and user memory entries")
    msub = mem.add_subparsers(dest="action", required=True)
    ml = msub.add_parser("list", parents=[ws], help="entries, proposed ones marked")
    ml.add_argument("--scope", choices=["project", "user"])
    ma = msub.add_parser("add", parents=[ws], help="remember a fact for later turns")
    ma.add_argument("text", help="the fact, in a sentence")
    ma.add_argument("--scope", choices=["project", "user"], default="project")
    ma.add_argument("--tag", action="append", default=[])
    mr = msub.add_parser("remove", parents=[ws], help="forget an entry")
    mr.add_argument("id", help="entry id")
    mc = msub.add_parser("accept", parents=[ws], help="accept an entry the agent proposed")
    mc.add_argument("id", help="entry id")
    return parser


def serve(args: argparse.Namespace) -> int:
    from .server import create_server

    server = create_server()
    logsetup.attach_editor(server, args.verbose)
    if getattr(args, "tcp", False):
        if args.host not in LOOPBACK:
            print(f"minicode-lsp: refusing to listen on {args.host}: only loopback (127.0.0.1, ::1) is allowed",
                  file=sys.stderr)
            return 2
        problem = _cannot_listen(args.host, args.port)
        if problem:
            print(f"minicode-lsp: cannot listen on {args.host}:{args.port}: {problem}", file=sys.stderr)
            return 2
        from .tcp import TOKEN_ENV, make_token, serve_tcp

        try:
            token, from_env = make_token()
        except ValueError as exc:
            print(f"minicode-lsp: {exc}", file=sys.stderr)
            return 2
        print(f"minicode-lsp: listening for LSP on {args.host}:{args.port} (loopback only); a client must send "
              f"initializationOptions.token = " + (f"${TOKEN_ENV}" if from_env else token), file=sys.stderr)
        sys.stderr.flush()
        try:
            serve_tcp(server, args.host, args.port, token)
        finally:
            server.close_service()
    else:
        if sys.stdin.isatty():
            print("minicode-lsp: serving LSP on stdin/stdout, as an editor starts it; "
                  "`minicode-lsp --help` lists the terminal commands", file=sys.stderr)
        try:
            server.start_io()
        finally:
            server.close_service()
    return 0


def _cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound (e.g. another server holds it), or None."""
    try:
        for family, kind, proto, _, addr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(addr)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    cmd = args.cmd or "serve"
    logsetup.setup(args.verbose, args.log_file, terminal=cmd != "serve")
    if cmd == "serve":
        if args.cmd is None:
            args.tcp = False
        return serve(args)
    if cmd == "acp":
        from .acp.main import main as acp_main

        return acp_main(args.workspace)
    from . import cli_commands

    try:
        return cli_commands.dispatch(cmd, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head`: the reader has gone, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
