"""Context benchmark: building the next request of a long session, no HTTP.

A 200-turn session (each turn: a prompt, a read_file call and its ~1.5 KB result, an
edit_file call and its result, an answer; 1,200 messages, ~300 K characters) and a store of
1,000 memory entries. The figure is the median time to build the first request of the
next turn, as the service and the loop do it:

- choosing the memory entries for the prompt (``MemoryStore.select``, keyword + recency
  scoring within the token budget) and building the system prompt with them,
- the working memory carried from the last turn (``WorkingMemory.from_dict``, render),
- the messages from their stored dicts (``Message.from_dict``) and the context decision:
  token estimate of every message, the compaction summary carried from the last turn
  checked against the history, the tail it leaves, the ``context.usage`` figures
  (``ContextManager.prepare``, nothing to compact: the steady state of a long session).

Target: under 20 ms. Baseline, same run: ``json.dumps`` of the same messages (what
serialising the request costs anyway). Also printed: the same with a compaction to do
(no carried summary, the summary call failing at once so the deterministic fallback
summary is written), the cost of the turn on which compaction happens, without the model.

    .venv/bin/python bench/context.py [--turns 200] [--entries 1000] [--runs 30] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import load_note, median, result, spread  # noqa: E402

from minicode_lsp.agent import prompts  # noqa: E402
from minicode_lsp.agent.compaction import ContextManager  # noqa: E402
from minicode_lsp.agent.messages import Message, ToolCall, ToolResult, Usage  # noqa: E402
from minicode_lsp.agent.providers.base import ProviderError  # noqa: E402
from minicode_lsp.agent.tools.registry import tool_specs  # noqa: E402
from minicode_lsp.agent.working_memory import WorkingMemory  # noqa: E402
from minicode_lsp.store.db import Database  # noqa: E402
from minicode_lsp.store.memory import MemoryStore  # noqa: E402

WORDS = (
    "fix add refactor test parser lexer cache config server client session rewind diff merge "
    "checkpoint provider retry timeout stream model token budget memory context compaction buffer "
    "workspace folder file path glob search regex command shell output error warning readiness"
).split()
WINDOW = 32768
PROMPT = "refactor the parser cache and fix the retry timeout in the provider client"


class FailingProvider:
    """Answers every request with an error at once (the summary call fails: fallback summary)."""

    async def complete(self, **_: Any) -> Any:
        raise ProviderError("no model in this benchmark", status=503)


async def _no_event(type: str, data: dict[str, Any]) -> None:
    return None


def session(rng: random.Random, turns: int) -> list[dict[str, Any]]:
    out: list[Message] = []
    for i in range(turns):
        path = f"src/{rng.choice(WORDS)}_{i}.py"
        body = "\n".join(f"{n + 1:>5}\t" + " ".join(rng.choices(WORDS, k=8)) for n in range(30))
        out += [
            Message(role="user", text=" ".join(rng.choices(WORDS, k=15))),
            Message(role="assistant", tool_calls=[ToolCall(f"r{i}", "read_file", {"path": path})]),
            Message(role="tool", tool_results=[ToolResult(f"r{i}", "read_file", body)]),
            Message(role="assistant", tool_calls=[
                ToolCall(f"e{i}", "edit_file", {"path": path, "old_text": "cache", "new_text": "memo"})]),
            Message(role="tool", tool_results=[ToolResult(f"e{i}", "edit_file", f"edited {path}")]),
            Message(role="assistant", text="Done: " + " ".join(rng.choices(WORDS, k=30))),
        ]
    return [m.to_dict() for m in out]


def memory_store(folder: Path, rng: random.Random, entries: int) -> MemoryStore:
    store = MemoryStore(Database(folder / "memory.db"))
    for _ in range(entries):
        store.add(" ".join(rng.choices(WORDS, k=12)), tags=rng.choices(WORDS, k=2))
    return store


async def build(stored: list[dict[str, Any]], store: MemoryStore, wm_data: dict[str, Any] | None,
                provider: Any) -> int:
    """One request as the service + loop build it; returns its estimated tokens."""
    chosen = store.select(PROMPT, 1500)
    instructions = "## AGENTS.md (workspace)\nRun make check.\n\n## Memory\n" + "\n".join(f"- {e.text}" for e in chosen)
    head = prompts.build_system_prompt(roots=[Path("/ws")], permission_mode="auto", instructions=instructions)
    wm = WorkingMemory.from_dict(wm_data)
    wm.begin_turn(PROMPT)
    conversation = [Message.from_dict(d) for d in stored] + [Message(role="user", text=PROMPT)]
    cm = ContextManager(provider=provider, window=WINDOW, threshold=0.8, emit=_no_event, usage=Usage(),
                        cancel=asyncio.Event(), state=wm.context)
    cm.restore(conversation)
    request = await cm.prepare(conversation, head=head, memory=wm.render(), tools=tool_specs())
    assert request is not None
    wm.context = cm.state.to_dict()
    if wm_data is not None and not wm_data.get("context"):
        wm_data["context"] = wm.context
    return request.estimated


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turns", type=int, default=200)
    ap.add_argument("--entries", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="10 runs")
    args = ap.parse_args()
    runs = 10 if args.quick else args.runs
    logging.getLogger("minicode_lsp").setLevel(logging.ERROR)  # the fallback path logs a warning per run
    rng = random.Random(8)
    stored = session(rng, args.turns)
    provider = FailingProvider()
    with tempfile.TemporaryDirectory() as tmp:
        store = memory_store(Path(tmp), rng, args.entries)
        carried: dict[str, Any] = {"goal": "earlier goal", "decisions": ["keep the API"], "context": {}}
        loop = asyncio.new_event_loop()
        run = loop.run_until_complete
        estimated = run(build(stored, store, carried, provider))  # writes the summary state once
        covered = carried["context"]["covered"]
        steady, compacting, baseline = [], [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            run(build(stored, store, carried, provider))
            t1 = time.perf_counter()
            run(build(stored, store, {"goal": "g"}, provider))
            t2 = time.perf_counter()
            json.dumps(stored)
            t3 = time.perf_counter()
            steady.append(t1 - t0)
            compacting.append(t2 - t1)
            baseline.append(t3 - t2)
        loop.close()
    chars = len(json.dumps(stored))
    print(f"# {args.turns} turns, {len(stored)} messages, {chars // 1000} K chars; {args.entries} memory entries; "
          f"window {WINDOW}: the summary covers {covered} messages, request ~{estimated} tokens")
    print(f"# build (steady): {spread(steady)}; with compaction: {spread(compacting)}; json.dumps: {spread(baseline)}")
    if note := load_note():
        print(f"# {note}")
    ms, base = median(steady) * 1000, median(baseline) * 1000
    result("context_build", ms, "ms", target="20", ok=ms < 20, baseline=base)
    cms = median(compacting) * 1000
    result("context_build_compacting", cms, "ms", target="50", ok=cms < 50, baseline=base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
