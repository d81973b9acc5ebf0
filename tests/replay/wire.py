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


def anthropic_sse(events: list[dict[str, Any]]) -> Canned:
    body = b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)
    return Canned(200, SSE, body)


def anthropic_thinking_then_call(thinking: str, signature: str, name: str, arguments: dict[str, Any],
                                 call_id: str = "toolu_01") -> Canned:
    return anthropic_sse([
        {"type": "message_start", "message": {"usage": {"input_tokens": 10, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": thinking}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": signature}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": call_id, "name": name,
                                                                      "input": {}}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta",
                                                              "partial_json": json.dumps(arguments)}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}},
        {"type": "message_stop"}])


def anthropic_text(text: str) -> Canned:
    return anthropic_sse([
        {"type": "message_start", "message": {"usage": {"input_tokens": 10, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 5}},
        {"type": "message_stop"}])
