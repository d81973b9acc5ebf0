"""`minicode-lsp demo`: a real agent task, through the real HTTP path, against a scripted model.

The model is scripted (minicode_lsp.testing.model_server on 127.0.0.1): it reads a file,
fixes a bug, adds a test, runs the tests and answers. Everything else is the real thing:
the provider client, the loop, the tools, checkpoints, the session store and rewind.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import protocol as p
from . import trust
from .console import EventPrinter, color_diff
from .service import HeadlessFrontend, Service
from .testing.model_server import ScriptedModelServer

SAMPLE = Path(__file__).parent / "testing" / "sample_project"
PROMPT = "The add() function in calc.py is wrong. Fix it, add a test for it, and run the tests."


def script(python: str) -> list[dict[str, Any]]:
    return [
        {"text": "Let me look at calc.py first.",
         "tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
        {"text": "add() subtracts. Fixing it.",
         "tool_calls": [{"name": "edit_file", "arguments": {
             "path": "calc.py", "old_text": "    return a - b", "new_text": "    return a + b"}}]},
        {"text": "Adding a test for add().",
         "tool_calls": [{"name": "edit_file", "arguments": {
             "path": "test_calc.py",
             "old_text": "    def test_mean(self):",
             "new_text": "    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n    def test_mean(self):"}}]},
        {"text": "Running the tests.",
         "tool_calls": [{"name": "run_command", "arguments": {"command": f"{python} -m unittest -q"}}]},
        {"text": "Fixed: add() now returns a + b (it subtracted), added test_add, and the tests pass."},
    ]


def _config(root: Path, base_url: str, store: Path) -> None:
    path = root / ".minicode.toml"
    path.write_text(
        "# written by `minicode-lsp demo`: the model is scripted\n"
        f'[[providers]]\nname = "scripted-demo"\nkind = "openai"\nbaseUrl = "{base_url}"\nmodel = "scripted"\n\n'
        f'[agent]\npermissionMode = "auto"\n\n[store]\npath = "{store}"\n',
        encoding="utf-8",
    )
    # MiniCode wrote this file in a folder it just made: it allows exactly this content
    # (workspace trust), as `minicode-lsp trust --yes` would
    trust.allow(path, trust.content_hash(path.read_bytes()))


async def run_demo(*, keep: bool = False) -> int:
    out = sys.stdout
    tmp = Path(tempfile.mkdtemp(prefix="minicode-demo-"))
    root = tmp / "project"
    shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
    with ScriptedModelServer(script(sys.executable)) as model:
        _config(root, model.openai_base_url, tmp / "store")
        out.write("MiniCode demo. The model is SCRIPTED (a fake OpenAI-compatible server on "
                  f"{model.base_url}); the agent, tools, checkpoints, sessions and rewind are real.\n")
        out.write(f"project: {root}\nprompt:  {PROMPT}\n\n")
        printer = EventPrinter(out)
        svc = Service(root, HeadlessFrontend(interactive=False, on_publish=printer), watch=False)
        try:
            ids = svc.tasks.run(p.TaskRunArgs(prompt=PROMPT))
            await svc.tasks.wait_idle()
            finished = printer.finished
            out.write(f"\nanswer: {finished.get('text', '')}\n")
            out.write(f"model requests made over HTTP: {len(model.model_requests)}\n\n")
            groups = svc.rewind.list_checkpoints(p.CheckpointListArgs(session_id=ids.session_id)).groups
            out.write(f"checkpoints recorded: {len(groups)} edit group(s)\n")
            preview = svc.rewind.preview(p.RewindPreviewArgs(session_id=ids.session_id,
                                                             target=p.RewindTarget(session=True)))
            out.write("rewind preview of the whole session (nothing applied):\n")
            for f in preview.files:
                out.write(f"  {f.status:<8} {f.action:<8} {Path(f.path).name}\n")
                out.write(color_diff(f.diff) + "\n")
            out.write(f"\nsession {ids.session_id} is in {svc.workspace.store_dir}\n")
            exe = shutil.which("minicode-lsp") and "minicode-lsp" or str(Path(sys.argv[0]).resolve())
            if keep:
                out.write(f"try: {exe} sessions list --workspace {root}\n"
                          f"     {exe} rewind --all --preview --workspace {root}\n"
                          "(the scripted model server stops with the demo: sessions, checkpoints and rewind\n"
                          " work on the kept project; to run new tasks there, point its .minicode.toml at a\n"
                          " model, see docs/configuration.md)\n")
            ok = finished.get("stopReason") == "done"
        finally:
            await svc.shutdown()
            svc.close()
    if not keep:
        out.write("(the project was removed; run `minicode-lsp demo --keep` to keep it and try the CLI on it)\n")
        trust.revoke(root / ".minicode.toml")
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1
