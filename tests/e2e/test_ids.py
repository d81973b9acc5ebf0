"""Every id the CLI prints is taken back (any unique prefix); ``rewind --latest`` says what it
picked, looks past sessions with nothing to rewind, and says so (exit 1) when nothing is left."""

from __future__ import annotations

import json
import re
from pathlib import Path

from minicode_lsp.testing.model_server import ScriptedModelServer

from .test_cli import cli

EDIT = {"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"}}


def test_printed_ids_are_accepted_back(workspace: Path, model: ScriptedModelServer, tmp_path: Path) -> None:
    home = tmp_path / "home"
    ws = ["--workspace", str(workspace)]
    model.set_script([{"tool_calls": [EDIT]}, {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
                      {"text": "fixed"}])
    edited = cli(home, "run", "fix add", "--json", "--permission-mode", "auto", *ws)
    assert edited.returncode == 0, edited.stderr
    turn = json.loads(edited.stdout)["turnId"]
    short_group = re.search(r"checkpoint (\w{8}):", edited.stderr)
    assert short_group, edited.stderr  # the 8-character group id the timeline prints
    listed = cli(home, "checkpoints", *ws).stdout.split()[0]  # the 12-character one `checkpoints` prints
    assert len(listed) == 12 and listed.startswith(short_group[1])
    model.set_script([{"text": "a question, no edits"}])
    assert cli(home, "run", "what does mul do?", "--permission-mode", "auto", *ws).returncode == 0

    for target in (["--to", short_group[1]], ["--to", listed.upper()], ["--turn", turn[:8]], ["--turn", turn[:10].lower()]):
        out = cli(home, "rewind", *target, "--preview", "--json", *ws)
        assert out.returncode == 0, (target, out.stderr)
        assert [f["path"].endswith("calc.py") for f in json.loads(out.stdout)["files"]] == [True], out.stdout
    out = cli(home, "rewind", "--to", "zz", "--preview", *ws)
    assert out.returncode == 2 and "unknown group zz" in out.stderr and "Traceback" not in out.stderr

    # --latest: the newest session (the question) has nothing to rewind; the one before has
    out = cli(home, "rewind", "--latest", *ws)
    assert out.returncode == 0 and "applied" in out.stdout, out.stdout + out.stderr
    assert f"rewinding group {listed}" in out.stderr and "(fix add)" in out.stderr, out.stderr
    assert "return a - b" in (workspace / "calc.py").read_text()
    out = cli(home, "rewind", *ws)
    assert out.returncode == 1 and "nothing to rewind" in out.stderr, out.stdout + out.stderr
