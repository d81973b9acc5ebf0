"""Finding 6: secrets stay secret: a key echoed in part by a vendor is redacted in logs and the
store, and secret files (.env, keys) are neither read by the agent nor kept in checkpoints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from minicode_lsp.agent.secrets import SecretScrubber
from minicode_lsp.store.redact import REDACTED, Redactor
from minicode_lsp.testing.model_server import ScriptedModelServer

from ..e2e.harness import server_env
from ..trusting import allow_workspace_config
from ..unit.agent.fakes import make_ports, run_tool

KEY = "Zq7pX1c9Lm2Nb8Vt4Rw6Ys0Ua3Ie5Oo7Kd1Fh"
ENV_SECRET = "DATABASE_PASSWORD=hunter2-correct-horse-battery"


def test_prefixes_and_vendor_masked_forms_are_redacted() -> None:
    r = Redactor([KEY])
    for leaked in (f"Incorrect API key provided: Bearer {KEY[:20]}...",
                   f"Incorrect API key provided: {KEY[:20]}",
                   f"key {KEY[:8]}********************{KEY[-4:]} refused",
                   f"you sent ****************{KEY[-4:]}.",
                   f"token {KEY[:12]}… is invalid"):
        out = r.text(leaked)
        assert KEY[:8] not in out and KEY[-4:] not in out, out
        assert REDACTED in out
    assert r.text("an unrelated Zq7 word") == "an unrelated Zq7 word"  # under 8 characters: left alone
    assert SecretScrubber([KEY]).scrub(f"x {KEY[:9]} y", "***") == "x *** y"


def _write(root: Path, model: ScriptedModelServer, store: Path) -> None:
    (root / ".minicode.toml").write_text(
        f'[[providers]]\nname = "vendor"\nkind = "openai"\nbaseUrl = "{model.openai_base_url}"\n'
        f'model = "scripted"\napiKeyEnv = "MINICODE_TEST_VENDOR_KEY"\nmaxRetries = 0\ntimeoutS = 5\n'
        f'[agent]\npermissionMode = "auto"\n[store]\npath = "{store}"\n', encoding="utf-8")
    allow_workspace_config(root)


def _run(tmp_path: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "minicode_lsp", "-vv", "run", "go", "--workspace", str(root), *args],
                          capture_output=True, text=True, timeout=120,
                          env=server_env(tmp_path / "home", {"MINICODE_TEST_VENDOR_KEY": KEY}))


def _store_bytes(store: Path) -> bytes:
    return b"".join(p.read_bytes() for p in store.rglob("*") if p.is_file())


def test_a_401_body_echoing_the_key_is_not_logged_or_stored(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    store = tmp_path / "store"
    with ScriptedModelServer() as model:
        model.set_script([{"fault": "401", "message": f"Incorrect API key provided: Bearer {KEY[:20]}..."}])
        _write(root, model, store)
        out = _run(tmp_path, root)
    assert "401" in out.stderr or "API key" in out.stderr, out.stderr  # the error was reported...
    assert KEY[:8] not in out.stderr and KEY[:8] not in out.stdout, out.stderr  # ...without the key
    assert KEY[:8].encode() not in _store_bytes(store)


def test_secret_files_are_not_read_and_not_kept_in_checkpoints(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / ".env").write_text(ENV_SECRET + "\n")
    (root / "deploy.pem").write_text("-----BEGIN PRIVATE KEY-----\nhunter2-correct-horse-battery\n")
    store = tmp_path / "store"
    with ScriptedModelServer() as model:
        model.set_script([
            {"tool_calls": [{"name": "read_file", "arguments": {"path": ".env"}}]},
            {"tool_calls": [{"name": "search", "arguments": {"pattern": "DATABASE_PASS|BEGIN PRIV"}}]},
            {"tool_calls": [{"name": "run_command", "arguments": {"command": "echo EXTRA=1 >> .env; touch new.txt"}}]},
            {"text": "done"},
        ])
        _write(root, model, store)
        out = _run(tmp_path, root)
        sent = b"".join(str(r.body).encode() for r in model.model_requests)
    assert "secret-file" in out.stderr or "agent.secretFiles" in out.stderr, out.stderr
    assert b"hunter2" not in sent  # never sent to the model
    assert b"hunter2" not in _store_bytes(store)  # nor kept in any store file (blobs, events)
    assert (root / ".env").read_text().endswith("EXTRA=1\n")  # the command itself ran


async def test_the_deny_list_is_configurable_and_case_blind(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / ".ENV.local").write_text("X=1\n")
    (ws / "id_map.py").write_text("ids = {}\n")
    fake = make_ports(ws)
    fake.ports.secret_files = [".env*", "*.pem"]
    assert (await run_tool(fake, "read_file", path=".ENV.local")).is_error
    assert not (await run_tool(fake, "read_file", path="id_map.py")).is_error
    fake.ports.secret_files = []  # the user allowed them
    assert not (await run_tool(fake, "read_file", path=".ENV.local")).is_error
