"""Small builders of vendor wire bytes for tests that need a whole turn (not recorded fixtures)."""

from __future__ import annotations

import json
from typing import Any

from .server import Canned

SSE = {"content-type": "text/event-stream"}
JSON = {"content-type": "application/json"}


def openai_chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def openai_text(text: str, finish: str = "stop") -> Canned:
    body = openai_chunk({"role": "assistant", "content": text}) + openai_chunk({}, finish) + b"data: [DONE]\n\n"
    return Canned(200, SSE, body)


def openai_call(name: str, arguments: str, call_id: str = "call_1", finish: str = "tool_calls") -> Canned:
    body = (openai_chunk({"role": "assistant", "tool_calls": [
        {"index": 0, "id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]})
            + openai_chunk({}, finish) + b"data: [DONE]\n\n")
    return Canned(200, SSE, body)


def error(status: int, payload: Any) -> Canned:
    return Canned(status, JSON, json.dumps(payload).encode())
