"""The context budget of each request, and compaction when it runs out.

``ContextManager.prepare`` builds each request: the system prompt (the turn's head with
instruction files and memory entries, the working memory, the summary of compacted
messages) and the messages not yet compacted. It emits ``context.usage`` with the estimate.
When the estimate passes ``threshold * window`` (or the provider said "context too long":
``force``) it compacts: the oldest messages, up to a recent tail that fits half the window,
are replaced by a summary the model writes in a separate call with no tools, or, when that
call fails, by a deterministic summary of the prompts, files changed, commands and results.
A compaction never separates an assistant message with tool calls from the tool message
answering it (``context.groups``), and the working memory and instructions are never part
of what it drops: they live in the system prompt.

The state (how many messages of the session the summary covers, the summary, the token
ratio learned) is a plain dict carried from turn to turn with the working memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..wording import plural
from . import events as ev
from .budget import TokenCounter
from .context import groups
from .messages import Message, ToolSpec, Usage
from .providers.base import Provider
from .tools.runner import Cancelled, race

log = logging.getLogger(__name__)

Emit = Callable[[str, dict[str, Any]], Awaitable[None]]

# After a compaction the request should take at most this part of the window.
TARGET_AFTER = 0.5
SUMMARY_MAX_TOKENS = 1000
CLIP_TOOL_RESULT = 800  # characters of each tool result shown to the summariser
CLIP_TEXT = 1500

SUMMARY_SYSTEM = (
    "You write the summary of an earlier part of a conversation between a user and a coding agent, "
    "so the agent can continue the task without it. Write plain text, at most {words} words: what the "
    "user asked for, what the agent found out, the files it changed, the commands it ran and their "
    "results, decisions taken, and what is still to do. Keep file paths, names and error messages "
    "exact. Do not call tools; answer with the summary only."
)
SUMMARY_USER = "{previous}The conversation to summarise:\n\n{transcript}"
SUMMARY_NOTE = "Summary of the earlier conversation ({count} messages compacted{how}):\n{summary}"
TAIL_NOTE = "[The earlier part of this conversation is summarised in the system prompt.]"
EDIT_TOOLS = ("edit_file", "write_file", "delete_file")


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 20] + f" [... {len(text) - limit + 20} chars]"


def check_of(m: Message) -> str:
    """A light fingerprint of the last compacted message (its role and tool call ids)."""
    ids = [tc.id for tc in m.tool_calls] + [tr.tool_call_id for tr in m.tool_results]
    return f"{m.role}:{','.join(ids)}"


@dataclass
class ContextState:
    covered: int = 0  # messages at the start of the session's conversation the summary replaces
    summary: str = ""
    method: str = ""  # model | fallback
    check: str = ""
    ratio: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ratio": self.ratio} if self.ratio is not None else {}
        if self.covered:
            out.update(covered=self.covered, summary=self.summary, method=self.method, check=self.check)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ContextState:
        d = d if isinstance(d, dict) else {}
        try:
            ratio = float(d["ratio"]) if d.get("ratio") is not None else None
            return cls(int(d.get("covered", 0)), str(d.get("summary", "")), str(d.get("method", "")),
                       str(d.get("check", "")), ratio)  # fmt: skip
        except (TypeError, ValueError):
            return cls()


def render_transcript(messages: list[Message], limit_chars: int) -> str:
    """The messages as plain text for the summariser, within ``limit_chars`` (middle elided)."""
    lines: list[str] = []
    for m in messages:
        if m.role == "user" and m.text:
            lines.append(f"USER: {_clip(m.text, CLIP_TEXT)}")
        elif m.role == "assistant":
            if m.text.strip():
                lines.append(f"ASSISTANT: {_clip(m.text, CLIP_TEXT)}")
            for tc in m.tool_calls:
                lines.append(f"ASSISTANT CALLS {tc.name}({_clip(json.dumps(tc.arguments, default=str), 300)})")
        for tr in m.tool_results:
            flag = " (error)" if tr.is_error else ""
            lines.append(f"RESULT of {tr.name}{flag}: {_clip(tr.content, CLIP_TOOL_RESULT)}")
    text = "\n".join(lines)
    if len(text) <= limit_chars:
        return text
    head = limit_chars * 3 // 10
    tail = limit_chars - head - 60
    return f"{text[:head]}\n[... {len(text) - head - tail} characters omitted ...]\n{text[-tail:]}"


def fallback_summary(previous: str, messages: list[Message], limit_chars: int) -> str:
    """A summary written without the model: prompts, files changed, commands and their results."""
    calls = {tc.id: tc for m in messages for tc in m.tool_calls}
    prompts = [m.text for m in messages if m.role == "user" and m.text.strip()]
    changed: list[str] = []
    read: list[str] = []
    commands: list[str] = []
    for m in messages:
        for tr in m.tool_results:
            call = calls.get(tr.tool_call_id)
            args = call.arguments if call is not None and isinstance(call.arguments, dict) else {}
            path = str(args.get("path", ""))
            first = tr.content.strip().splitlines()[0] if tr.content.strip() else ""
            if tr.name in EDIT_TOOLS and not tr.is_error and path:
                entry = f"{path} ({tr.name})"
                if entry not in changed:
                    changed.append(entry)
            elif tr.name == "read_file" and path and path not in read:
                read.append(path)
            elif tr.name == "run_command":
                status = "failed" if tr.is_error else "ok"
                commands.append(f"`{_clip(str(args.get('command', '')), 200)}` -> {status}: {_clip(first, 200)}")
    answers = [m.text for m in messages if m.role == "assistant" and m.text.strip()]
    parts = ["(Summary written without the model: the facts recorded in the compacted messages.)"]
    if previous.strip():
        parts.append("Before that: " + _clip(previous, limit_chars // 3))
    if prompts:
        parts.append("User requests:\n" + "\n".join(f"- {_clip(p, 300)}" for p in prompts[-8:]))
    if changed:
        parts.append("Files changed: " + ", ".join(changed[-30:]))
    if read:
        parts.append("Files read: " + ", ".join(read[-30:]))
    if commands:
        parts.append("Commands and results:\n" + "\n".join(f"- {c}" for c in commands[-10:]))
    if answers:
        parts.append("Agent's last answers:\n" + "\n".join(f"- {_clip(a, 300)}" for a in answers[-3:]))
    return _clip("\n".join(parts), limit_chars)


@dataclass
class Request:
    system: str
    messages: list[Message]
    raw_tokens: int  # uncalibrated estimate (for calibration against usage)
    estimated: int  # calibrated estimate


class ContextManager:
    def __init__(
        self,
        *,
        provider: Provider,
        window: int,
        threshold: float,
        emit: Emit,
        usage: Usage,
        cancel: asyncio.Event,
        state: dict[str, Any] | None = None,
        kind: str | None = None,
    ) -> None:
        self.provider = provider
        self.window = window
        self.threshold = threshold
        self.emit = emit
        self.usage = usage
        self.cancel = cancel
        self.state = ContextState.from_dict(state)
        self.counter = TokenCounter.for_provider(kind, self.state.ratio)
        self._note: tuple[int, Message] | None = None

    # ------------------------------------------------------------------ the request
    def restore(self, conversation: list[Message]) -> None:
        """Forget a carried summary that does not match this conversation (history changed)."""
        s = self.state
        if s.covered and (s.covered > len(conversation) or check_of(conversation[s.covered - 1]) != s.check):
            log.warning("the compaction summary does not match the history; starting without it")
            self.state = ContextState(ratio=s.ratio)

    def view(self, conversation: list[Message]) -> list[Message]:
        """The messages the next request sends: those the summary does not cover."""
        covered = self.state.covered
        tail = conversation[covered:]
        if not covered or (tail and tail[0].role == "user"):
            return tail
        if self._note is None or self._note[0] != covered:
            self._note = (covered, Message(role="user", text=TAIL_NOTE))
        return [self._note[1], *tail]

    def system(self, head: str, memory: str) -> str:
        parts = [head]
        if memory:
            parts.append(memory)
        s = self.state
        if s.covered and s.summary:
            how = ", summary written without the model" if s.method == "fallback" else ""
            parts.append(SUMMARY_NOTE.format(count=s.covered, how=how, summary=s.summary))
        return "\n\n".join(parts)

    def measure(self, system: str, tools: list[ToolSpec], messages: list[Message]) -> int:
        c = self.counter
        return c.text(system) + c.tools(tools) + c.messages(messages)

    def limit(self) -> int:
        """The estimate above which the next request is compacted first."""
        return int(self.window * self.threshold)

    async def prepare(
        self, conversation: list[Message], *, head: str, memory: str, tools: list[ToolSpec], force: bool = False
    ) -> Request | None:
        """The next request; compacts first when it would pass the threshold (or ``force``).

        None when ``force`` was asked and nothing could be compacted.
        """
        system = self.system(head, memory)
        messages = self.view(conversation)
        raw = self.measure(system, tools, messages)
        if force or self.counter.scale(raw) > self.limit():
            compacted = await self._compact(
                conversation, head=head, memory=memory, tools=tools, before=raw, forced=force
            )
            if force and not compacted:
                return None
            if compacted:
                system = self.system(head, memory)
                messages = self.view(conversation)
                raw = self.measure(system, tools, messages)
        estimated = self.counter.scale(raw)
        await self.emit(
            ev.CONTEXT_USAGE,
            {"estimatedTokens": estimated, "window": self.window, "ratio": round(estimated / self.window, 3)},
        )
        return Request(system, messages, raw, estimated)

    def calibrate(self, request: Request, usage: Usage) -> None:
        self.counter.calibrate(request.raw_tokens, usage.input_tokens)
        self.state.ratio = round(self.counter.ratio, 4)

    def too_long(self) -> None:
        self.counter.too_low()
        self.state.ratio = round(self.counter.ratio, 4)

    # ------------------------------------------------------------------ compaction
    def _split(self, conversation: list[Message], budget: int) -> int:
        """The index of the first message of the recent tail kept (whole units, at least one)."""
        start = self.state.covered
        units = groups(conversation[start:])
        kept = 0
        index = len(conversation)
        for i, unit in enumerate(reversed(units)):
            size = sum(self.counter.message(m) for m in unit)
            if i > 0 and kept + size > budget:
                break
            kept += size
            index -= len(unit)
        return index

    def summary_chars(self) -> int:
        return int(min(SUMMARY_MAX_TOKENS, self.window // 8) * self.counter.chars_per_token)

    async def _compact(
        self, conversation: list[Message], *, head: str, memory: str, tools: list[ToolSpec], before: int,
        forced: bool,
    ) -> bool:
        c = self.counter
        fixed = c.text(head) + c.text(memory) + c.tools(tools) + int(self.summary_chars() / c.chars_per_token) + 64
        budget = int(self.window * TARGET_AFTER / c.ratio) - fixed
        if forced:  # the provider counts more than we do: keep much less
            budget = min(budget, c.messages(conversation[self.state.covered :]) // 2)
        split = self._split(conversation, max(0, budget))
        old = self.state
        if split <= old.covered:
            log.info("nothing to compact: the recent tail alone is over the budget")
            return False
        dropped = conversation[old.covered : split]
        summary, method = await self._summarise(old.summary, dropped)
        self.state = ContextState(split, summary, method, check_of(conversation[split - 1]), old.ratio)
        after = self.measure(self.system(head, memory), tools, self.view(conversation))
        log.info("compacted %s (%s summary)", plural(len(dropped), "message"), method)
        await self.emit(
            ev.CONTEXT_COMPACTED,
            {
                "droppedMessages": len(dropped),
                "coveredMessages": split,
                "summaryTokens": c.scale(c.text(summary)),
                "method": method,
                "reason": "context_too_long" if forced else "threshold",
                "beforeTokens": c.scale(before),
                "afterTokens": c.scale(after),
            },
        )
        return True

    async def _summarise(self, previous: str, dropped: list[Message]) -> tuple[str, str]:
        limit = self.summary_chars()
        words = max(60, int(limit / self.counter.chars_per_token * 0.7))
        system = SUMMARY_SYSTEM.format(words=words)
        room = int(self.window * TARGET_AFTER * self.counter.chars_per_token) - len(system) - len(previous)
        prev = f"The summary of what came before:\n{previous}\n\n" if previous.strip() else ""
        prompt = SUMMARY_USER.format(previous=prev, transcript=render_transcript(dropped, max(2000, room)))
        try:
            reply = await race(
                self.provider.complete(system=system, messages=[Message(role="user", text=prompt)], tools=[]),
                self.cancel,
            )
        except Cancelled:
            raise
        except Exception as e:  # ProviderError or a provider bug: the turn goes on
            log.warning("the summary call failed (%s); using the fallback summary", e)
            return fallback_summary(previous, dropped, limit), "fallback"
        self.usage.add(reply.usage)
        text = reply.message.text.strip()
        if not text or reply.message.tool_calls:
            log.warning("the summary call gave no usable text; using the fallback summary")
            return fallback_summary(previous, dropped, limit), "fallback"
        return _clip(text, limit), "model"
