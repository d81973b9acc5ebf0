"""Event types the agent emits through ``ports.events``.

Mirrors the constants in ``minicode_lsp/protocol.py`` (the agent must not import it);
``tests/unit/agent/test_events.py`` checks that the two agree. The service emits
``turn.started``, ``turn.finished`` (it owns turn ids) and ``mode.changed`` itself; the loop emits the rest.
"""

from __future__ import annotations

TEXT_DELTA = "text.delta"
THOUGHT_DELTA = "thought.delta"  # streamed reasoning/thinking: shown folded, never part of the answer
MODEL_WAITING = "model.waiting"  # {seconds, phase, provider}: the model has not answered yet
TOOL_STARTED = "tool.started"
TOOL_FINISHED = "tool.finished"
FILES_CHANGED = "files.changed"
APPROVAL_REQUESTED = "approval.requested"
PROVIDER_FALLBACK = "provider.fallback"
ERROR = "error"
CONTEXT_USAGE = "context.usage"
CONTEXT_COMPACTED = "context.compacted"
MEMORY_INJECTED = "memory.injected"

# Stop reasons a turn can end with (protocol.STOP_REASONS minus the service's own "interrupted").
DONE = "done"
MAX_STEPS = "max_steps"
CANCELLED = "cancelled"
AWAIT_USER = "await_user"
BLOCKED = "blocked"
PROVIDER_ERROR = "provider_error"
VERIFICATION_FAILED = "verification_failed"
CONTEXT_EXHAUSTED = "context_exhausted"

STOP_REASONS: tuple[str, ...] = (
    DONE,
    MAX_STEPS,
    CANCELLED,
    AWAIT_USER,
    BLOCKED,
    PROVIDER_ERROR,
    VERIFICATION_FAILED,
    CONTEXT_EXHAUSTED,
)
