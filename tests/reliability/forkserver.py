"""A fork server: imports minicode-lsp once, then forks a fresh ``minicode-lsp`` process per request.

Starting Python and importing the package costs seconds on a loaded 2-core machine; the crash
tests kill 50+ processes, so each is forked from this warm parent instead. A forked child runs
the real CLI (``minicode_lsp.cli.main``) in its own process group and session, with its own
environment, working folder and output file, exactly as ``minicode-lsp ...`` would.

Protocol on stdin/stdout, one JSON object a line:
``{"spawn": {"argv": [...], "cwd": DIR, "env": {...}, "out": FILE}}`` -> ``{"pid": N}``;
``{"wait": N}`` -> ``{"pid": N, "status": S}`` (S as from ``os.waitpid``: check with ``os.WIF*``).
"""

from __future__ import annotations

import json
import os
import sys


def _warm() -> None:
    import httpx  # noqa: F401

    from minicode_lsp import cli, cli_commands  # noqa: F401
    from minicode_lsp.agent import loop  # noqa: F401
    from minicode_lsp.agent.providers import anthropic, openai_compat  # noqa: F401
    from minicode_lsp.service import core, turns  # noqa: F401


def _child(spec: dict) -> None:
    os.setsid()
    os.chdir(spec["cwd"])
    os.environ.clear()
    os.environ.update(spec["env"])
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(spec["out"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    code = 70
    try:
        from minicode_lsp import cli

        code = cli.main(spec["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> int:
    _warm()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if "spawn" in request:
            pid = os.fork()
            if pid == 0:
                _child(request["spawn"])
            print(json.dumps({"pid": pid}), flush=True)
        elif "wait" in request:
            pid, status = os.waitpid(int(request["wait"]), 0)
            print(json.dumps({"pid": pid, "status": status}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
