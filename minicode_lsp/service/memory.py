"""Memory use-cases: the entries (show, add, remove, accept), those a turn is given, what a turn
carries over from the last one, and what it proposes to remember.

Working memory (and the compaction state inside it) is stored in each ``turn.finished``
event as ``workingMemory`` and handed to the next turn of the session. Reflection (opt-in,
``memory.reflection``) asks the model for durable facts after a ``done`` turn and stores
them as proposals, which take no part in any prompt until the user accepts them
(``minicode.memory.accept``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from .. import protocol as p
from ..protocol import EV_TURN_FINISHED, MemoryAcceptArgs, MemoryAddArgs, MemoryRemoveArgs, MemoryShowArgs
from ..store.ids import AmbiguousId as StoreAmbiguous
from ..store.ids import UnknownId
from ..store.memory import MemoryEntry
from . import wire
from .errors import AmbiguousId, InvalidParams, NotFound

if TYPE_CHECKING:
    from ..agent.messages import Message
    from ..agent.providers.base import Provider
    from .workspace import Workspace

log = logging.getLogger(__name__)


class Memory:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def select(self, prompt: str) -> list[MemoryEntry]:
        """Project and user entries relevant to this prompt, within the memory token budget."""
        ws = self.ws
        budget = ws.settings.memory.budget_tokens
        chosen = ws.memory.select(prompt, budget)
        used = sum(e.tokens for e in chosen)
        if ws.user_memory_path.exists() and budget - used > 0:
            chosen += ws.memory_for("user").select(prompt, budget - used)
        return chosen

    def show(self, args: MemoryShowArgs) -> p.MemoryListResult:
        scopes = [args.scope] if args.scope else ["project", "user"]
        entries = []
        for scope in scopes:
            entries += [wire.memory_entry(e) for e in self.ws.memory_for(scope).list(scope=scope, include_proposed=True)]
        return p.MemoryListResult(entries=entries)

    def add(self, args: MemoryAddArgs) -> p.MemoryEntryResult:
        try:
            entry = self.ws.memory_for(args.scope).add(args.text, args.scope, args.tags)
        except ValueError as exc:  # e.g. text that is only whitespace
            raise InvalidParams(str(exc)) from None
        return p.MemoryEntryResult(entry=wire.memory_entry(entry))

    def remove(self, args: MemoryRemoveArgs) -> p.MemoryRemoveResult:
        for scope in ("project", "user"):
            try:
                self.ws.memory_for(scope).remove(args.id)
                return p.MemoryRemoveResult(removed=True)
            except (UnknownId, KeyError):
                continue
            except StoreAmbiguous as exc:
                raise AmbiguousId(str(exc)) from None
        raise NotFound(f"no memory entry {args.id}")

    def accept(self, args: MemoryAcceptArgs) -> p.MemoryEntryResult:
        """A proposed entry (from reflection) becomes active: injected into later turns."""
        for scope in ("project", "user"):
            if scope == "user" and not self.ws.user_memory_path.exists():
                continue
            try:
                return p.MemoryEntryResult(entry=wire.memory_entry(self.ws.memory_for(scope).accept(args.id)))
            except (UnknownId, KeyError):
                continue
            except StoreAmbiguous as exc:
                raise AmbiguousId(str(exc)) from None
        raise NotFound(f"no memory entry {args.id}")

    def working_memory(self, session_id: str) -> dict[str, Any] | None:
        """The working memory the session's latest finished turn left, if any."""
        return self.ws.sessions.latest_working_memory(session_id, EV_TURN_FINISHED)

    async def propose(self, provider: Provider, *, session_id: str, prompt: str, messages: list[Message],
                      answer: str, cancel: asyncio.Event) -> list[dict[str, Any]]:
        """Ask the model for up to three facts and store them as proposals; their wire forms."""
        from ..agent.reflection import reflect

        store = self.ws.memory
        known = [e.text for e in store.list(include_proposed=True)[:100]]
        facts = await reflect(provider, prompt=prompt, messages=messages, answer=answer, known=known, cancel=cancel)
        proposed = []
        for fact in facts:
            try:
                entry = store.add(fact.text, "project", fact.tags, source_session=session_id, proposed=True)
            except ValueError:
                continue
            proposed.append(wire.memory_entry(entry).wire())
        if proposed:
            log.info("reflection proposed %d memory entr(y/ies)", len(proposed))
        return proposed
