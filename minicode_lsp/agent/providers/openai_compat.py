"""OpenAI-compatible chat completions (OpenAI, Ollama, vLLM, LM Studio, OpenRouter) over httpx.

``POST {base_url}/chat/completions`` with ``stream: true``; tool calls are assembled from
streamed deltas by their ``index``; usage comes from the final chunk
(``stream_options.include_usage``). A server that answers with ``application/json`` instead
of an event stream is read as a plain completion.
"""

from __future__ import annotations

import json
import uuid
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..messages import Message, ToolCall, ToolSpec, Usage
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
from .ids import openai_id
from .retry import error_from_status, malformed


def to_openai_messages(system: str, messages: list[Message]) -> list[dict[str, Any]]:
    """Neutral messages as chat-completions messages (one ``role: tool`` message per result)."""
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    for m in messages:
        if m.role == "user":
            out.append({"role": "user", "content": m.text})
        elif m.role == "assistant":
            msg: dict[str, Any] = {"role": "assistant", "content": m.text or (None if m.tool_calls else "")}
            if m.tool_calls:
                msg["tool_calls"] = [
                    {"id": openai_id(tc.id), "type": "function",
                     "function": {"name": tc.name, "arguments": json.dumps(tc.arguments)}}
                    for tc in m.tool_calls
                ]
            out.append(msg)
        else:
            for r in m.tool_results:
                content = f"Error: {r.content}" if r.is_error and not r.content.startswith("Error") else r.content
                out.append({"role": "tool", "tool_call_id": openai_id(r.tool_call_id), "content": content})
            if m.text:
                out.append({"role": "user", "content": m.text})
    return out


def to_openai_tools(tools: list[ToolSpec]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": t.name, "description": t.description,
                                              "parameters": t.parameters}} for t in tools]


def _usage(d: dict[str, Any] | None) -> Usage:
    if not d:
        return Usage()
    details = d.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(input_tokens=int(d.get("prompt_tokens") or 0), output_tokens=int(d.get("completion_tokens") or 0),
                 cache_read_tokens=int(cached or 0))


class ArgumentsTooLarge(Exception):
    """One tool call's arguments passed ``maxToolArgumentsBytes`` (the message is the tool's name)."""


@dataclass
class _PartialCall:
    index: int
    seq: int  # order of arrival: calls that share an index keep it
    id: str = ""
    name: str = ""
    args: list[str] = field(default_factory=list)
    size: int = 0


