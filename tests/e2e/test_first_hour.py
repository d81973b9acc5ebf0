"""Small things a newcomer meets in the first hour: a blank prompt, a mistyped MINICODE_CONFIG,
the JSONL export's last line, and the scripted model server as a subcommand."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from minicode_lsp.testing.model_server import ScriptedModelServer

from .harness import server_env
from .test_cli import cli


def test_blank_prompt_and_missing_user_config(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    ws = ["--workspace", str(workspace)]
    out = cli(home, "run", "  \t ", *ws)
    assert out.returncode == 2 and "minicode-lsp: error: the prompt is blank" in out.stderr, out.stderr
    assert model.model_requests == []
    assert json.loads(cli(home, "sessions", "list", "--json", *ws).stdout)["sessions"] == []
    # harness.server_env points MINICODE_CONFIG at a file that does not exist (yet)
    out = cli(home, "readiness", "--no-probe", *ws)
    assert f"minicode-lsp: warning: MINICODE_CONFIG names {home / 'user-config.toml'}, which does not exist" \
        in out.stderr, out.stderr


def test_jsonl_export_has_no_empty_line(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    ws = ["--workspace", str(workspace)]
    model.set_script([{"text": "hello"}])
    sid = json.loads(cli(home, "run", "say hello", "--json", *ws).stdout)["sessionId"]
    out = cli(home, "sessions", "export", sid[:8], "--format", "jsonl", *ws)
    assert out.returncode == 0 and out.stdout.endswith("}\n"), repr(out.stdout[-40:])
    assert all(json.loads(line) for line in out.stdout.split("\n")[:-1])  # every line is a record


def test_model_server_subcommand(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text('[{"text": "scripted hello"}]', encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "minicode_lsp", "model-server", "--script", str(script)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=server_env(tmp_path / "home"))
    try:
        ready = proc.stdout.readline() if proc.stdout else ""
        assert ready.startswith("READY http://127.0.0.1:"), ready
        base = ready.split()[1]
        with urllib.request.urlopen(f"{base}/v1/models", timeout=10) as resp:
            assert "scripted" in resp.read().decode()
        body = json.dumps({"model": "scripted", "messages": [{"role": "user", "content": "hi"}]}).encode()
        request = urllib.request.Request(f"{base}/v1/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert "scripted hello" in resp.read().decode()
        for _ in range(2):  # past the script's end: "done", and the terminal is told once
            with urllib.request.urlopen(request, timeout=10) as resp:
                assert '"done"' in resp.read().decode()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 130
        err = proc.stderr.read() if proc.stderr else ""
        assert "Traceback" not in err and err.count("the script has no replies left") == 1, err
    finally:
        proc.kill()
        proc.wait()


def test_a_provider_error_is_printed_once(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    model.set_script([{"fault": "500"}] * 4)
    out = cli(tmp_path / "home", "run", "hello", "--permission-mode", "auto", "--workspace", str(workspace))
    assert out.returncode == 1 and "turn stopped: provider error" in out.stderr, out.stderr
    assert out.stderr.count("scripted HTTP 500") == 1, out.stderr  # not the log line, the event and the stop line


def test_an_unknown_id_is_echoed_as_typed(workspace: Path, tmp_path: Path) -> None:
    """Ids are stored upper case and taken back in any case; an error names what the user typed."""
    home = tmp_path / "home"
    ws = ["--workspace", str(workspace)]
    for args, said in ((("sessions", "show", "nope"), "no session matches 'nope'"),
                       (("rewind", "--session", " nope "), "no session matches 'nope'"),
                       (("memory", "remove", "nope"), "no memory entry nope"),
                       (("rewind", "--turn", "nope", "--preview"), "unknown turn nope")):
        out = cli(home, *args, *ws)
        assert out.returncode == 2 and said in out.stderr and "NOPE" not in out.stderr, (args, out.stderr)


def test_a_wrong_model_name_says_how_to_choose_one(workspace: Path, model: ScriptedModelServer,
                                                   tmp_path: Path) -> None:
    """Readiness and a failed turn both name the model and say how to list the server's models."""
    from .conftest import write_config

    home = tmp_path / "home"
    ws = ["--workspace", str(workspace)]
    write_config(workspace, model, providers=(
        f'[[providers]]\nname = "oai"\nkind = "openai"\nbaseUrl = "{model.openai_base_url}"\nmodel = "gpt-9"\n'
        'maxRetries = 0\n'))
    out = cli(home, "readiness", "--json", *ws)
    check = next(c for c in json.loads(out.stdout)["checks"] if c["name"] == "provider:oai")
    assert "'gpt-9' is not listed" in check["detail"] and "scripted" in check["detail"], check
    assert check["fix"] == (f"GET {model.openai_base_url}/models lists every model this server offers: "
                            "set model in [[providers]] 'oai' to one of them"), check
    model.set_script([{"fault": "404", "message": "The model `gpt-9` does not exist or you do not have access to it."}])
    out = cli(home, "run", "hello", "--permission-mode", "auto", *ws)
    assert out.returncode == 1, out.stderr
    assert (f"the model 'gpt-9' is not available here: GET {model.openai_base_url}/models lists the models "
            "this server offers") in out.stderr, out.stderr


