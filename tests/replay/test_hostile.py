"""A server cannot exhaust our memory: an endless error body, an endless SSE line, endless tool-call
arguments and an endless reply each stop at their cap with a clear message (issue #15, finding 3).

Each request runs in a fresh process so its peak RSS is its own. The hostile server stops after
HOSTILE_MIB (so code without caps grows by that much instead of taking the machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .server import Canned, ReplayServer

HOSTILE_MIB = 256
PIECE = b"A" * 65536
ROOT = Path(__file__).resolve().parents[2]


def endless(head: bytes, piece: bytes = PIECE) -> Iterator[bytes]:
    yield head
    for _ in range(HOSTILE_MIB * 1024 * 1024 // len(piece)):
        yield piece


def endless_tool_args() -> Iterator[bytes]:
    first = {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "write_file", "arguments": "{\"content\": \""}}]}}]}
    more = {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "A" * 60000}}]}}]}
    yield b"data: " + json.dumps(first).encode() + b"\n\n"
    event = b"data: " + json.dumps(more).encode() + b"\n\n"
    for _ in range(HOSTILE_MIB * 1024 * 1024 // len(event)):
        yield event


def endless_text_events() -> Iterator[bytes]:
    event = b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": "A" * 60000}}]}).encode() + b"\n\n"
    for _ in range(HOSTILE_MIB * 1024 * 1024 // len(event)):
        yield event


CASES = {
    "error_body": lambda: Canned(500, {"content-type": "application/json"}, endless(b'{"error": {"message": "')),
    "sse_line": lambda: Canned(200, {"content-type": "text/event-stream"}, endless(b'data: {"choices": "')),
    "tool_arguments": lambda: Canned(200, {"content-type": "text/event-stream"}, endless_tool_args()),
    "reply": lambda: Canned(200, {"content-type": "text/event-stream"}, endless_text_events()),
}
CAPS = {"max_reply_bytes": 8 * 1024 * 1024, "max_tool_arguments_bytes": 1024 * 1024}


def run_client(replay: ReplayServer) -> dict:
    proc = subprocess.run([sys.executable, "-m", "tests.replay.hostile_client", replay.base_url + "/v1", "openai",
                           json.dumps(CAPS)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def baseline_mib(_replay_server: ReplayServer) -> float:
    _replay_server.reset()
    _replay_server.add(Canned(200, {"content-type": "text/event-stream"},
                              b'data: {"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}\n\n'
                              b"data: [DONE]\n\n"))
    out = run_client(_replay_server)
    assert out["error"] is None, out
    return float(out["peak_rss_mib"])


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_reply_is_bounded(case: str, replay: ReplayServer, baseline_mib: float) -> None:
    replay.add(CASES[case]())
    out = run_client(replay)
    assert out["error"], out
    growth = out["peak_rss_mib"] - baseline_mib
    print(f"{case}: peak RSS {out['peak_rss_mib']:.1f} MiB (+{growth:.1f} over a normal reply), "
          f"{out['seconds']:.2f} s: {out['hint']}")
    assert growth < 64, out  # the caps are 8 MiB / 1 MiB; without them this grows by ~HOSTILE_MIB
    expected = {"error_body": "HTTP 500", "sse_line": "maxReplyBytes", "tool_arguments": "maxToolArgumentsBytes",
                "reply": "maxReplyBytes"}[case]
    assert expected in out["error"]
