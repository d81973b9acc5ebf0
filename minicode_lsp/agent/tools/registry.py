"""The tools offered to the model: their specs, kinds, and one dispatch function.

``dispatch`` never raises for a tool failure: refusals, bad arguments, declines and
unexpected errors all become a ``ToolOutput`` with ``is_error=True`` and a message the
model can act on. ``meta["refused"]`` marks confinement refusals, ``meta["declined"]``
the user's refusal (ask mode).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from ..messages import CUT_OFF, ToolCall, ToolSpec
from ..ports import EditConflict, PartlyAccepted, UserDeclined
from . import delete_file, edit_file, list_files, read_file, remember, run_command, search, write_file
from .base import ToolContext, ToolError, ToolKind, ToolOutput
from .paths import PathRefused

log = logging.getLogger(__name__)

DECLINED_EDIT = "the user declined this edit; nothing was changed"


@dataclass(frozen=True)
class Tool:
    spec: ToolSpec
    kind: ToolKind
    run: Callable[[dict[str, Any], ToolContext], Awaitable[ToolOutput]]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def read_only(self) -> bool:
        return self.kind == "read"


def _tool(module: ModuleType) -> Tool:
    return Tool(spec=module.SPEC, kind=module.KIND, run=module.run)


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in map(
        _tool, (read_file, list_files, search, edit_file, write_file, delete_file, run_command, remember)
    )
}


def tool_specs(*, read_only: bool = False, extra: Sequence[Tool] = ()) -> list[ToolSpec]:
    """The specs to offer: all tools (the built-in ones, then ``extra``: the MCP servers'), or
    only the read-only ones (plan mode)."""
    return [t.spec for t in (*TOOLS.values(), *extra) if t.read_only or not read_only]


def get_tool(name: str, extra: Sequence[Tool] = ()) -> Tool | None:
    return TOOLS.get(name) or next((t for t in extra if t.name == name), None)


async def dispatch(call: ToolCall, ctx: ToolContext, extra: Sequence[Tool] = ()) -> ToolOutput:
    tool = get_tool(call.name, extra)
    if tool is None:
        names = ", ".join([*TOOLS, *(t.name for t in extra)])
        return ToolOutput(f"unknown tool '{call.name}'; the tools are: {names}", is_error=True)
    if call.arguments_error is not None and call.arguments_error.startswith(CUT_OFF):
        return ToolOutput(call.arguments_error, is_error=True)
    if call.arguments_error is not None:
        return ToolOutput(
            f"the arguments for {call.name} were not valid JSON ({call.arguments_error}); "
            "call the tool again with a JSON object",
            is_error=True,
        )
    if not isinstance(call.arguments, dict):
        return ToolOutput(f"the arguments for {call.name} must be a JSON object", is_error=True)
    try:
        return await tool.run(call.arguments, ctx)
    except PathRefused as e:
        return ToolOutput(f"refused: {e}", is_error=True, meta={"refused": True})
    except ToolError as e:
        return ToolOutput(str(e), is_error=True)
    except EditConflict as e:
        return ToolOutput(f"{call.name} was not applied: {e}", is_error=True, meta={"conflict": True})
    except PartlyAccepted as e:
        return ToolOutput(f"{call.name} was applied only in part: {e}",
                          meta={"path": str(e.path), "action": "modify", "partial": True})
    except UserDeclined:
        return ToolOutput(DECLINED_EDIT, is_error=True, meta={"declined": True})
    except OSError as e:
        return ToolOutput(f"{call.name} failed: {e.strerror or e}", is_error=True)
    except Exception as e:  # a bug in a tool must not end the turn
        log.exception("tool %s crashed", call.name)
        return ToolOutput(
            f"{call.name} failed with an internal error: {type(e).__name__}: {e}", is_error=True
        )
