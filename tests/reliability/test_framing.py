"""Malformed JSON-RPC framing, raw bytes over the pipes of ``python -m minicode_lsp serve``.

After each broken frame the test makes the byte stream whole again (a newline, a block of
spaces, a newline: whatever a broken header or a too-long Content-Length swallowed is
used up) and sends a probe request, which must be answered. Well-formed requests the
server cannot take (bad params, no ``jsonrpc``, unknown methods, after ``shutdown``) must be
answered with a JSON-RPC error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from . import stats
from .conftest import make_workspace
from .fuzzing import FUZZ_SETTINGS, junk
from .rpc import FUZZED, RawServer, check_answer, frame

# A newline ends a broken header line; a line of spaces is then a blank line that may start a
# body of up to MAX_LENGTH bytes, which the second block of spaces feeds; what is left of it is blank.
RESYNC = b"\r\n" + (b" " * 4200 + b"\r\n") * 2
MAX_LENGTH = 4000  # a broken Content-Length never asks for more than RESYNC supplies


def templates(root: Path) -> list[dict[str, Any]]:
    uri = (root / "calc.py").as_uri()
    return [
        {"jsonrpc": "2.0", "id": 1, "method": "workspace/executeCommand",
         "params": {"command": p.CMD_SESSION_LIST, "arguments": [{"limit": 2}]}},
        {"jsonrpc": "2.0", "id": 2, "method": "textDocument/codeAction",
         "params": {"textDocument": {"uri": uri}, "range": {"start": {"line": 0, "character": 0},
                                                            "end": {"line": 0, "character": 3}},
                    "context": {"diagnostics": []}}},
        {"jsonrpc": "2.0", "method": "textDocument/didOpen",
         "params": {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "x = 1\n"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "no/such/method", "params": {}},
        {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 1}},
        {"jsonrpc": "2.0", "id": 4, "method": "workspace/executeCommand",
         "params": {"command": p.CMD_READINESS}},
    ]


def broken_frames(root: Path) -> st.SearchStrategy[bytes]:
    bodies = st.sampled_from(templates(root)).map(lambda m: json.dumps(m).encode())

    def with_length(body: bytes, length: int) -> bytes:
        return b"Content-Length: %d\r\n\r\n" % length + body

    return st.one_of(
        # a body cut short, or a length off by some bytes
        st.tuples(bodies, st.integers(min_value=0, max_value=200)).map(
            lambda bt: with_length(bt[0][: max(0, len(bt[0]) - bt[1])], len(bt[0]))),
        st.tuples(bodies, st.integers(min_value=-60, max_value=60)).map(
            lambda bt: with_length(bt[0], max(0, min(MAX_LENGTH, len(bt[0]) + bt[1])))),
        # headers that are not headers
        st.tuples(st.binary(max_size=80), bodies).map(lambda hb: hb[0] + b"\r\n\r\n" + hb[1]),
        bodies.map(lambda b: b"Content-Length: abc\r\n\r\n" + b),
        bodies.map(lambda b: b"Content-Type: application/json\r\n\r\n" + b),
        bodies.map(lambda b: b"Content-Length: -5\r\n\r\n" + b),
        bodies.map(lambda b: b"Content-Length: %d\n\n" % len(b) + b),
        # bodies that are not JSON, or not JSON-RPC
        st.binary(max_size=300).map(lambda b: with_length(b, len(b))),
        st.sampled_from([b"{", b"}", b"[1,2", b'{"jsonrpc": "2.0", "id": 1, "method": ', b"\xff\xfe\x00",
                         b"NaN", b'{"a": NaN}', b"[" * 5000 + b"]" * 5000, b"\x00" * 50, b'"\\ud800"',
                         b"[]", b"null", b"42", b'"text"', b"{}"]).map(lambda b: with_length(b, len(b))),
        junk.map(lambda j: frame(j)),
        # random byte flips in a whole frame
        st.tuples(bodies, st.lists(st.tuples(st.integers(min_value=0, max_value=400), st.integers(0, 255)),
                                   min_size=1, max_size=6)).map(lambda bf: flip(frame(bf[0]), bf[1])),
    )


def flip(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    buf = bytearray(data)
    for pos, value in flips:
        buf[pos % len(buf)] = value
    out = bytes(buf)
    # a flipped digit may ask for a huge body: keep the length in bounds
    head, sep, rest = out.partition(b"\r\n")
    if head.startswith(b"Content-Length: ") and head[16:].isdigit() and int(head[16:]) > MAX_LENGTH:
        out = b"Content-Length: %d" % MAX_LENGTH + sep + rest
    return out


def ill_formed_requests(root: Path) -> list[tuple[dict[str, Any], int | None]]:
    """Well-framed requests the server cannot take, with the error code expected (None: any)."""
    uri = (root / "calc.py").as_uri()
    return [
        ({"jsonrpc": "2.0", "id": "a", "method": "no/such/method"}, -32601),
        ({"id": "b", "method": "workspace/executeCommand", "params": {"command": p.CMD_SESSION_LIST}}, -32600),
        ({"jsonrpc": "1.0", "id": "c", "method": "workspace/executeCommand",
          "params": {"command": p.CMD_SESSION_LIST}}, -32600),
        ({"jsonrpc": "2.0", "id": "d", "method": "workspace/executeCommand", "params": {}}, -32602),
        ({"jsonrpc": "2.0", "id": "e", "method": "workspace/executeCommand", "params": 5}, -32602),
        ({"jsonrpc": "2.0", "id": "f", "method": "workspace/executeCommand",
          "params": {"command": p.CMD_SESSION_LIST, "arguments": {"not": "a list"}}}, -32602),
        ({"jsonrpc": "2.0", "id": "g", "method": "textDocument/codeAction", "params": {"textDocument": {"uri": uri}}},
         -32602),
        ({"jsonrpc": "2.0", "id": "h", "method": "textDocument/codeAction", "params": "x"}, -32602),
        ({"jsonrpc": "2.0", "id": "i", "method": "workspace/executeCommand",
          "params": {"command": "minicode.no.such.command"}}, None),
        ({"jsonrpc": "2.0", "id": 2**53, "method": "workspace/executeCommand",
          "params": {"command": p.CMD_SESSION_LIST}}, 0),
        ({"jsonrpc": "2.0", "id": -7, "method": "workspace/executeCommand",
          "params": {"command": p.CMD_READINESS, "arguments": []}}, 0),
    ]


@pytest.mark.timeout(180)
def test_ill_formed_requests_are_answered_and_requests_after_shutdown_refused(
    tmp_path: Path, model: ScriptedModelServer
) -> None:
    root = make_workspace(tmp_path, model)
    srv = RawServer(root, tmp_path / "home")
    srv.counter = FUZZED
    try:
        srv.initialize()
        for msg, code in ill_formed_requests(root):
            srv.send_raw(frame(msg))
            answer = srv.wait_response(msg["id"], timeout=20)
            check_answer(answer)
            if code == 0:
                assert "result" in answer, (msg, answer)
            elif code is not None:
                assert answer.get("error", {}).get("code") == code, (msg, answer)
            else:
                assert "error" in answer, (msg, answer)
        # shutdown: later requests get an error, exit ends the process cleanly
        assert "result" in srv.request("shutdown")
        for method, params in [("workspace/executeCommand", {"command": p.CMD_SESSION_LIST}),
                               ("textDocument/hover", {}), ("no/such/method", None)]:
            answer = srv.request(method, params, timeout=20)
            check_answer(answer)
            assert "error" in answer, answer
            if method == "workspace/executeCommand":
                assert answer["error"]["code"] == -32600, answer
            stats.count("fuzz: requests after shutdown")
        srv.notify("exit")
        assert srv.proc.wait(timeout=15) == 0
    finally:
        srv.close(graceful=False)


@pytest.mark.timeout(240)
def test_broken_frames_never_kill_the_server(tmp_path: Path, model: ScriptedModelServer) -> None:
    root = make_workspace(tmp_path, model)
    srv = RawServer(root, tmp_path / "home")
    srv.counter = FUZZED
    probes = 0
    try:
        srv.initialize()

        @FUZZ_SETTINGS
        @given(chunks=st.lists(broken_frames(root), min_size=2, max_size=10))
        def run(chunks: list[bytes]) -> None:
            nonlocal probes
            for chunk in chunks:
                srv.send_raw(chunk + RESYNC)
            probes += 1
            rid = f"probe-{probes}"
            srv.send_raw(frame({"jsonrpc": "2.0", "id": rid, "method": "workspace/executeCommand",
                                "params": {"command": p.CMD_SESSION_LIST, "arguments": [{"limit": 1}]}}))
            answer = srv.wait_response(rid, timeout=15)
            assert "result" in answer, answer
            assert srv.alive()

        run()
        stats.count("fuzz: broken-frame probes answered", probes)
    finally:
        srv.close()


@pytest.mark.timeout(60)
def test_eof_in_the_middle_of_a_body_ends_the_server(tmp_path: Path, model: ScriptedModelServer) -> None:
    root = make_workspace(tmp_path, model)
    srv = RawServer(root, tmp_path / "home")
    srv.counter = FUZZED
    try:
        srv.initialize()
        srv.send_raw(b"Content-Length: 1000000000000\r\n\r\n{\"jsonrpc\": ")
        srv.flush()
        assert srv.proc.stdin is not None
        srv.proc.stdin.close()
        srv.proc.wait(timeout=20)  # no hang waiting for a body that never comes
    finally:
        srv.close(graceful=False)
