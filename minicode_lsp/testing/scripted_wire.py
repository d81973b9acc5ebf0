"""Scripted replies rendered in the two wire formats the scripted model server speaks.

A reply is data: ``{"text": "...", "tool_calls": [{"name": ..., "arguments": {...}}],
"usage": {"input_tokens": N, "output_tokens": M}, "reasoning": "..."}`` (``reasoning`` streams
before the text as OpenAI-style ``reasoning_content`` deltas, as vLLM and DeepSeek send it). Tool-call ``arguments`` may be a dict
(sent as JSON) or a string (sent verbatim, so a script can send broken JSON on purpose).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ScriptedCall:
    id: str
    name: str
    arguments: str  # the JSON text as sent on the wire


@dataclass
class ScriptedReply:
    text: str = ""
    tool_calls: list[ScriptedCall] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning: str = ""

    @property
    def finish_openai(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"

    @property
    def stop_anthropic(self) -> str:
        return "tool_use" if self.tool_calls else "end_turn"


def normalize(entry: dict[str, Any], request_body: dict[str, Any]) -> ScriptedReply:
    """A script entry as a ScriptedReply; usage defaults to rough sizes of the request and reply."""
    calls = []
    for i, tc in enumerate(entry.get("tool_calls") or []):
        args = tc.get("arguments", {})
        raw = args if isinstance(args, str) else json.dumps(args)
        calls.append(ScriptedCall(id=str(tc.get("id") or f"call_{uuid.uuid4().hex[:10]}_{i}"),
                                  name=str(tc["name"]), arguments=raw))
    text = str(entry.get("text", ""))
    usage = entry.get("usage") or {}
    prompt_size = len(json.dumps(request_body.get("messages", []))) + len(str(request_body.get("system", "")))
    return ScriptedReply(
        text=text,
        tool_calls=calls,
        input_tokens=int(usage.get("input_tokens", max(1, prompt_size // 4))),
        output_tokens=int(usage.get("output_tokens", max(1, len(text) // 4 + 10 * len(calls)))),
        reasoning=str(entry.get("reasoning", "")),
    )


def pieces(text: str) -> list[str]:
    """Split text into word-sized stream deltas (joined they give the text back)."""
    return re.findall(r"\S+\s*|\s+", text)


def thirds(raw: str) -> list[str]:
    n = max(1, len(raw) // 3)
    return [raw[i:i + n] for i in range(0, len(raw), n)] or [""]


CONTEXT_TOO_LONG = {
    "openai": "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 "
              "tokens. Please reduce the length of the messages.",
    "anthropic": "prompt is too long: 210000 tokens > 200000 maximum",
}


def sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    body = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {body}\n\n".encode()


# -- OpenAI chat completions --------------------------------------------------------------

def openai_usage(r: ScriptedReply) -> dict[str, int]:
    return {"prompt_tokens": r.input_tokens, "completion_tokens": r.output_tokens,
            "total_tokens": r.input_tokens + r.output_tokens}


def openai_json(r: ScriptedReply, model: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": r.text or None}
    if r.tool_calls:
        message["tool_calls"] = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                                 for c in r.tool_calls]
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message, "finish_reason": r.finish_openai}],
            "usage": openai_usage(r)}


def openai_stream(r: ScriptedReply, model: str, include_usage: bool) -> list[bytes]:
    cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse({"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"reasoning_content": p}) for p in pieces(r.reasoning)]
    out += [chunk({"content": p}) for p in pieces(r.text)]
    for i, c in enumerate(r.tool_calls):
        out.append(chunk({"tool_calls": [{"index": i, "id": c.id, "type": "function",
                                          "function": {"name": c.name, "arguments": ""}}]}))
        out += [chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]}) for p in thirds(c.arguments)]
    out.append(chunk({}, r.finish_openai))
    if include_usage:
        out.append(sse({"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
                        "choices": [], "usage": openai_usage(r)}))
    out.append(sse("[DONE]"))
    return out


def openai_error(status: int, message: str, code: str | None = None) -> dict[str, Any]:
    kind = {429: "rate_limit_error", 401: "authentication_error"}.get(status,
                                                                       "invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


# -- Anthropic Messages --------------------------------------------------------------------

def anthropic_json(r: ScriptedReply, model: str) -> dict[str, Any]:
    content: list[dict[str, Any]] = [{"type": "text", "text": r.text}] if r.text else []
    for c in r.tool_calls:
        try:
            parsed: Any = json.loads(c.arguments or "{}")
        except ValueError:
            parsed = c.arguments  # broken on purpose: sent as a string
        content.append({"type": "tool_use", "id": c.id, "name": c.name, "input": parsed})
    return {"id": f"msg_{uuid.uuid4().hex[:12]}", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": r.stop_anthropic, "stop_sequence": None,
            "usage": {"input_tokens": r.input_tokens, "output_tokens": r.output_tokens}}


def anthropic_stream(r: ScriptedReply, model: str) -> list[bytes]:
    out = [sse({"type": "message_start", "message": {
        "id": f"msg_{uuid.uuid4().hex[:12]}", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": r.input_tokens, "output_tokens": 1}}}, "message_start"),
        sse({"type": "ping"}, "ping")]
    index = 0
    if r.text:
        out.append(sse({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
                       "content_block_start"))
        out += [sse({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": p}},
                    "content_block_delta") for p in pieces(r.text)]
        out.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        index += 1
    for c in r.tool_calls:
        out.append(sse({"type": "content_block_start", "index": index,
                        "content_block": {"type": "tool_use", "id": c.id, "name": c.name, "input": {}}},
                       "content_block_start"))
        out += [sse({"type": "content_block_delta", "index": index,
                     "delta": {"type": "input_json_delta", "partial_json": p}}, "content_block_delta")
                for p in thirds(c.arguments)]
        out.append(sse({"type": "content_block_stop", "index": index}, "content_block_stop"))
        index += 1
    out.append(sse({"type": "message_delta", "delta": {"stop_reason": r.stop_anthropic, "stop_sequence": None},
                    "usage": {"output_tokens": r.output_tokens}}, "message_delta"))
    out.append(sse({"type": "message_stop"}, "message_stop"))
    return out


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    kind = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
            404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def stream_error(kind: str, status: int) -> bytes:
    """An error event inside a 200 stream (OpenRouter-style for OpenAI, ``event: error`` for Anthropic)."""
    if kind == "openai":
        return sse({"error": {"message": f"scripted upstream error {status}", "code": status}})
    return sse(anthropic_error(status, f"scripted upstream error {status}"), "error")
