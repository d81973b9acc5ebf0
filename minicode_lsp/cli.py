"""Entry point: `minicode-lsp serve|acp|run|demo|sessions|checkpoints|rewind|readiness|trust|mcp|memory|model-server`.

Exit codes: 0 done, 1 failure, 2 usage (bad arguments or input), 130 interrupted (Ctrl-C).
``run``: 0 also when the turn stopped at the user's answer (``await_user``: an edit or command declined);
1 for any other stop reason but ``done``.
No traceback reaches the user: every failure is one line ``minicode-lsp: error: <what> (<fix>)``;
``--debug`` (or ``MINICODE_DEBUG=1``) adds the traceback.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from typing import Any

from . import __version__
from . import log as logsetup

LOOPBACK = ("127.0.0.1", "localhost", "::1")
GC_OFF_AT_MOST_S = 5.0  # serve: garbage collection is off until the initialize reply, this at most


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
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of a failure (or set MINICODE_DEBUG=1)")
    sub = parser.add_subparsers(dest="cmd")

    serve = sub.add_parser("serve", help="run the language server (the default)")
    serve.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)")
    serve.add_argument("--tcp", action="store_true",
                       help="listen on TCP instead (loopback only; the client must send the token printed at "
                            "start, or $MINICODE_TCP_TOKEN, as initializationOptions.token)")
    serve.add_argument("--host", default="127.0.0.1", help="TCP host: 127.0.0.1, localhost or ::1")
    serve.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")

    ws = argparse.ArgumentParser(add_help=False)
    ws.add_argument("--workspace", help="workspace root (default: the nearest folder up from here that holds "
                    ".minicode.toml or .git, else the current folder)")
    ws.add_argument("--json", action="store_true", help="machine-readable output")

    run = sub.add_parser("run", parents=[ws], help="run one agent task in the terminal")
    run.add_argument("prompt", help="what the agent should do")
    run.add_argument("--profile", choices=["single", "single-deep"], help="step budget: 50 or 80 (default: config)")
    run.add_argument("--permission-mode", choices=["auto", "plan", "ask"],
                     help="auto: edit and run freely; plan: read-only; ask: confirm each edit and command "
                          "(needs a terminal: answers piped on stdin are not read)")
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

    ms = sub.add_parser("model-server", help="a scripted model server on 127.0.0.1, to try the editors without a model")
    ms.add_argument("--port", type=int, default=0, help="TCP port (default: any free port)")
    ms.add_argument("--script", help='JSON file: a list of replies, one per model request '
                    '(default: none, every request is answered "done"); see docs/configuration.md')
    ms.add_argument("--demo", action="store_true",
                    help="serve the demo's script (fixes add() in the sample project of `minicode-lsp demo --keep`)")
    ms.add_argument("--port-file", help="write the base URL to this file once listening")
    ms.add_argument("--model", action="append", help="model name listed by /v1/models (repeatable)")
    return parser


def serve(args: argparse.Namespace) -> int:
    # No cyclic garbage collection until the ``initialize`` reply is written (the server turns it
    # back on then; a timer at the latest): importing pygls, lsprotocol and our modules
    # otherwise runs ~110 collections, one over every object (~30 ms alone), all of live
    # objects. The garbage it leaves (~17,000 objects of lsprotocol's type resolution) is
    # collected once it is back on, after the reply, while the service opens.
    gc.disable()
    gc_back = threading.Timer(GC_OFF_AT_MOST_S, gc.enable)
    gc_back.daemon = True  # never keeps the process alive
    gc_back.start()
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
        start = lambda: serve_tcp(server, args.host, args.port, token)  # noqa: E731
    else:
        if sys.stdin.isatty():
            print("minicode-lsp: serving LSP on stdin/stdout, as an editor starts it (Ctrl-C stops it); "
                  "`minicode-lsp --help` lists the terminal commands", file=sys.stderr)
        start = server.start_io
    interrupted = _stop_on_sigint(server)
    try:
        start()
    except SystemExit as exc:  # the client's `exit` notification: its code says whether `shutdown` came first
        return exc.code if isinstance(exc.code, int) else 0
    finally:
        gc.enable()
        server.close_service()
        if interrupted.is_set():
            print("minicode-lsp: interrupted", file=sys.stderr, flush=True)
            os._exit(130)  # the stdin reader thread may sit in a blocking read: do not wait for it
    return 0


def _stop_on_sigint(server: Any) -> threading.Event:
    """Ctrl-C stops the server at once, even while pygls reads stdin in a worker thread (which
    would otherwise keep the process alive until the next line): the read is abandoned, the
    store is closed, and a watchdog ends the process if closing takes more than a second."""
    interrupted = threading.Event()

    def on_sigint(signum: int, frame: Any) -> None:
        if interrupted.is_set():
            return
        interrupted.set()
        watchdog = threading.Timer(0.9, lambda: os._exit(130))
        watchdog.daemon = True
        watchdog.start()
        pool = getattr(server, "_thread_pool", None)
        if pool is not None:  # pygls would wait for its stdin reader in shutdown()
            pool.shutdown(wait=False, cancel_futures=True)
            server._thread_pool = None
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)
    return interrupted


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


def model_server(args: argparse.Namespace) -> int:
    from .testing import model_server as ms

    argv = ["--port", str(args.port)] + (["--script", args.script] if args.script else [])
    if args.demo:
        if args.script:
            raise SystemExit("minicode-lsp model-server: --demo and --script cannot be used together")
        argv.append("--demo")
    argv += ["--port-file", args.port_file] if args.port_file else []
    for name in args.model or ():
        argv += ["--model", name]
    return ms.main(argv)


def debug_wanted(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("MINICODE_DEBUG", "") not in ("", "0")


def main(argv: Sequence[str] | None = None) -> int:
    """Runs a command; every failure ends as one line on stderr and an exit code (see the module doc)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_wanted(argv)
    lost: list[BaseException] = []
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C raises KeyboardInterrupt from here on
        sys.unraisablehook = lambda unraisable: _unraisable(unraisable, lost, debug)
    try:
        code = _main(argv)
        if lost:  # Ctrl-C landed where Python could only ignore it (a callback, a finalizer)
            raise KeyboardInterrupt
        return code
    except KeyboardInterrupt:
        print("minicode-lsp: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head`: the reader has gone, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        from .cli_errors import describe

        code, line = describe(exc)
        if debug:
            import traceback

            traceback.print_exc()
        print(f"minicode-lsp: error: {line}", file=sys.stderr)
        return code


def _unraisable(unraisable: Any, lost: list[BaseException], debug: bool) -> None:
    """An exception Python can only ignore: Ctrl-C is kept for the exit code; the rest is one
    line (the traceback with --debug)."""
    exc = unraisable.exc_value
    if isinstance(exc, KeyboardInterrupt):
        lost.append(exc)
    elif debug:
        sys.__unraisablehook__(unraisable)
    else:
        print(f"minicode-lsp: warning: ignored {type(exc).__name__}: {exc}", file=sys.stderr)


# How editors start the server: parsed without building the whole parser (every subcommand's
# options: ~8 ms of CPU, on the way to the ``initialize`` reply). Same result as parse_args.
_EDITOR_ARGV: tuple[list[str], ...] = ([], ["serve"], ["serve", "--stdio"])


def _editor_serve_args(argv: list[str]) -> argparse.Namespace | None:
    if argv not in _EDITOR_ARGV:
        return None
    return argparse.Namespace(verbose=0, log_file=None, debug=False, cmd=argv[0] if argv else None,
                              **({"stdio": len(argv) == 2, "tcp": False, "host": "127.0.0.1", "port": 2087}
                                 if argv else {}))


def _main(argv: list[str]) -> int:
    args = _editor_serve_args(argv)
    if args is None:
        args = build_parser().parse_args(argv)
    cmd = args.cmd or "serve"
    try:
        logsetup.setup(args.verbose, args.log_file, terminal=cmd != "serve")
    except OSError as exc:
        from .cli_errors import EXIT_USAGE, CliError

        raise CliError(f"cannot write the log file {args.log_file}: {exc.strerror or exc}",
                       "pass --log-file a writable file in an existing folder", EXIT_USAGE) from None
    if cmd == "serve":
        if args.cmd is None:
            args.tcp = False
        return serve(args)
    if cmd == "model-server":
        return model_server(args)
    if cmd == "acp":
        from .acp.main import main as acp_main

        return acp_main(args.workspace)
    from . import cli_commands

    return cli_commands.dispatch(cmd, args)
