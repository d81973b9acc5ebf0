"""Provider chaos: the scripted model injects random faults into turns that edit files and run commands.

Faults: a delay past the provider timeout, 429 with and without Retry-After, 500/503, a
malformed SSE stream, an error event inside a 200 stream, a connection dropped mid-stream
(carrying the same tool call the retry then returns, as a real model would), invalid JSON in
tool arguments and unknown tool names. Checked for every turn: it ends, with an allowed stop
reason; a turn answered by the backup shows its ``provider.fallback``; with no backup, a turn
the primary cannot serve ends ``provider_error``. Across all turns: no command ran twice (each
appends its own token to a ledger), no call with broken arguments ran, and every file that
changed on disk is covered by a checkpoint group.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from . import stats
from .conftest import make_workspace
from .rpc import RawServer

TURNS = int(os.environ.get("MINICODE_CHAOS_TURNS", "24"))
ALLOWED = {"done", "verification_failed", "blocked", "max_steps", "await_user"}


def call(name: str, **arguments: object) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def fault(rng: random.Random, step: dict[str, Any]) -> dict[str, Any]:
    kind = rng.choice(["429", "429-after", "500", "503", "malformed_sse", "stream_error", "drop", "drop",
                       "delay"])
    if kind == "429-after":
        return {"fault": "429", "retry_after": 0}
    if kind == "drop":
        return {"fault": "drop", **step}
    if kind == "delay":
        return {"fault": "delay", "seconds": 1.4}  # the provider's firstTokenTimeoutS is 1
    if kind == "stream_error":
        return {"fault": "stream_error", "status": 529}
    return {"fault": kind}


def turn_script(rng: random.Random, turn: int, faults: float) -> tuple[list[dict[str, Any]], set[str], set[str]]:
    """Replies for one turn, the ledger tokens its commands may write and those that must never appear."""
    replies: list[dict[str, Any]] = []
    tokens: set[str] = set()
    forbidden: set[str] = set()
    for n in range(rng.randint(2, 5)):
        token = f"tok-{turn}-{n}"
        kind = rng.choice(["command", "command", "write", "edit", "read", "unknown", "bad_json"])
        if kind == "command":
            step = {"tool_calls": [call("run_command", command=f"echo {token} >> ledger.txt")]}
            tokens.add(token)
        elif kind == "write":
            step = {"tool_calls": [call("write_file", path=f"chaos/{token}.txt", content=f"{token}\n")]}
        elif kind == "edit":
            step = {"tool_calls": [call("write_file", path="shared.txt", content=f"{token}\n")]}
        elif kind == "read":
            step = {"tool_calls": [call("read_file", path="shared.txt")]}
        elif kind == "unknown":
            step = {"tool_calls": [call(rng.choice(["rm_rf", "execute", "read-file", ""]) or "x", path="a")]}
        else:
            step = {"fault": "invalid_tool_json", "name": "run_command",
                    "arguments": f'{{"command": "echo {token} >> ledger.txt"'}
            forbidden.add(token)
        while rng.random() < faults:
            replies.append(fault(rng, step))
        replies.append(step)
    replies.append({"tool_calls": [call("read_file", path="shared.txt")]})
    replies.append({"text": f"turn {turn} done"})
    return replies, tokens, forbidden


def tree(root: Path) -> dict[str, bytes]:
    return {str(f.relative_to(root)): f.read_bytes() for f in sorted(root.rglob("*")) if f.is_file()}


@pytest.mark.timeout(300)
def test_provider_chaos(tmp_path: Path, model: ScriptedModelServer) -> None:
    rng = random.Random(int(os.environ.get("MINICODE_CHAOS_SEED", str(time.time_ns()))))
    with ScriptedModelServer(reply_fn=lambda body: {"text": "backup answered"}) as backup:
        primary = (f'[[providers]]\nname = "primary"\nkind = "openai"\nbaseUrl = "{model.openai_base_url}"\n'
                   'model = "scripted"\ntimeoutS = 1\nfirstTokenTimeoutS = 1\nmaxRetries = 1\n')
        providers = primary + (f'[[providers]]\nname = "backup"\nkind = "anthropic"\nbaseUrl = "{backup.base_url}"\n'
                               'model = "scripted"\napiKeyEnv = "MINICODE_CHAOS_BACKUP_KEY"\ntimeoutS = 5\n')
        root = make_workspace(tmp_path, model, mode="auto", providers=providers,
                              files={"shared.txt": "start\n", "calc.py": "x = 1\n"})
        initial = tree(root)
        srv = RawServer(root, tmp_path / "home", env={"MINICODE_CHAOS_BACKUP_KEY": "backup-key"})
        tokens: set[str] = set()
        forbidden: set[str] = set()
        sessions: list[str] = []
        reasons: Counter[str] = Counter()
        try:
            srv.initialize()
            for turn in range(TURNS):
                replies, ok_tokens, bad_tokens = turn_script(rng, turn, faults=0.45)
                tokens |= ok_tokens
                forbidden |= bad_tokens
                model.set_script(replies)
                ids = srv.result(p.CMD_TASK_RUN, {"prompt": f"chaos {turn}"})
                sessions.append(ids["sessionId"])
                done = srv.wait_turn(ids["turnId"], timeout=90)
                reasons[f"{done['stopReason']} via {done.get('provider')}"] += 1
                assert done["stopReason"] in ALLOWED, (turn, replies, done)
                events = srv.events(ids["turnId"])
                if done.get("provider") == "backup":
                    assert any(e["type"] == p.EV_PROVIDER_FALLBACK for e in events), events
                for e in events:
                    if e["type"] == p.EV_FILES_CHANGED:
                        assert e["data"].get("groupId"), e
                stats.count("chaos turns")
                stats.count("chaos faults injected", sum(1 for r in replies if "fault" in r))

            # no backup: a primary that keeps failing ends the turn with provider_error
            srv.notify("workspace/didChangeConfiguration", {"settings": {"minicode": {"providers": [
                {"name": "primary", "kind": "openai", "baseUrl": model.openai_base_url, "model": "scripted",
                 "timeoutS": 1, "firstTokenTimeoutS": 1, "maxRetries": 1}]}}})
            for turn in range(TURNS, TURNS + 4):
                step = {"tool_calls": [call("run_command", command=f"echo tok-{turn}-x >> ledger.txt")]}
                model.set_script([fault(rng, step), fault(rng, step), step, {"text": "unreachable"}])
                forbidden.add(f"tok-{turn}-x")
                ids = srv.result(p.CMD_TASK_RUN, {"prompt": f"chaos {turn}"})
                sessions.append(ids["sessionId"])
                done = srv.wait_turn(ids["turnId"], timeout=90)
                reasons[f"{done['stopReason']} via {done.get('provider')}"] += 1
                assert done["stopReason"] == "provider_error" and done["error"], done
                stats.count("chaos turns")
                stats.count("chaos faults injected", 2)

            # no command ran twice, no call with broken arguments ran
            ledger = Counter((root / "ledger.txt").read_text().split()) if (root / "ledger.txt").exists() else Counter()
            assert all(n == 1 for n in ledger.values()), [t for t, n in ledger.items() if n > 1]
            assert not set(ledger) & forbidden, set(ledger) & forbidden
            assert set(ledger) <= tokens
            # every file that changed on disk is covered by a checkpoint group of these sessions
            covered: set[str] = set()
            for sid in sessions:
                for g in srv.result(p.CMD_CHECKPOINT_LIST, {"sessionId": sid, "limit": 10000})["groups"]:
                    covered |= {str(Path(f["path"]).relative_to(root)) for f in g["files"]}
            final = tree(root)
            changed = {k for k in set(initial) | set(final) if initial.get(k) != final.get(k)}
            assert changed <= covered, sorted(changed - covered)
            stats.figure("chaos: stop reasons", dict(sorted(reasons.items())))
            assert srv.alive()
        finally:
            srv.close()
