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
from .config import ConfigLoader
from .console import EventPrinter, color_diff
from .service import HeadlessFrontend, Service
from .testing.model_server import ScriptedModelServer
from .wording import plural

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


def _config(root: Path, base_url: str, store: Path, trust_base: Path | None) -> None:
    """The demo project's .minicode.toml, allowed exactly as written (MiniCode wrote it, in a
    folder it just made, as `minicode-lsp trust --yes` would). ``trust_base``: the folder of the
    trust file that records the allow; None for the user's own (only for a kept project)."""
    path = root / ".minicode.toml"
    path.write_text(
        "# written by `minicode-lsp demo`: the model is scripted\n"
        f'[[providers]]\nname = "scripted-demo"\nkind = "openai"\nbaseUrl = "{base_url}"\nmodel = "scripted"\n\n'
        f'[agent]\npermissionMode = "auto"\n\n[store]\npath = "{store}"\n',
        encoding="utf-8",
    )
    trust.allow(path, trust.content_hash(path.read_bytes()), base=trust_base)


async def run_demo(*, keep: bool = False) -> int:
    """Without ``keep`` nothing outlives the demo: the project, its store and the allow of its
    .minicode.toml (recorded in the temporary folder, never in the user's trust file) go with
    the temporary folder. With ``keep`` the allow goes in the user's trust file, so the CLI
    works on the kept project, and the demo says so."""
    out = sys.stdout
    tmp = Path(tempfile.mkdtemp(prefix="minicode-demo-"))
    root = tmp / "project"
    trust_base = None if keep else tmp / "trust"
    ok = False
    try:
        shutil.copytree(SAMPLE, root, ignore=shutil.ignore_patterns("__pycache__"))
        with ScriptedModelServer(script(sys.executable)) as model:
            _config(root, model.openai_base_url, tmp / "store", trust_base)
            out.write("MiniCode demo. The model is SCRIPTED (a fake OpenAI-compatible server on "
                      f"{model.base_url}); the agent, tools, checkpoints, sessions and rewind are real.\n")
            out.write(f"project: {root}" + ("" if keep else " (temporary: removed at the end)")
                      + f"\nprompt:  {PROMPT}\n\n")
            ok = await _run(out, root, model, keep=keep, trust_base=trust_base)
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    if not keep:
        out.write("(the project and its sessions were removed; run `minicode-lsp demo --keep` to keep them "
                  "and try the CLI on them)\n")
    return 0 if ok else 1


async def _run(out: Any, root: Path, model: ScriptedModelServer, *, keep: bool, trust_base: Path | None) -> bool:
    printer = EventPrinter(out)
    svc = Service(root, HeadlessFrontend(interactive=False, on_publish=printer),
                  loader=ConfigLoader(trust_base=trust_base), watch=False)
    try:
        ids = svc.tasks.run(p.TaskRunArgs(prompt=PROMPT))
        await svc.tasks.wait_idle()
        finished = printer.finished
        out.write(f"\nanswer: {finished.get('text', '')}\n")
        out.write(f"model requests made over HTTP: {len(model.model_requests)}\n\n")
        groups = svc.rewind.list_checkpoints(p.CheckpointListArgs(session_id=ids.session_id)).groups
        out.write(f"checkpoints recorded: {plural(len(groups), 'edit group')}\n")
        preview = svc.rewind.preview(p.RewindPreviewArgs(session_id=ids.session_id,
                                                         target=p.RewindTarget(session=True)))
        out.write("rewind preview of the whole session (nothing applied):\n")
        for f in preview.files:
            name = _relative(Path(f.path), svc.workspace.root)
            whole = str(f.path).lstrip("/")  # the diff's a/ b/ labels, relative as git shows them
            out.write(f"  {f.status:<8} {f.action:<8} {name}\n")
            out.write(color_diff(f.diff.replace(f"a/{whole}", f"a/{name}").replace(f"b/{whole}", f"b/{name}")) + "\n")
        if keep:
            exe = shutil.which("minicode-lsp") and "minicode-lsp" or str(Path(sys.argv[0]).resolve())
            out.write(f"\nsession {ids.session_id} is in {svc.workspace.store_dir}\n"
                      f"the project's .minicode.toml is allowed in {trust.trust_file()} (undo: "
                      f"{exe} trust --revoke --workspace {root})\n"
                      f"try: {exe} sessions list --workspace {root}\n"
                      f"     {exe} rewind --all --preview --workspace {root}\n"
                      "(the scripted model server stops with the demo: sessions, checkpoints and rewind\n"
                      " work on the kept project; to run new tasks there, point its .minicode.toml at a\n"
                      " model, see docs/configuration.md)\n")
        return finished.get("stopReason") == "done"
    finally:
        await svc.shutdown()
        svc.close()


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name
