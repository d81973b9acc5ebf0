"""The turn loop: ask the model, run the tools it calls, repeat until a stop reason.

``run_turn`` is the agent's single entry point. It talks to the world only through
``Ports`` and to the model only through a ``Provider`` (or a fallback chain). The
service emits ``turn.started``/``turn.finished``; the loop emits the events in between.
Nothing raised by a tool, the model or the event sink escapes as an exception: every
ending is a ``TurnOutcome`` with a stop reason.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..wording import plural
from . import events as ev
from . import prompts
from .compaction import ContextManager
from .kernel import Kernel
from .messages import CUT_OFF, TURN_CONTEXT_CLOSE, TURN_CONTEXT_OPEN, Message, ToolCall, ToolResult, Usage
from .ports import Ports
from .providers.base import ModelReply, Provider, ProviderError
from .tools.base import ToolOutput
from .tools.paths import display_path
from .tools.registry import tool_specs
from .tools.runner import Cancelled, ToolRunner, race
from .working_memory import WorkingMemory

log = logging.getLogger(__name__)

PERMISSION_MODES = ("plan", "ask", "auto")
# Stop reasons (OpenAI-compatible servers, Anthropic) that mean "cut off by the output token limit".
CUT_REASONS = frozenset({"length", "max_tokens"})
MAX_CONTINUATIONS = 2  # a cut answer is continued this many times, then ends with a note


@dataclass
class TurnSettings:
    profile: str = "single"
    permission_mode: str = "ask"
    test_command: str = ""
    max_steps: int | None = None
    context_window: int = 32768
    # Commands the user allowed "for this session" (ask mode). The service may pass the same
    # set to every turn of a session; by default it lives for this turn only.
    approved_commands: set[str] = field(default_factory=set)
    # Timeout for the test command when the verification gate runs it itself.
    test_timeout_s: float = 600.0
    # Compact older messages when a request's estimate passes this part of the window.
    compaction_threshold: float = 0.8


@dataclass
class TurnOutcome:
    stop_reason: str
    text: str
    usage: Usage
    # The messages this turn added, starting with the user prompt (always well formed:
    # every tool call has its result, even after a cancellation).
    messages: list[Message]
    provider: str | None
    error: str | None = None
    steps: int = 0
    files_changed: list[str] = field(default_factory=list)  # absolute paths
    phase: str = "explore"
    verified: bool = False
    # The task's working memory and the session's compaction state (``context``): hand it
    # back to the next turn of the session as ``run_turn(working_memory=...)``.
    working_memory: dict[str, Any] = field(default_factory=dict)


class _Turn:
    def __init__(
        self,
        *,
        prompt: str,
        history: list[Message],
        provider: Provider,
        ports: Ports,
        settings: TurnSettings,
        cancel: asyncio.Event,
        instructions: str,
        context_note: str,
        working_memory: dict[str, Any] | None = None,
    ) -> None:
        self.provider = provider
        self.ports = ports
        self.settings = settings
        self.cancel = cancel
        mode = settings.permission_mode
        if mode not in PERMISSION_MODES:
            log.warning("unknown permission mode %r; using 'ask'", mode)
            mode = "ask"
        self.mode = mode
        self.kernel = Kernel.create(
            settings.profile,
            max_steps=settings.max_steps,
            test_command=settings.test_command,
            plan_mode=mode == "plan",
        )
        self.conversation = [*history, Message(role="user", text=prompt)]
        self.first_new = len(history)
        self.usage = Usage()
        self.tools = tool_specs(read_only=mode == "plan", extra=ports.tools)
        self.system = prompts.build_system_prompt(
            roots=ports.roots,
            permission_mode=mode,
            test_command=settings.test_command,
            instructions=instructions,
            context_note=context_note,
        )
        self.text = ""
        self.error: str | None = None
        self.gate_runs = 0
        self.continuations = 0
        self._cut_prefix = ""  # the cut-off text a continuation carries on
        self._pending: tuple[list[ToolCall], list[ToolResult]] | None = None
        self.runner = ToolRunner(
            ports, mode=mode, cancel=cancel, approved_commands=settings.approved_commands, emit=self.emit
        )
        self.memory = WorkingMemory.from_dict(working_memory)
        self.memory.begin_turn(prompt)
        spec = getattr(provider, "spec", None)
        self.context = ContextManager(
            provider=provider, window=settings.context_window, threshold=settings.compaction_threshold,
            emit=self.emit, usage=self.usage, cancel=cancel, state=self.memory.context,
            kind=getattr(spec, "kind", None),
        )  # fmt: skip
        self.context.restore(self.conversation)

    # ------------------------------------------------------------------ plumbing
    async def emit(self, type: str, data: dict[str, Any]) -> None:
        try:
            await self.ports.events.emit(type, data)
        except Exception:
            log.exception("event sink failed on %s", type)

    async def _on_text(self, delta: str) -> None:
        await self.emit(ev.TEXT_DELTA, {"text": delta})

    async def _on_thought(self, delta: str) -> None:
        await self.emit(ev.THOUGHT_DELTA, {"text": delta})

    async def _on_wait(self, seconds: float) -> None:
        await self.emit(ev.MODEL_WAITING, {"seconds": round(seconds), "provider": self._provider_name()})

    def _output_limit(self) -> int:
        spec = getattr(self.provider, "spec", None)
        return int(getattr(spec, "max_tokens", 0) or 4096)

    def _provider_name(self) -> str | None:
        name = getattr(self.provider, "last_provider_name", None)
        if name:
            return str(name)
        spec = getattr(self.provider, "spec", None)
        return getattr(spec, "name", None)

    def _close_pending(self) -> None:
        """After a cancellation mid-tools: give every tool call a result."""
        if self._pending is None:
            return
        calls, results = self._pending
        answered = {r.tool_call_id for r in results}
        for c in calls:
            if c.id not in answered:
                results.append(ToolResult(c.id, c.name, prompts.CANCELLED_RESULT, is_error=True))
        self.conversation.append(Message(role="tool", tool_results=results))
        self._pending = None

    # ------------------------------------------------------------------ the turn
    async def _execute(self, call: ToolCall, *, gate: bool = False) -> ToolOutput:
        done = await self.runner.execute(call, gate=gate)
        self.kernel.note_changed(done.changed)
        self.kernel.record_call(call, done.kind, is_error=done.output.is_error, meta=done.output.meta,
                                message=done.output.content)
        if not done.output.is_error:
            self.memory.observe(call.name, done.kind, done.output.meta, done.changed, self.ports.roots)
        return done.output

    async def run(self) -> TurnOutcome:
        try:
            reason = await self._steps()
        except Cancelled:
            reason = ev.CANCELLED
        except asyncio.CancelledError:
            log.info("turn task cancelled")
            reason = ev.CANCELLED
        self._close_pending()
        k = self.kernel
        log.info("turn ended: %s after %s", reason, plural(k.steps, "step"))
        return TurnOutcome(
            stop_reason=reason,
            text=self.text,
            usage=self.usage,
            messages=self.conversation[self.first_new :],
            provider=self._provider_name(),
            error=self.error,
            steps=k.steps,
            files_changed=list(k.files_changed),
            phase=k.phase,
            verified=k.verified,
            working_memory=self._working_memory(),
        )

    def _working_memory(self) -> dict[str, Any]:
        self.memory.context = self.context.state.to_dict()
        return self.memory.to_dict()

    async def _steps(self) -> str:
        while True:
            if self.cancel.is_set():
                return ev.CANCELLED
            may_continue, note = self.kernel.check_budget()
            if not may_continue:
                self.error = self.kernel.max_steps_reason()
                return ev.MAX_STEPS
            reply = await self._ask(note)
            if isinstance(reply, str):
                return reply
            reply = await self._retry_cut_call(reply, note)
            self.kernel.begin_step()
            self.usage.add(reply.usage)
            msg = reply.message
            self.conversation.append(msg)
            if msg.text.strip():
                self.text = self._cut_prefix + msg.text
            self._cut_prefix = ""
            if not msg.tool_calls:
                if reply.finish_reason in CUT_REASONS and msg.text.strip():
                    if self.continuations < MAX_CONTINUATIONS:
                        log.info("the answer was cut off by the output token limit: asking to continue")
                        self.continuations += 1
                        self._cut_prefix = self.text
                        self.conversation.append(Message(role="user", text=prompts.CONTINUE_CUT))
                        continue
                    cut_note = prompts.CUT_NOTE.format(limit=self._output_limit())
                    self.text += cut_note
                    await self._on_text(cut_note)
                reason = await self._on_final()
                if reason is not None:
                    return reason
                continue
            if await self._run_tools(msg.tool_calls):
                self.error = self.kernel.blocked_reason()
                return ev.BLOCKED

    def _cacheable(self, system: str, messages: list[Message]) -> dict[str, Any]:
        """With Anthropic prompt caching, what changes from step to step (the step note, the working
        memory, a compaction summary) leaves the system prompt and goes after the conversation, so
        tools + system + conversation stay one growing prefix the next step reads from the cache."""
        spec = getattr(self.provider, "spec", None)
        if not (getattr(spec, "kind", None) == "anthropic" and getattr(spec, "prompt_caching", False)):
            return {"system": system, "messages": messages}
        if not system.startswith(self.system) or not messages:
            return {"system": system, "messages": messages}
        volatile = system[len(self.system):].strip()
        if not volatile:
            return {"system": system, "messages": messages}
        last = messages[-1]
        text = f"{TURN_CONTEXT_OPEN}\n{volatile}\n{TURN_CONTEXT_CLOSE}"
        moved = Message(role=last.role, text=f"{last.text}\n\n{text}" if last.text else text,
                        tool_calls=last.tool_calls, tool_results=last.tool_results, reasoning=last.reasoning)
        return {"system": self.system, "messages": [*messages[:-1], moved]}

    async def _retry_cut_call(self, reply: ModelReply, note: str) -> ModelReply:
        """A tool call cut by the output token limit: asked again once with twice the limit; if
        that is cut too (or fails), the cut calls tell the model it ran out of output tokens."""
        def cut(r: ModelReply) -> list[ToolCall]:
            if r.finish_reason not in CUT_REASONS:
                return []
            return [c for c in r.message.tool_calls if c.arguments_error is not None]

        if not cut(reply):
            return reply
        limit = self._output_limit() * 2
        log.info("a tool call was cut off by the output token limit: asking again with max_tokens=%d", limit)
        try:
            again = await self._ask_model(note, max_tokens=limit)
        except Cancelled:
            raise
        except Exception as e:  # a provider that refuses the higher limit: report the cut call
            log.info("the retry with a higher output limit failed: %s", e)
            again = None
        if isinstance(again, ModelReply):
            self.usage.add(reply.usage)  # the cut reply was paid for too
            reply = again
        for c in cut(reply):
            c.arguments_error = (
                f"{CUT_OFF}: the reply hit the output token limit (maxTokens {limit if isinstance(again, ModelReply) else limit // 2}) "
                f"while writing the arguments of {c.name}, so the call was cut off and not run; make smaller "
                "calls (e.g. several edit_file calls, or write a large file in parts)"
            )
        return reply

    async def _ask_model(self, note: str, max_tokens: int | None = None) -> ModelReply | str:
        head = f"{self.system}\n\n{note}" if note else self.system
        forced = False
        while True:
            request = await self.context.prepare(
                self.conversation, head=head, memory=self.memory.render(), tools=self.tools, force=forced
            )
            if request is None:  # the provider said "too long" and nothing is left to compact
                return ev.CONTEXT_EXHAUSTED
            try:
                more: dict[str, Any] = {"max_tokens": max_tokens} if max_tokens else {}
                reply = await race(
                    self.provider.complete(
                        **self._cacheable(request.system, request.messages), tools=self.tools,
                        on_text=None if max_tokens else self._on_text, on_thought=self._on_thought,
                        on_wait=self._on_wait, **more,
                    ),
                    self.cancel,
                )
                self.context.calibrate(request, reply.usage)
                return reply
            except ProviderError as e:
                if not (e.context_too_long and not forced):
                    raise
                log.info("the provider said the context is too long: compacting and retrying once")
                self.context.too_long()
                forced = True

    async def _ask(self, note: str) -> ModelReply | str:
        try:
            return await self._ask_model(note)
        except ProviderError as e:
            self.error = f"{e} ({e.hint})" if e.hint and e.hint not in str(e) else str(e)
            log.warning("provider failed: %s", self.error)
            # The message already names the hint (ProviderError messages do): shown once, not twice.
            hint = "" if e.hint and e.hint in str(e) else e.hint
            await self.emit(ev.ERROR, {"message": str(e), "hint": hint, "status": e.status})
            return ev.CONTEXT_EXHAUSTED if e.context_too_long else ev.PROVIDER_ERROR
        except Cancelled:
            raise
        except Exception as e:  # a provider bug must still end the turn with a reason
            log.exception("provider raised an unexpected error")
            self.error = f"{type(e).__name__}: {e}"
            await self.emit(ev.ERROR, {"message": self.error})
            return ev.PROVIDER_ERROR

    async def _on_final(self) -> str | None:
        decision = self.kernel.on_final()
        if decision == ev.AWAIT_USER:
            self.error = self.kernel.await_user_reason()
        if decision == "nudge":
            files = ", ".join(display_path(Path(f), self.ports.roots) for f in self.kernel.files_changed)
            how = prompts.verify_how(self.settings.test_command)
            self.conversation.append(
                Message(role="user", text=prompts.VERIFY_NUDGE.format(files=files, how=how))
            )
            return None
        if decision == "run_tests":
            self.gate_runs += 1
            call = ToolCall(
                id=f"verify-{self.gate_runs}",
                name="run_command",
                arguments={"command": self.kernel.test_command, "timeout_s": self.settings.test_timeout_s},
            )
            out = await self._execute(call, gate=True)
            if out.meta.get("declined") or out.meta.get("plan_refused"):
                # the user would not run the test command: the change stays unverified, theirs to review
                self.error = f"the test command `{self.kernel.test_command}` was not run (declined); review the change"
                return ev.AWAIT_USER
            passed = out.meta.get("exit_code") == 0 and not out.is_error
            reason = self.kernel.record_gate_tests(passed)
            if reason is None:
                self.conversation.append(
                    Message(role="user", text=prompts.TESTS_FAILED.format(output=out.content))
                )
            elif reason == ev.VERIFICATION_FAILED:
                self.error = f"the test command `{self.kernel.test_command}` still fails after the agent's changes"
            return reason
        if decision == ev.VERIFICATION_FAILED:
            files = ", ".join(display_path(Path(f), self.ports.roots) for f in self.kernel.files_changed)
            self.error = (
                f"the agent changed {files} but never checked the result (ran a command or read the file "
                "back) after its last edit, even when asked; review the change, or set agent.testCommand "
                "so the tests run before a turn can end"
                if not self.kernel.test_command
                else f"the test command `{self.kernel.test_command}` still fails after the agent's changes"
            )
        return decision

    async def _run_tools(self, calls: list[ToolCall]) -> bool:
        results: list[ToolResult] = []
        self._pending = (calls, results)
        for call in calls:
            if self.cancel.is_set():
                raise Cancelled
            out = await self._execute(call)
            results.append(ToolResult(call.id, call.name, out.content, out.is_error))
        self._pending = None
        self.conversation.append(Message(role="tool", tool_results=results))
        return self.kernel.end_step()


async def run_turn(
    *,
    prompt: str,
    history: list[Message],
    provider: Provider,
    ports: Ports,
    settings: TurnSettings,
    cancel: asyncio.Event,
    instructions: str = "",
    context_note: str = "",
    working_memory: dict[str, Any] | None = None,
) -> TurnOutcome:
    """Run one turn of the agent for ``prompt`` on top of ``history``.

    Ends when the model answers (and the verification gate is satisfied), the step budget
    is spent, ``cancel`` is set (or the task is cancelled), the model is unreachable, or the
    turn is blocked. Never raises for tool, model or event-sink failures.
    """
    turn = _Turn(
        prompt=prompt,
        history=history,
        provider=provider,
        ports=ports,
        settings=settings,
        cancel=cancel,
        instructions=instructions,
        context_note=context_note,
        working_memory=working_memory,
    )
    return await turn.run()
