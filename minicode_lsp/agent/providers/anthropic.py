"""Anthropic Messages over httpx, streaming.

``POST {base_url}/v1/messages`` (a ``base_url`` already ending in ``/v1`` is accepted) with
``x-api-key``, ``anthropic-version: 2023-06-01`` and ``max_tokens`` always sent. The system
prompt is top-level; tool calls are ``tool_use`` blocks whose input streams as
``input_json_delta``; results go back as ``tool_result`` blocks in a user message.
"""

from __future__ import annotations

import json
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from ..messages import TURN_CONTEXT_OPEN, Message, ToolCall, ToolSpec, Usage
from ._transport import (
    HttpProvider,
    WaitCallback,
    arguments_too_large,
    base_headers,
    is_event_stream,
    iter_sse,
    parse_arguments,
    parse_json,
)
from .base import ModelReply, ProviderError, TextCallback
from .ids import anthropic_id
from .retry import error_from_status, malformed

ANTHROPIC_VERSION = "2023-06-01"

# Anthropic's error types (in an ``error`` stream event) as the HTTP status they stand for.
ERROR_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}


def _text_blocks(text: str) -> list[dict[str, Any]]:
    """Text as blocks; a trailing turn context is a block of its own (the cache breakpoint goes before it)."""
    if not text:
        return []
    head, sep, tail = text.partition(TURN_CONTEXT_OPEN)
    if not sep or not head.strip():
        return [{"type": "text", "text": text}]
    return [{"type": "text", "text": head.rstrip()}, {"type": "text", "text": sep + tail}]


def _blocks(m: Message) -> list[dict[str, Any]]:
    if m.role == "user":
        return _text_blocks(m.text)
    if m.role == "assistant":
        # Thinking blocks go back first and unchanged (Anthropic checks their signatures).
        blocks: list[dict[str, Any]] = [dict(b) for b in m.reasoning
                                        if b.get("type") in ("thinking", "redacted_thinking")]
        blocks += [{"type": "text", "text": m.text}] if m.text else []
        blocks += [{"type": "tool_use", "id": anthropic_id(tc.id), "name": tc.name, "input": tc.arguments} for tc in m.tool_calls]
        return blocks
    out: list[dict[str, Any]] = []
    for r in m.tool_results:
        block: dict[str, Any] = {"type": "tool_result", "tool_use_id": anthropic_id(r.tool_call_id), "content": r.content}
        if r.is_error:
            block["is_error"] = True
        out.append(block)
    out += _text_blocks(m.text)
    return out


def to_anthropic_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Neutral messages as Messages-API messages; consecutive same-role messages are merged."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role = "assistant" if m.role == "assistant" else "user"
        blocks = _blocks(m)
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for msg in out:
        if not msg["content"]:
            msg["content"] = [{"type": "text", "text": "(empty)"}]
    return out


def to_anthropic_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description, "input_schema": t.parameters} for t in tools]