def test_the_demo_leaves_nothing_behind(tmp_path: Path) -> None:
    """`minicode-lsp demo` (what `make demo` runs): no entry in the user's trust file for a
    temporary folder, and no path printed that is gone when it ends; with --keep the allow is
    the user's and the demo says where it is and how to undo it."""
    import re
    import shutil

    home = tmp_path / "home"
    trusted = home / "state" / "minicode-lsp" / "trusted.json"
    out = cli(home, "demo", timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert not trusted.exists() or json.loads(trusted.read_text())["allowed"] == {}, trusted.read_text()
    shown = re.findall(r"/\S*minicode-demo-[^\s/)]+[^\s)]*", out.stdout)
    assert shown and all("(temporary: removed at the end)" in line for line in out.stdout.splitlines()
                          if any(p in line for p in shown)), out.stdout  # only named as temporary
    assert "checkpoints recorded: 2 edit groups" in out.stdout, out.stdout
    kept = cli(home, "demo", "--keep", timeout=120)
    root = Path(re.findall(r"^project: (\S+)", kept.stdout, re.M)[0])
    try:
        assert kept.returncode == 0 and root.is_dir(), kept.stdout
        assert list(json.loads(trusted.read_text())["allowed"]) == [str(root / ".minicode.toml")]
        assert f"trust --revoke --workspace {root}" in kept.stdout, kept.stdout
        listed = cli(home, "sessions", "list", "--json", "--workspace", str(root))
        assert len(json.loads(listed.stdout)["sessions"]) == 1, listed.stdout + listed.stderr
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)


def test_a_user_config_in_or_around_the_workspace_is_warned_about(workspace: Path, tmp_path: Path) -> None:
    """MINICODE_CONFIG inside the workspace, or in a folder holding it: the workspace could change
    the user's always-trusted config, and the agent's file tools would refuse its files."""
    home = tmp_path / "home"
    ws = ["--workspace", str(workspace)]

    def check(config: Path) -> dict | None:
        out = cli(home, "readiness", "--no-probe", "--json", *ws, env={"MINICODE_CONFIG": str(config)})
        report = json.loads(out.stdout)
        return next((c for c in report["checks"] if c["name"] == "user-config"), None)

    assert check(home / "user-config.toml") is None  # beside the workspace: nothing to say
    inside = check(workspace / "conf" / "minicode.toml")
    assert inside and inside["status"] == "warn" and f"inside this workspace ({workspace})" in inside["detail"], inside
    assert f"refuse every file in {workspace / 'conf'}" in inside["detail"] and "MINICODE_CONFIG there" in inside["fix"]
    around = check(tmp_path / "minicode.toml")
    assert around and f"in {tmp_path}, a folder that holds this workspace" in around["detail"], around
    assert "refuse every file of this workspace" in around["detail"], around
    # a turn run from the terminal says it first: its refusals would otherwise come unexplained
    ran = cli(home, "run", *ws, "--permission-mode", "plan", "what is in main.py?",
              env={"MINICODE_CONFIG": str(tmp_path / "minicode.toml")})
    said = [line for line in ran.stderr.splitlines() if "a folder that holds this workspace" in line]
    assert len(said) == 1 and said[0].startswith("minicode-lsp: warning: MINICODE_CONFIG names") \
        and "MINICODE_CONFIG there" in said[0], ran.stderr
    assert "Traceback" not in ran.stderr, ran.stderr
