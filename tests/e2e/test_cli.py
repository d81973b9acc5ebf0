"""The terminal commands a new user tries first: clear errors, honest exit codes, no tracebacks.

Each runs the real ``python -m minicode_lsp`` process against the scripted model server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import write_config
from .harness import server_env


def cli(home: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "minicode_lsp", *args], capture_output=True, text=True,
                          env=server_env(home, env), timeout=timeout)


def edit_turn(workspace: Path, home: Path, model: ScriptedModelServer, new: str) -> None:
    model.set_script([{"tool_calls": [{"name": "edit_file", "arguments": {
        "path": "calc.py", "old_text": "return a - b", "new_text": new}}]}, {"text": "done"}])
    done = cli(home, "run", "fix add", "--workspace", str(workspace), "--permission-mode", "auto")
    assert "checkpoint" in done.stderr and new in (workspace / "calc.py").read_text(), done.stderr


def test_rewind_exit_codes_and_bad_steps(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    ws = ["--workspace", str(workspace)]
    edit_turn(workspace, home, model, "return a + b")
    for bad in ("0", "-3", "x"):
        out = cli(home, "rewind", "--steps", bad, *ws)
        assert out.returncode == 2 and "--steps" in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert "return a + b" in (workspace / "calc.py").read_text()  # nothing was rewound
    out = cli(home, "rewind", "--turn", "no-such-turn", "--preview", *ws)
    assert out.returncode == 2 and "unknown turn no-such-turn" in out.stderr, out.stderr
    # the user changes the agent's line: a conflict, left out, and the command says so with exit 1
    calc = workspace / "calc.py"
    calc.write_text(calc.read_text().replace("return a + b", "return a + b + 0  # mine"))
    mine = calc.read_bytes()
    out = cli(home, "rewind", *ws)
    assert out.returncode == 1, out.stdout
    assert out.stdout.endswith("\nnot applied: 1 file left out, 1 in conflict (--force writes conflict markers)\n"), \
        out.stdout  # one sentence, "not applied" said once
    assert calc.read_bytes() == mine
    data = json.loads(cli(home, "rewind", "--json", *ws).stdout)
    assert data["applied"] is False and "conflict" in data["reason"]


def test_missing_api_key_refuses_the_task(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    write_config(workspace, model, providers=(
        f'[[providers]]\nname = "cloud"\nkind = "anthropic"\nbaseUrl = "{model.base_url}"\n'
        'model = "m"\napiKeyEnv = "MINICODE_TEST_UNSET_KEY"\n'))
    env = {k: v for k, v in os.environ.items() if k != "MINICODE_TEST_UNSET_KEY"}
    os.environ.pop("MINICODE_TEST_UNSET_KEY", None)
    out = cli(tmp_path / "home", "run", "hello", "--workspace", str(workspace), env=env)
    assert out.returncode == 2 and "MINICODE_TEST_UNSET_KEY" in out.stderr and "not set" in out.stderr, out.stderr
    assert model.model_requests == []  # nothing was sent without the key
    listed = cli(tmp_path / "home", "sessions", "list", "--json", "--workspace", str(workspace))
    assert json.loads(listed.stdout)["sessions"] == []


def test_warnings_are_plain_lines_once(workspace: Path, tmp_path: Path) -> None:
    (workspace / ".minicode.toml").write_text("[[providers]\n", encoding="utf-8")  # a TOML syntax error
    out = cli(tmp_path / "home", "readiness", "--no-probe", "--workspace", str(workspace))
    warnings = [line for line in out.stderr.splitlines() if line.startswith("minicode-lsp: warning:")]
    assert warnings and len(warnings) == len(set(warnings)), out.stderr
    assert "Traceback" not in out.stderr and " WARNING " not in out.stderr, out.stderr


def test_tcp_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        out = cli(tmp_path / "home", "serve", "--tcp", "--port", str(port), timeout=30)
    assert out.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and "listening" not in out.stderr


def test_output_piped_into_a_closed_reader(workspace: Path, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "minicode_lsp", "--help"]
    proc = subprocess.run(f"{' '.join(cmd)} | head -c 10 >/dev/null; "
                          f"{sys.executable} -m minicode_lsp sessions list --workspace {workspace} --json "
                          "| head -c 1 >/dev/null", shell=True, capture_output=True, text=True,
                          env=server_env(tmp_path / "home"), timeout=60)
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_counts_are_worded_in_the_singular_and_the_plural(workspace: Path, model: ScriptedModelServer,
                                                           tmp_path: Path) -> None:
    """"1 file", "2 turns": no "file(s)" in what the CLI says."""
    home = tmp_path / "home"
    ws = ["--workspace", str(workspace)]
    edit_turn(workspace, home, model, "return a + b")
    listed = cli(home, "sessions", "list", *ws)
    preview = cli(home, "rewind", "--preview", *ws)
    said = listed.stdout + preview.stdout
    assert " 1 turn " in listed.stdout, listed.stdout
    assert "1 file, 0 conflicts" in preview.stdout, preview.stdout
    assert "(s)" not in said, said


def test_plural() -> None:
    from minicode_lsp.wording import plural
    assert [plural(0, "file"), plural(1, "file"), plural(2, "file"), plural(1, "entry", "entries"),
            plural(3, "entry", "entries")] == ["0 files", "1 file", "2 files", "1 entry", "3 entries"]


def test_a_blocked_turn_says_why(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    """Without a terminal, ask mode runs as plan mode; an agent that insists on editing is
    blocked, and the stop line says why and what to do."""
    write_config(workspace, model, mode="ask")
    edit = {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"}}
    model.set_script([{"tool_calls": [edit]}, {"tool_calls": [edit]}, {"text": "unreachable"}])
    out = cli(tmp_path / "home", "run", "fix add", "--workspace", str(workspace))
    assert out.returncode == 1, out.stderr
    assert "minicode-lsp: turn stopped: blocked: plan mode is read-only and the agent tried twice" in out.stderr, out.stderr
    assert "--permission-mode auto" in out.stderr and "return a - b" in (workspace / "calc.py").read_text()


def test_a_turn_out_of_steps_says_so_in_words_and_how_to_go_on(workspace: Path, model: ScriptedModelServer,
                                                                tmp_path: Path) -> None:
    """The stop line says the reason in words (not `max_steps`), why, and the command that goes on."""
    from ..trusting import allow_workspace_config

    write_config(workspace, model, mode="auto")
    cfg = workspace / ".minicode.toml"
    cfg.write_text(cfg.read_text().replace('permissionMode = "auto"', 'permissionMode = "auto"\nmaxSteps = 2'))
    allow_workspace_config(workspace)
    model.set_script([{"tool_calls": [{"name": "list_files", "arguments": {}}]}] * 4)
    out = cli(tmp_path / "home", "run", "look around", "--workspace", str(workspace))
    assert out.returncode == 1, out.stderr
    sid = json.loads(cli(tmp_path / "home", "sessions", "list", "--json", "--workspace", str(workspace)).stdout)[
        "sessions"][0]["id"]
    assert "turn finished: step budget used up" in out.stderr and "max_steps" not in out.stderr, out.stderr
    assert ("minicode-lsp: turn stopped: step budget used up: the agent used this turn's whole budget of 2 steps "
            "without finishing") in out.stderr, out.stderr
    assert f'go on in this session with: minicode-lsp run "continue" --session {sid}' in out.stderr, out.stderr


def test_answers_piped_on_stdin_are_not_read(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    """ask mode needs a terminal: asked for explicitly with a pipe, it is refused before the turn
    (before, every question was answered "no" and the turn ended as if the user had declined)."""
    edit = {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"}}
    model.set_script([{"tool_calls": [edit]}, {"text": "done"}])
    out = subprocess.run([sys.executable, "-m", "minicode_lsp", "run", "fix add", "--permission-mode", "ask",
                          "--workspace", str(workspace)], input="y\n", capture_output=True, text=True,
                         env=server_env(tmp_path / "home"), timeout=60)
    assert out.returncode == 2, out.stderr
    assert "minicode-lsp: error: --permission-mode ask needs a terminal" in out.stderr, out.stderr
    assert "answers piped on stdin are not read" in out.stderr and "--permission-mode auto" in out.stderr
    assert model.model_requests == [] and "return a - b" in (workspace / "calc.py").read_text()


def test_a_script_that_ends_after_an_edit(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    """The scripted model's replies run out after an edit: it answers "done" (twice: once more
    when asked to check the edit), each on a line of its own, and the turn ends
    verification_failed with why."""
    edit = {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"}}
    model.set_script([{"tool_calls": [edit]}])
    out = cli(tmp_path / "home", "run", "fix add", "--workspace", str(workspace))
    assert out.returncode == 1, out.stderr
    assert "donedone" not in out.stderr and "\ndone\ndone\n" in out.stderr, out.stderr
    assert "turn stopped: not verified: the agent changed calc.py but never checked the result" in out.stderr
