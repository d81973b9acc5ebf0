"""remember: the model records the task's state in its working memory.

Read-only as far as the workspace goes (offered in plan mode too). The tool only checks its
arguments; the loop applies ``meta["remember"]`` to the turn's working memory.
"""

from __future__ import annotations

from typing import Any

from ..messages import ToolSpec
from .base import ToolContext, ToolError, ToolOutput, str_arg

KIND = "read"
KINDS = ("goal", "constraint", "decision", "question", "note")

SPEC = ToolSpec(
    name="remember",
    description=(
        "Record something about the current task in your working memory, which stays in your "
        "instructions for the rest of the session even when older messages are summarised: the "
        "goal, a constraint the user stated, a decision you made, an open question, or a note."
    ),
    parameters={
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": list(KINDS), "description": "What the text is."},
            "text": {"type": "string", "description": "One short sentence."},
        },
        "required": ["kind", "text"],
    },
)


async def run(args: dict[str, Any], ctx: ToolContext) -> ToolOutput:
    kind = str_arg(args, "kind").strip().lower()
    if kind not in KINDS:
        raise ToolError(f"kind must be one of {', '.join(KINDS)}")
    text = str_arg(args, "text").strip()
    if not text:
        raise ToolError("text must not be empty")
    return ToolOutput(f"remembered ({kind}): {text}", meta={"remember": {"kind": kind, "text": text}})
