"""What a server start does before its ``initialize`` reply (issue #15: within 1.15x of a bare
pygls server; bench/startup.py measures it): no heavy import, no full argument parser."""

from __future__ import annotations

import subprocess
import sys

import pytest

from minicode_lsp.cli import _editor_serve_args, build_parser

# Loaded after the reply (the service opens in a worker thread) or on first use, never before it.
DEFERRED = ("pydantic", "httpx", "sqlite3", "watchdog", "minicode_lsp.config", "minicode_lsp.protocol",
            "minicode_lsp.store.db", "minicode_lsp.agent.loop", "tempfile", "shutil", "difflib")


@pytest.mark.parametrize("argv", [[], ["serve"], ["serve", "--stdio"]])
def test_the_editor_invocations_parse_as_the_full_parser_would(argv: list[str]) -> None:
    fast = _editor_serve_args(argv)
    assert fast is not None and vars(fast) == vars(build_parser().parse_args(argv))


@pytest.mark.parametrize("argv", [["serve", "--tcp"], ["-v"], ["serve", "-v"], ["run", "x"], ["--help"]])
def test_anything_else_goes_through_the_parser(argv: list[str]) -> None:
    assert _editor_serve_args(argv) is None


def test_starting_the_server_loads_nothing_it_defers() -> None:
    code = ("import sys, minicode_lsp.__main__, minicode_lsp.cli as c, minicode_lsp.server as s; "
            "c.logsetup.setup(0, None, terminal=False); c.logsetup.attach_editor(s.create_server(), 0); "
            f"print(' '.join(m for m in {DEFERRED!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            timeout=60).stdout.split()
    assert loaded == [], f"imported before the initialize reply: {loaded}"


def test_garbage_collection_is_back_on_once_initialize_is_answered() -> None:
    """``serve`` turns cyclic garbage collection off while it starts (cli.serve); the reply
    turns it back on, or the process would never collect a cycle again."""
    import gc

    from minicode_lsp.server import create_server

    was = gc.isenabled()
    try:
        gc.disable()
        create_server().on_initialize_answered()
        assert gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
