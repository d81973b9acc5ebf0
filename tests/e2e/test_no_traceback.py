"""No traceback reaches a user: every subcommand under an unusable state folder, an unwritable
log file, a closed stdin, and Ctrl-C (SIGINT) at a random moment. Each failure is one line
``minicode-lsp: error: ...`` and a documented exit code (0, 1, 2 usage, 130 interrupted)."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from minicode_lsp.cli import build_parser
from minicode_lsp.testing.model_server import ScriptedModelServer

from ..trusting import allow_workspace_config
from .harness import server_env

EXIT_CODES = {0, 1, 2, 130, -signal.SIGINT}  # killed by SIGINT: what a shell shows as 130 too
UNKNOWN = "01NOSUCHID"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def commands() -> dict[str, list[str]]:
    """One invocation of every subcommand (and sub-action) the parser knows; a subcommand
    added later without an entry here still runs, with no arguments."""
    known = {
        "serve": ["serve"], "serve --tcp": ["serve", "--tcp", "--port", str(free_port())],
        "run": ["run", "say hello", "--permission-mode", "auto"], "demo": ["demo"],
        "sessions list": ["sessions", "list"], "sessions show": ["sessions", "show", UNKNOWN],
        "sessions replay": ["sessions", "replay", UNKNOWN], "sessions export": ["sessions", "export", UNKNOWN],
        "sessions delete": ["sessions", "delete", UNKNOWN], "sessions summarize": ["sessions", "summarize", UNKNOWN],
        "checkpoints": ["checkpoints"], "rewind": ["rewind", "--latest"], "rewind --undo": ["rewind", "--undo"],
        "readiness": ["readiness"], "memory list": ["memory", "list"], "memory add": ["memory", "add", "a fact"],
        "memory remove": ["memory", "remove", UNKNOWN], "memory accept": ["memory", "accept", UNKNOWN],
        "model-server": ["model-server", "--port", "0"],
    }
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "cmd")
    for name, subparser in sub.choices.items():  # type: ignore[union-attr]
        actions = [a for a in subparser._actions if a.dest == "action"]
        names = [f"{name} {action}" for action in actions[0].choices] if actions else [name]  # type: ignore[union-attr]
        for full in names:
            known.setdefault(full, full.split())
    return known


LONG_RUNNING = ("serve", "serve --tcp", "model-server")  # they wait for a client: stopped with SIGINT


def run(home: Path, cwd: Path, argv: list[str], *, env: dict[str, str] | None = None, closed_stdin: bool = False,
        sigint_after: float | None = None, timeout: float = 120) -> tuple[int, str, float]:
    """(exit code, stdout + stderr, seconds from SIGINT to exit)."""
    cmd = [sys.executable, "-m", "minicode_lsp", *argv]
    if closed_stdin:  # not an empty pipe: file descriptor 0 is not open at all
        cmd = ["sh", "-c", 'exec "$@" <&-', "sh", *cmd]
    proc = subprocess.Popen(cmd, cwd=cwd, env=server_env(home, env), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=None if closed_stdin else subprocess.PIPE, text=True)
    stopped_after = 0.0
    if sigint_after is not None:
        try:
            proc.wait(timeout=sigint_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGINT)
            sent = time.monotonic()
            try:
                proc.wait(timeout=timeout)
            finally:
                stopped_after = time.monotonic() - sent
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"{argv} still running after {timeout} s:\n{out}") from None
    return proc.returncode, out, stopped_after


def check(label: str, argv: list[str], result: tuple[int, str, float]) -> str | None:
    code, out, _ = result
    if "Traceback" in out or code not in EXIT_CODES:
        return f"{label} {argv}: exit {code}\n{out}"
    return None


@pytest.fixture
def project(tmp_path: Path, model: ScriptedModelServer) -> Path:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "a.py").write_text("x = 1\n", encoding="utf-8")
    (root / ".minicode.toml").write_text(  # no store.path: the store lives in XDG_STATE_HOME
        f'[[providers]]\nname = "scripted"\nkind = "openai"\nbaseUrl = "{model.openai_base_url}"\n'
        'model = "scripted"\ntimeoutS = 5\nmaxRetries = 0\n', encoding="utf-8")
    allow_workspace_config(root)
    return root


def in_parallel(jobs: list[tuple[str, list[str], dict]]) -> list[str]:
    problems: list[str] = []

    def one(job: tuple[str, list[str], dict]) -> str | None:
        label, argv, kwargs = job
        return check(label, argv, run(argv=argv, **kwargs))

    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = [p for p in pool.map(one, jobs) if p]
    return problems


def test_unusable_state_folder_log_file_and_closed_stdin(project: Path, tmp_path: Path,
                                                         model: ScriptedModelServer) -> None:
    model.set_script([{"text": "hello"}] * 20)
    home = tmp_path / "home"
    blocker = tmp_path / "a-file"  # a state folder that is a file: fails for root too (chmod does not)
    blocker.write_text("not a folder\n", encoding="utf-8")
    base = {"home": home, "cwd": project}
    jobs: list[tuple[str, list[str], dict]] = []
    for name, argv in commands().items():
        stop = 1.5 if name in LONG_RUNNING else None
        if name not in (*LONG_RUNNING, "demo"):  # these open no store of the state folder before a client comes
            jobs.append(("state folder unusable", argv, {**base, "env": {"XDG_STATE_HOME": str(blocker),
                                                                         "XDG_DATA_HOME": str(blocker)}}))
        jobs.append(("closed stdin", argv, {**base, "closed_stdin": True, "sigint_after": stop}))
    for argv in (["run", "hi"], ["serve"]):  # the log is set up before any command runs: two suffice
        jobs.append(("log file unwritable", ["--log-file", str(tmp_path), *argv], base))
        jobs.append(("log folder missing", ["--log-file", str(tmp_path / "no" / "such" / "x.log"), *argv], base))
    problems = in_parallel(jobs)
    assert not problems, "\n\n".join(problems)
    code, out, _ = run(home, project, ["sessions", "list"], env={"XDG_STATE_HOME": str(blocker)})
    assert code == 1 and out.splitlines()[-1].startswith("minicode-lsp: error: cannot use the store folder"), out
    assert "set store.path" in out.splitlines()[-1]  # the fix is part of the line
    code, out, _ = run(home, project, ["--debug", "sessions", "list"], env={"XDG_STATE_HOME": str(blocker)})
    assert code == 1 and "Traceback" in out  # --debug shows it
    code, out, _ = run(home, project, ["--log-file", str(tmp_path / "no" / "x.log"), "sessions", "list"])
    assert code == 2 and "cannot write the log file" in out and not (tmp_path / "no").exists(), out


def test_ctrl_c_at_random_moments(project: Path, tmp_path: Path, model: ScriptedModelServer) -> None:
    """Subcommands get SIGINT at a random moment (seeded, printed): each ends within a second
    (5 s allowed on a loaded machine), with a known exit code and no traceback. The moments
    start at 0.8 s: before that a loaded machine may still be inside Python's own start-up
    (``site``), which no program can keep from printing a traceback."""
    seed = int(os.environ.get("MINICODE_TEST_SEED", random.randrange(1 << 30)))
    print(f"seed {seed}")
    rng = random.Random(seed)
    model.set_script([{"fault": "delay", "seconds": 2, "text": "slow"}] * 40)
    home = tmp_path / "home"
    every = commands()
    always = [name for name in every if name in (*LONG_RUNNING, "run", "demo")]
    picked = always + rng.sample(sorted(set(every) - set(always)), 6)
    jobs = [("SIGINT", every[name], {"home": home, "cwd": project, "sigint_after": rng.uniform(0.8, 2.5)})
            for name in picked]
    late: list[str] = []

    def one(job: tuple[str, list[str], dict]) -> str | None:
        label, argv, kwargs = job
        result = run(argv=argv, **kwargs)
        if result[2] > 5.0:
            late.append(f"{argv}: {result[2]:.1f} s after SIGINT (sent at {kwargs['sigint_after']:.2f} s)")
        return check(f"{label} at {kwargs['sigint_after']:.2f} s", argv, result)

    with ThreadPoolExecutor(max_workers=4) as pool:
        problems = [p for p in pool.map(one, jobs) if p]
    assert not problems, f"seed {seed}\n" + "\n\n".join(problems)
    assert not late, f"seed {seed}\n" + "\n".join(late)
