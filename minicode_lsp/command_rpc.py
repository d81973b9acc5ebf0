"""Commands over JSON-RPC (``workspace/executeCommand``): the one argument object parsed into its
model, and the service's errors (and "not available yet") as JSON-RPC errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from .service.errors import ServiceError

if TYPE_CHECKING:  # pydantic loads with the first command, not at startup
    from pydantic import BaseModel

M = TypeVar("M", bound="BaseModel")


def not_available(reason: str | None) -> JsonRpcException:
    from .protocol_ids import ERR_NOT_READY

    return JsonRpcException(f"MiniCode is not available: {reason or 'the server is not initialized yet'}",
                            code=ERR_NOT_READY)


def parse_args(command: str, model: type[M], args: Sequence[Any]) -> M:
    """One argument object; ``[]``, ``null`` or no argument at all mean an empty object."""
    if len(args) == 0:
        raw: Any = {}
    elif len(args) == 1:
        raw = args[0]
        if raw is None or raw == []:
            raw = {}
    else:
        raise JsonRpcInvalidParams(f"{command} takes one argument object, got {len(args)} arguments")
    if not isinstance(raw, dict):
        raise JsonRpcInvalidParams(f"{command} takes one argument object, got {type(raw).__name__}")
    if not _unicode(raw):
        raise JsonRpcInvalidParams(f"invalid arguments for {command}: a string is not valid Unicode (lone surrogate)")
    from pydantic import ValidationError

    from .protocol import describe_validation_error

    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise JsonRpcInvalidParams(f"invalid arguments for {command}: {describe_validation_error(exc)}") from None


def _unicode(value: Any) -> bool:
    """No string in ``value`` holds a lone surrogate (JSON can send ``"\\udcff"``; SQLite and file
    systems cannot take it)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def rpc_error(exc: ServiceError) -> JsonRpcException:
    return JsonRpcException(exc.message, code=exc.code)