@dataclass
class _Assembly:
    """The reply being built from stream chunks."""

    text: list[str] = field(default_factory=list)
    thought: list[str] = field(default_factory=list)
    calls: list[_PartialCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = ""
    done: bool = False
    max_args: int | None = None  # characters of one call's arguments; past it ``too_large`` is raised
    # The call each ``index`` currently stands for.
    _open: dict[int, _PartialCall] = field(default_factory=dict)

    def add_tool_deltas(self, deltas: list[dict[str, Any]]) -> None:
        """Add streamed tool-call deltas.

        Calls are keyed by ``index`` as the wire format says, except that a delta carrying
        a new ``id`` and a function name at an index already in use starts a new call:
        Ollama 0.20.x, SGLang and Dynamo send every parallel call at index 0, each with its own id.
        """
        for pos, d in enumerate(deltas):
            if not isinstance(d, dict):
                continue
            idx = d.get("index")
            idx = pos if not isinstance(idx, int) else idx
            raw_fn = d.get("function")
            fn: dict[str, Any] = raw_fn if isinstance(raw_fn, dict) else {}
            new_id = d.get("id") if isinstance(d.get("id"), str) else ""
            call = self._open.get(idx)
            if call is None or (new_id and call.id and new_id != call.id and fn.get("name")):
                call = _PartialCall(index=idx, seq=len(self.calls))
                self.calls.append(call)
                self._open[idx] = call
            if new_id:
                call.id = call.id or new_id
            if isinstance(fn.get("name"), str) and fn["name"]:
                call.name = call.name or fn["name"]
            args = fn.get("arguments")
            if isinstance(args, dict):  # some servers (Ollama) send an object
                args = json.dumps(args)
            if isinstance(args, str):
                call.args.append(args)
                call.size += len(args)
                if self.max_args is not None and call.size > self.max_args:
                    raise ArgumentsTooLarge(call.name)

    def reply(self) -> ModelReply:
        calls = []
        for c in sorted(self.calls, key=lambda c: (c.index, c.seq)):
            arguments, error = parse_arguments("".join(c.args))
            calls.append(ToolCall(id=c.id or f"call_{uuid.uuid4().hex[:12]}", name=c.name,
                                  arguments=arguments, arguments_error=error))
        message = Message(role="assistant", text="".join(self.text), tool_calls=calls)
        return ModelReply(message=message, usage=self.usage, finish_reason=self.finish_reason,
                          thought="".join(self.thought))


class OpenAICompatProvider(HttpProvider):
    """A ``Provider`` for the chat-completions wire format."""

    @property
    def url(self) -> str:
        return self.spec.base_url.rstrip("/") + "/chat/completions"

    @property
    def token_field(self) -> str:
        """OpenAI itself wants ``max_completion_tokens`` (its reasoning models refuse ``max_tokens``);
        every other compatible server reads ``max_tokens``."""
        if self._token_field is None:
            host = httpx.URL(self.spec.base_url).host if "://" in self.spec.base_url else ""
            self._token_field = "max_completion_tokens" if host == "api.openai.com" else "max_tokens"
        return self._token_field

    _token_field: str | None = None

    async def complete(
        self,
        *,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec],
        on_text: TextCallback | None = None,
        on_thought: TextCallback | None = None,
        max_tokens: int | None = None,
        on_wait: WaitCallback | None = None,
    ) -> ModelReply:
        kw: dict[str, Any] = {"system": system, "messages": messages, "tools": tools, "on_text": on_text,
                              "on_thought": on_thought, "max_tokens": max_tokens, "on_wait": on_wait}
        try:
            return await super().complete(**kw)
        except ProviderError as e:
            # "Unsupported parameter: 'max_tokens' ... Use 'max_completion_tokens' instead" (and back)
            other = "max_completion_tokens" if self.token_field == "max_tokens" else "max_tokens"
            said = str(e).lower()
            if e.status != 400 or f"'{self.token_field}'" not in said or other not in said \
                    or "support" not in said:
                raise
            self._token_field = other
            return await super().complete(**kw)

    def request_body(self, system: str, messages: list[Message], tools: list[ToolSpec],
                     max_tokens: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.spec.model,
            "messages": to_openai_messages(system, messages),
            "stream": True,
            "stream_options": {"include_usage": True},
            self.token_field: max_tokens or self.spec.max_tokens,
        }
        if tools:
            body["tools"] = to_openai_tools(tools)
        return body

    def headers(self) -> dict[str, str]:
        headers = base_headers(self.spec)
        if self.spec.api_key:
            headers["authorization"] = f"Bearer {self.spec.api_key}"
        return headers

    async def _once(self, body: dict[str, Any], on_text: TextCallback | None,
                    on_thought: TextCallback | None = None, on_wait: WaitCallback | None = None) -> ModelReply:
        async with self._transport.post(self.url, body, self.headers(), on_wait) as response:
            if not is_event_stream(response):
                raw = await response.read()
                reply = self._from_json(parse_json(self.spec, raw))
                if on_thought and reply.thought:
                    await on_thought(reply.thought)
                if on_text and reply.message.text:
                    await on_text(reply.message.text)
                return reply
            acc = _Assembly(max_args=self.spec.max_tool_arguments_bytes)
            async with aclosing(iter_sse(self.spec, response)) as events:
                async for _event, data in events:
                    if data.strip() == "[DONE]":
                        acc.done = True
                        break
                    if data.strip():
                        try:
                            await self._chunk(parse_json(self.spec, data), acc, on_text, on_thought)
                        except ArgumentsTooLarge as e:
                            raise arguments_too_large(self.spec, str(e)) from None
        if not acc.done and not acc.finish_reason:
            raise malformed(self.spec, "the stream ended before the reply was complete")
        return acc.reply()

    async def _chunk(self, chunk: dict[str, Any], acc: _Assembly, on_text: TextCallback | None,
                     on_thought: TextCallback | None = None) -> None:
        if "error" in chunk:
            raise self._stream_error(chunk["error"])
        if chunk.get("usage"):
            acc.usage = _usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or choice.get("message") or {}
            # Reasoning: DeepSeek and older vLLM say reasoning_content, Ollama, OpenRouter and newer
            # vLLM say reasoning. It is shown as thought, never part of the answer.
            thought = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(thought, str) and thought:
                acc.thought.append(thought)
                if on_thought:
                    await on_thought(thought)
            text = delta.get("content")
            if isinstance(text, str) and text:
                acc.text.append(text)
                if on_text:
                    await on_text(text)
            if delta.get("tool_calls"):
                acc.add_tool_deltas(delta["tool_calls"])
            if choice.get("finish_reason"):
                acc.finish_reason = str(choice["finish_reason"])

    def _stream_error(self, error: Any) -> ProviderError:
        err = error if isinstance(error, dict) else {"message": str(error)}
        code = err.get("code")
        status = code if isinstance(code, int) else 500
        return error_from_status(self.spec, status, json.dumps(err))

    def _from_json(self, d: dict[str, Any]) -> ModelReply:
        if "error" in d:
            raise self._stream_error(d["error"])
        acc = _Assembly(usage=_usage(d.get("usage")))
        choices = d.get("choices") or []
        if not choices:
            raise malformed(self.spec, "the reply has no choices")
        msg = choices[0].get("message") or {}
        if isinstance(msg.get("content"), str):
            acc.text.append(msg["content"])
        thought = msg.get("reasoning_content") or msg.get("reasoning")
        if isinstance(thought, str) and thought:
            acc.thought.append(thought)
        acc.add_tool_deltas(msg.get("tool_calls") or [])
        acc.finish_reason = str(choices[0].get("finish_reason") or "")
        return acc.reply()
