"""Fuzz text document sync on one long-lived server: open, change (overlapping, reversed and
out-of-range ranges, full-text changes, stale versions), save, close, reopen, and changes for
documents that were never opened; code actions asked in between must be answered."""

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
from .fuzzing import FUZZ_SETTINGS, positions, ranges, uris, weighted_text
from .rpc import FUZZED, RawServer, check_answer

INTERNAL = -32603


def operations(root: Path) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    names = ["calc.py", "notes.txt", "unopened.py", "caf\u00e9.py", "sub/x.py"]
    uri = st.one_of(*([st.sampled_from(names).map(lambda n: (root / n).as_uri())] * 6), uris(root))
    version = st.integers(min_value=-3, max_value=50) | st.integers(min_value=-(2**31), max_value=2**31)
    text = st.one_of(st.text(max_size=80), st.text(max_size=8), st.text(max_size=8),
                     st.sampled_from(["\r\n\r\n", "😀\n😀", "\ud7ff", "a\u0300", "\t" * 10, "\n"]), weighted_text())
    change = st.one_of(
        st.fixed_dictionaries({"range": ranges(), "text": text}),
        st.fixed_dictionaries({"range": ranges(), "rangeLength": st.integers(-1, 100), "text": text}),
        st.fixed_dictionaries({"text": text}),
    )
    broken = st.fixed_dictionaries({"range": st.fixed_dictionaries({"start": positions()}), "text": text})
    open_ = st.fixed_dictionaries({"textDocument": st.fixed_dictionaries(
        {"uri": uri, "languageId": st.sampled_from(["python", "plaintext", ""]), "version": version, "text": text})})
    change_ = st.fixed_dictionaries({
        "textDocument": st.fixed_dictionaries({"uri": uri, "version": version}),
        "contentChanges": st.lists(change, max_size=5) | st.lists(broken, min_size=1, max_size=1)})
    ident = st.fixed_dictionaries({"textDocument": st.fixed_dictionaries({"uri": uri})})
    save = st.fixed_dictionaries({"textDocument": st.fixed_dictionaries({"uri": uri})},
                                 optional={"text": text})
    action = st.fixed_dictionaries({"textDocument": st.fixed_dictionaries({"uri": uri}), "range": ranges(),
                                    "context": st.fixed_dictionaries({"diagnostics": st.lists(
                                        st.fixed_dictionaries({"range": ranges(), "message": st.text(max_size=20)}),
                                        max_size=2)})})
    return st.one_of(
        st.tuples(st.just("textDocument/didOpen"), open_),
        st.tuples(st.just("textDocument/didChange"), change_),
        st.tuples(st.just("textDocument/didChange"), change_),
        st.tuples(st.just("textDocument/didChange"), change_),
        st.tuples(st.just("textDocument/didClose"), ident),
        st.tuples(st.just("textDocument/didSave"), save),
        st.tuples(st.just("textDocument/codeAction"), action),
    )


@pytest.mark.timeout(240)
def test_document_sync_fuzz(tmp_path: Path, model: ScriptedModelServer) -> None:
    root = make_workspace(tmp_path, model)
    srv = RawServer(root, tmp_path / "home")
    srv.counter = FUZZED
    internal: list[Any] = []
    try:
        srv.initialize()

        @FUZZ_SETTINGS
        @given(ops=st.lists(operations(root), min_size=15, max_size=50))
        def run(ops: list[tuple[str, dict[str, Any]]]) -> None:
            ids = []
            for method, params in ops:
                if method == "textDocument/codeAction":
                    ids.append(srv.send_request(method, params))
                else:
                    srv.notify(method, params)
            # a request at the end proves everything before it was taken
            ids.append(srv.send_request("workspace/executeCommand",
                                        {"command": p.CMD_CHECKPOINT_LIST, "arguments": [{"limit": 1}]}))
            for rid in ids:
                answer = srv.wait_response(rid, timeout=30)
                check_answer(answer)
                stats.count("fuzz: document-sync requests answered")
                if "error" in answer and answer["error"]["code"] == INTERNAL:
                    internal.append(answer["error"]["message"][:200])
            assert srv.alive()

        run()
        # the server's buffers still work after the storm: a fresh document, a change, a code action
        uri = (root / "calc.py").as_uri()
        srv.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        srv.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "python", "version": 1,
                                                             "text": "x = 1\n"}})
        answer = srv.request("textDocument/codeAction", {
            "textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0},
                                                    "end": {"line": 0, "character": 1}},
            "context": {"diagnostics": []}})
        assert "result" in answer, answer
        assert not internal, f"{len(internal)} internal errors: {sorted(set(internal))[:5]}"
    finally:
        srv.close()
