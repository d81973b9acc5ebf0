"""Fuzz every command of the contract through ``workspace/executeCommand`` on one long-lived server.

Each example pipelines a batch of requests (valid arguments, missing fields, wrong types,
huge strings, unicode, nulls, unknown ids) and checks that every one gets a JSON-RPC result
or error, that no error is an internal one (an unhandled exception), and that the server lives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from . import stats
from .conftest import make_workspace
from .fuzzing import FUZZ_SETTINGS, Pools, execute_params
from .rpc import FUZZED, RawServer, check_answer

INTERNAL = -32603


def call(name: str, **arguments: object) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def seed_store(srv: RawServer, model: ScriptedModelServer, pools: Pools) -> None:
    """A session with edit and shell groups, a preview and a memory entry, for the fuzzer to aim at."""
    model.set_script([
        {"tool_calls": [call("edit_file", path="calc.py", old_text="a - b", new_text="a + b")]},
        {"tool_calls": [call("write_file", path="new.txt", content="new\n")]},
        {"tool_calls": [call("run_command", command="echo shell > shell.txt")]},
        {"tool_calls": [call("read_file", path="calc.py")]},
        {"text": "seeded"},
    ])
    ids = srv.result(p.CMD_TASK_RUN, {"prompt": "seed", "permissionMode": "auto"})
    assert srv.wait_turn(ids["turnId"])["stopReason"] == "done"
    pools.sessions.append(ids["sessionId"])
    pools.turns.append(ids["turnId"])
    groups = srv.result(p.CMD_CHECKPOINT_LIST, {"sessionId": ids["sessionId"]})["groups"]
    assert len(groups) == 3, groups
    pools.groups += [g["id"] for g in groups]
    pools.previews.append(srv.result(p.CMD_REWIND_PREVIEW, {"sessionId": ids["sessionId"]})["previewId"])
    pools.memories.append(srv.result(p.CMD_MEMORY_ADD, {"text": "remember this"})["entry"]["id"])
    listed = srv.result(p.CMD_SESSION_LIST, {"limit": 1})
    pools.cursors.append(listed.get("nextCursor") or "")


@pytest.mark.timeout(240)
def test_execute_command_fuzz(tmp_path: Path, model: ScriptedModelServer) -> None:
    root = make_workspace(tmp_path, model)
    srv = RawServer(root, tmp_path / "home")
    srv.counter = FUZZED
    pools = Pools()
    internal: list[tuple[Any, dict[str, Any]]] = []
    try:
        srv.initialize()
        seed_store(srv, model, pools)

        @FUZZ_SETTINGS
        @given(batch=st.lists(execute_params(root, pools), min_size=20, max_size=60))
        def run(batch: list[Any]) -> None:
            ids = [srv.send_request("workspace/executeCommand", params) for params in batch]
            for rid, params in zip(ids, batch, strict=True):
                answer = srv.wait_response(rid, timeout=30)
                check_answer(answer)
                stats.count("fuzz: executeCommand requests")
                if "error" in answer and answer["error"]["code"] == INTERNAL:
                    internal.append((params, answer["error"]))
            assert srv.alive()

        run()
        # still healthy after the storm: a plain request answers, a turn still runs
        assert "sessions" in srv.result(p.CMD_SESSION_LIST, {})
        ids = srv.result(p.CMD_TASK_RUN, {"prompt": "after the fuzz"})
        assert srv.wait_turn(ids["turnId"], timeout=60)["stopReason"] == "done"
        kinds = {(str(params.get("command")) if isinstance(params, dict) else "?", err["message"][:120])
                 for params, err in internal}
        assert not internal, f"{len(internal)} internal errors of {len(kinds)} kinds: {sorted(kinds)}; first: {internal[:1]}"
    finally:
        srv.close()
