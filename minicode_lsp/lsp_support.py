"""Shared by the feature modules: argument parsing and error mapping for LSP handlers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from .service import Service, ServiceError

M = TypeVar("M", bound=BaseModel)


class HasService(Protocol):
    service: Service | None
    service_error: str | None


def service_of(ls: Any) -> Service:
    service = getattr(ls, "service", None)
    if service is None:
        reason = getattr(ls, "service_error", None) or "the server is not initialized yet"
        raise JsonRpcException(f"MiniCode is not available: {reason}", code=-32002)
    return service


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
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise JsonRpcInvalidParams(f"invalid arguments for {command}: {describe(exc)}") from None


def describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        field = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)


def rpc_error(exc: ServiceError) -> JsonRpcException:
    return JsonRpcException(exc.message, code=exc.code)
