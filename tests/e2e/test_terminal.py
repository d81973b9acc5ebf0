"""A newcomer's first hour in the terminal, with the real ``minicode-lsp`` process:
the workspace found from a subfolder, approvals answered through a real pty, Ctrl-C."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import write_config
from .harness import server_env

EDIT = {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"}}
EDIT2 = {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "return a + b", "new_text": "return b + a"}}
COMMAND = {"name": "run_command", "arguments": {"command": "echo approved-command-ran"}}


def cli(home: Path, *args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "minicode_lsp", *args], capture_output=True, text=True,
                          env=server_env(home), cwd=cwd, timeout=timeout)


class Pty:
    """The CLI on a real pseudo-terminal: what a person types, what they see."""

    def __init__(self, home: Path, cwd: Path, *args: str, extra_env: dict[str, str] | None = None) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: become the CLI
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "minicode_lsp", *args],
                      server_env(home, {"TERM": "xterm", **(extra_env or {})}))
        self.screen = ""
        self.mark = 0
        self.status: int | None = None

    def read_until(self, text: str, timeout: float = 60) -> str:
        """Reads until ``text`` appears after what the previous call found."""
        end = time.monotonic() + timeout
        while text not in self.screen[self.mark:]:
            if time.monotonic() > end or not self._read(end - time.monotonic()):
                raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen}")
        self.mark = self.screen.index(text, self.mark) + len(text)
        return self.screen

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], max(0.0, min(timeout, 0.5)))
        if ready:
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # the child has gone and closed the terminal
                return False
            if not data:
                return False
            self.screen += data.decode("utf-8", "replace").replace("\r\n", "\n")
        return True

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def wait(self, timeout: float = 60) -> int:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                while self._read(0.05):
                    pass
                os.close(self.fd)
                self.status = os.waitstatus_to_exitcode(status)
                return self.status
            self._read(0.05)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        raise AssertionError(f"still running after {timeout} s; the screen:\n{self.screen}")


def test_a_subfolder_is_the_same_workspace(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    model.set_script([{"text": "hello from the root"}])
    first = cli(home, "run", "say hello", "--permission-mode", "auto", cwd=workspace)
    assert first.returncode == 0, first.stderr
    deep = workspace / "src" / "deep"
    deep.mkdir(parents=True)
    listed = cli(home, "sessions", "list", "--json", cwd=deep)
    assert listed.returncode == 0, listed.stderr
    assert [s["title"] for s in json.loads(listed.stdout)["sessions"]] == ["say hello"], listed.stdout
    assert f"minicode-lsp: workspace {workspace}" in listed.stderr  # said, since it is not the current folder
    assert "workspace" not in first.stderr.split("turn started")[0]  # run from the root: nothing to say
    here = cli(home, "sessions", "list", "--json", "--workspace", ".", cwd=deep)  # --workspace overrides
    assert json.loads(here.stdout)["sessions"] == [] and "workspace" not in here.stderr, here.stderr
    # without a .minicode.toml the nearest .git decides
    plain = tmp_path / "plain"
    (plain / ".git").mkdir(parents=True)
    (plain / "lib").mkdir()
    found = cli(home, "readiness", "--no-probe", "--json", cwd=plain / "lib")
    assert f"minicode-lsp: workspace {plain}\n" in found.stderr, found.stderr
    assert json.loads(found.stdout)["checks"][-2]["detail"].startswith(f"{plain} is writable")
    # a .minicode.toml above a repository (one left in the home folder) does not take it over
    (tmp_path / ".minicode.toml").write_text("[agent]\n", encoding="utf-8")
    inner = cli(home, "readiness", "--no-probe", "--json", cwd=plain / "lib")
    assert f"minicode-lsp: workspace {plain}\n" in inner.stderr, inner.stderr


def test_approvals_through_a_terminal(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    """y/n/a/d in any case or as numbers; the diff before an edit; each answer shown once."""
    write_config(workspace, model, mode="ask")
    model.set_script([{"tool_calls": [EDIT]}, {"tool_calls": [COMMAND]}, {"tool_calls": [COMMAND]},
                      {"tool_calls": [EDIT2]}, {"text": "all done"}])
    term = Pty(tmp_path / "home", workspace, "run", "fix add", extra_env={"NO_COLOR": "1"})
    screen = term.read_until("[d]iff: ")
    before = screen[screen.index("turn started"):]
    assert "-    return a - b" in before and "+    return a + b" in before, screen  # the diff comes first
    assert "[y]es / [n]o / [a]lways for this session / [d]iff" in before and "\033[" not in before  # NO_COLOR
    term.type("D\n")  # shows the diff again, then asks again
    term.read_until("[d]iff: ", timeout=30)
    assert term.screen.count("+    return a + b") == 2
    term.type("Y\n")
    term.read_until("-> ")
    term.read_until("approved-command-ran [y]es / [n]o / [a]lways for this session: ")
    assert "-> ok: edited calc.py" in term.screen and "-> failed" not in term.screen, term.screen
    assert "return a + b" in (workspace / "calc.py").read_text()
    term.type("1\n")  # once
    term.read_until("approved-command-ran [y]es / [n]o / [a]lways for this session: ", timeout=30)
    assert term.screen.count("MiniCode wants to run: echo approved-command-ran") == 2  # "once" asks again
    term.type("a\n")
    term.read_until("[d]iff: ", timeout=30)  # the second edit: "always" was for the command only
    term.type("2\n")  # no: the turn stops, waiting for the user; their choice, not a failure
    assert term.wait() == 0 and "turn stopped" not in term.screen, term.screen
    sid = json.loads(cli(tmp_path / "home", "sessions", "list", "--json", cwd=workspace).stdout)["sessions"][0]["id"]
    assert ("minicode-lsp: stopped: you declined the edit to calc.py; the agent is waiting for your next message; "
            f'go on with: minicode-lsp run "<your next message>" --session {sid}') in term.screen, term.screen
    assert "return a + b" in (workspace / "calc.py").read_text()  # the declined edit did not land
    lines = term.screen.splitlines()
    for answer in ("D", "Y", "1", "a", "2"):  # the terminal echoed each answer; nothing printed it again
        assert sum(line.strip() == answer or line.endswith(f": {answer}") for line in lines) == 1, term.screen
    assert term.screen.count("all done") == 1, term.screen  # streamed once, not printed again
    assert "Traceback" not in term.screen


def test_always_approves_later_edits(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    write_config(workspace, model, mode="ask")
    model.set_script([{"tool_calls": [EDIT]}, {"tool_calls": [EDIT2]},
                      {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]}, {"text": "done"}])
    term = Pty(tmp_path / "home", workspace, "run", "fix add")
    term.read_until("[d]iff: ")
    term.type("A\n")
    assert term.wait() == 0, term.screen
    assert term.screen.count("[d]iff: ") == 1 and "return b + a" in (workspace / "calc.py").read_text()
    assert "-> failed" not in term.screen and term.screen.count("-> ok: edited calc.py") == 2, term.screen
    assert (workspace / "calc.py").read_text().count("def add") == 1  # each edit landed once
    assert "\033[32m+    return a + b" in term.screen  # colored on a terminal


def test_ctrl_c_at_an_approval_prompt(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    write_config(workspace, model, mode="ask")
    model.set_script([{"tool_calls": [EDIT]}, {"text": "never reached"}])
    term = Pty(home, workspace, "run", "fix add")
    term.read_until("[d]iff: ")
    started = time.monotonic()
    term.type("\x03")  # Ctrl-C, as the terminal sends it
    assert term.wait(timeout=30) == 130, term.screen
    assert time.monotonic() - started < 3.0, term.screen  # 1 s asked; room for a loaded machine
    assert "Traceback" not in term.screen and "return a - b" in (workspace / "calc.py").read_text()
    asked = next(line for line in term.screen.splitlines() if "[d]iff:" in line)
    assert asked.endswith(("[d]iff: ", "[d]iff: ^C")), term.screen  # what follows starts on a line of its own
    listed = json.loads(cli(home, "sessions", "list", "--json", cwd=workspace).stdout)["sessions"]
    assert [s["lastStopReason"] for s in listed] == ["cancelled"], listed


def test_ctrl_c_at_the_trust_question(workspace: Path, tmp_path: Path) -> None:
    (workspace / ".minicode.toml").write_text('[agent]\ntestCommand = "make test"\n', encoding="utf-8")
    term = Pty(tmp_path / "home", workspace, "trust")
    term.read_until("[y/N] ")
    time.sleep(0.5)  # the question is read by then (a Ctrl-C between the prompt and the read waits for Enter)
    term.type("\x03")
    assert term.wait(timeout=30) == 130, term.screen
    asked = next(line for line in term.screen.splitlines() if "[y/N]" in line)
    assert asked.endswith(("[y/N] ", "[y/N] ^C")), term.screen
    assert "minicode-lsp: interrupted\n" in term.screen and "Traceback" not in term.screen, term.screen


def test_bare_command_in_a_terminal_stops_on_ctrl_c(tmp_path: Path) -> None:
    term = Pty(tmp_path / "home", tmp_path, "serve")
    term.read_until("Ctrl-C stops it")
    time.sleep(0.5)
    started = time.monotonic()
    term.type("\x03")
    assert term.wait(timeout=30) == 130, term.screen
    assert time.monotonic() - started < 3.0 and "Traceback" not in term.screen, term.screen


def test_waiting_for_a_silent_model_is_visible(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    model.set_script([{"fault": "delay", "seconds": 4, "text": "late answer"}])
    term = Pty(tmp_path / "home", workspace, "run", "hello", "--permission-mode", "auto")
    term.read_until("waiting for the model", timeout=60)
    term.read_until("... 2 s", timeout=60)
    assert term.wait() == 0, term.screen
    assert "late answer" in term.screen