def _input_tokens(u: dict[str, Any]) -> int:
    return sum(int(u.get(k) or 0) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


def _usage(u: dict[str, Any], output_tokens: int | None = None) -> Usage:
    return Usage(input_tokens=_input_tokens(u),
                 output_tokens=int(u.get("output_tokens") or 0) if output_tokens is None else output_tokens,
                 cache_read_tokens=int(u.get("cache_read_input_tokens") or 0),
                 cache_write_tokens=int(u.get("cache_creation_input_tokens") or 0))


CACHE = {"type": "ephemeral"}


def add_cache_breakpoints(body: dict[str, Any]) -> None:
    """Anthropic prompt caching: breakpoints after the tools, the system prompt and the conversation
    so far (3 of the 4 allowed). The next step's request starts with the same prefix and reads it
    from the cache (billed at 0.1x) instead of paying for it again."""
    if body.get("tools"):
        body["tools"][-1] = {**body["tools"][-1], "cache_control": CACHE}
    if isinstance(body.get("system"), str) and body["system"]:
        body["system"] = [{"type": "text", "text": body["system"], "cache_control": CACHE}]
    messages = body.get("messages") or []
    if messages and messages[-1].get("content"):
        content = messages[-1]["content"]
        at = len(content) - 1
        if at > 0 and str(content[at].get("text", "")).startswith(TURN_CONTEXT_OPEN):
            at -= 1  # the per-step context changes every step: cache the conversation before it
        if content[at].get("type") not in ("thinking", "redacted_thinking"):
            content[at] = {**content[at], "cache_control": CACHE}


@dataclass
class _Block:
    kind: str
    text: list[str] = field(default_factory=list)
    id: str = ""
    name: str = ""
    input: dict[str, Any] | None = None
    size: int = 0
    signature: str = ""
    data: str = ""  # redacted_thinking


@dataclass
class _Assembly:
    blocks: dict[int, _Block] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = ""
    done: bool = False

    def reply(self) -> ModelReply:
        text: list[str] = []
        calls: list[ToolCall] = []
        reasoning: list[dict[str, Any]] = []
        for idx in sorted(self.blocks):
            b = self.blocks[idx]
            if b.kind == "text":
                text.extend(b.text)
            elif b.kind == "thinking":
                reasoning.append({"type": "thinking", "thinking": "".join(b.text), "signature": b.signature})
            elif b.kind == "redacted_thinking":
                reasoning.append({"type": "redacted_thinking", "data": b.data})
            elif b.kind == "tool_use":
                raw = "".join(b.text)
                if raw.strip():
                    arguments, error = parse_arguments(raw)
                else:
                    arguments, error = (b.input or {}), None
                calls.append(ToolCall(id=b.id, name=b.name, arguments=arguments, arguments_error=error))
        message = Message(role="assistant", text="".join(text), tool_calls=calls, reasoning=reasoning)
        thought = "".join(str(b.get("thinking", "")) for b in reasoning)
        return ModelReply(message=message, usage=self.usage, finish_reason=self.stop_reason, thought=thought)


class AnthropicProvider(HttpProvider):
    """A ``Provider`` for the Anthropic Messages wire format."""

    @property
    def url(self) -> str:
        base = self.spec.base_url.rstrip("/")
        return base + ("/messages" if base.endswith("/v1") else "/v1/messages")

    def request_body(self, system: str, messages: list[Message], tools: list[ToolSpec],
                     max_tokens: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.spec.model,
            "max_tokens": max_tokens or self.spec.max_tokens,
            "messages": to_anthropic_messages(messages),
            "stream": True,
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = to_anthropic_tools(tools)
        if self.spec.thinking_budget > 0:
            body["thinking"] = {"type": "enabled", "budget_tokens": self.spec.thinking_budget}
            body["max_tokens"] = max(body["max_tokens"], self.spec.thinking_budget + 1024)
        if self.spec.prompt_caching:
            add_cache_breakpoints(body)
        return body

    def headers(self) -> dict[str, str]:
        headers = base_headers(self.spec)
        headers["anthropic-version"] = ANTHROPIC_VERSION
        if self.spec.api_key:
            headers["x-api-key"] = self.spec.api_key
        return headers

    async def _once(self, body: dict[str, Any], on_text: TextCallback | None,
                    on_thought: TextCallback | None = None, on_wait: WaitCallback | None = None) -> ModelReply:
        async with self._transport.post(self.url, body, self.headers(), on_wait) as response:
            if not is_event_stream(response):
                reply = self._from_json(parse_json(self.spec, await response.read()))
                if on_thought and reply.thought:
                    await on_thought(reply.thought)
                if on_text and reply.message.text:
                    await on_text(reply.message.text)
                return reply
            acc = _Assembly()
            async with aclosing(iter_sse(self.spec, response)) as events:
                async for event, data in events:
                    if not data.strip():
                        continue
                    await self._event(event, parse_json(self.spec, data), acc, on_text, on_thought)
                    if acc.done:
                        break
        if not acc.done and not acc.stop_reason:
            raise malformed(self.spec, "the stream ended before message_stop")
        return acc.reply()

    async def _event(self, event: str, d: dict[str, Any], acc: _Assembly, on_text: TextCallback | None,
                     on_thought: TextCallback | None = None) -> None:
        kind = d.get("type") or event
        if kind == "message_start":
            u = (d.get("message") or {}).get("usage") or {}
            acc.usage = _usage(u)
        elif kind == "content_block_start":
            cb = d.get("content_block") or {}
            acc.blocks[int(d.get("index", len(acc.blocks)))] = _Block(
                kind=str(cb.get("type", "")), id=str(cb.get("id", "")), name=str(cb.get("name", "")),
                input=cb.get("input") if isinstance(cb.get("input"), dict) else None,
                text=[cb["text"]] if cb.get("type") == "text" and cb.get("text") else
                [cb["thinking"]] if cb.get("type") == "thinking" and cb.get("thinking") else [],
                signature=str(cb.get("signature") or ""), data=str(cb.get("data") or ""),
            )
        elif kind == "content_block_delta":
            delta = d.get("delta") or {}
            block = acc.blocks.setdefault(int(d.get("index", 0)), _Block(kind="text"))
            if delta.get("type") == "text_delta" and delta.get("text"):
                block.text.append(delta["text"])
                if on_text and block.kind == "text":
                    await on_text(delta["text"])
            elif delta.get("type") == "input_json_delta":
                part = str(delta.get("partial_json", ""))
                block.text.append(part)
                block.size += len(part)
                if block.size > self.spec.max_tool_arguments_bytes:
                    raise arguments_too_large(self.spec, block.name)
            elif delta.get("type") == "thinking_delta" and delta.get("thinking"):
                block.text.append(delta["thinking"])
                if on_thought:
                    await on_thought(delta["thinking"])
            elif delta.get("type") == "signature_delta":
                block.signature += str(delta.get("signature") or "")
            # citations: not part of the neutral reply
        elif kind == "message_delta":
            acc.stop_reason = str((d.get("delta") or {}).get("stop_reason") or acc.stop_reason)
            u = d.get("usage") or {}
            if "output_tokens" in u:
                acc.usage.output_tokens = int(u["output_tokens"] or 0)
            if _input_tokens(u):
                out = acc.usage.output_tokens
                acc.usage = _usage(u, out)
        elif kind == "message_stop":
            acc.done = True
        elif kind == "error":
            raise self._error(d.get("error"))

    def _error(self, error: Any) -> ProviderError:
        err = error if isinstance(error, dict) else {"message": str(error)}
        status = ERROR_TYPE_STATUS.get(str(err.get("type")), 500)
        return error_from_status(self.spec, status, json.dumps(err))

    def _from_json(self, d: dict[str, Any]) -> ModelReply:
        if d.get("type") == "error":
            raise self._error(d.get("error"))
        if not isinstance(d.get("content"), list):
            raise malformed(self.spec, "the reply has no content")
        u = d.get("usage") or {}
        acc = _Assembly(usage=_usage(u),
                        stop_reason=str(d.get("stop_reason") or ""), done=True)
        for i, cb in enumerate(d["content"]):
            kind = str(cb.get("type", ""))
            acc.blocks[i] = _Block(kind=kind, id=str(cb.get("id", "")), name=str(cb.get("name", "")),
                                   input=cb.get("input") if isinstance(cb.get("input"), dict) else None,
                                   text=[cb.get("text", "")] if kind == "text" else
                                   [str(cb.get("thinking") or "")] if kind == "thinking" else [],
                                   signature=str(cb.get("signature") or ""), data=str(cb.get("data") or ""))
            if kind == "tool_use" and isinstance(cb.get("input"), str):
                acc.blocks[i].text = [cb["input"] or "{}"]  # a server that sent the input as a string
        return acc.reply()
