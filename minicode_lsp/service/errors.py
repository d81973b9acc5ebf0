"""Errors the service raises; the LSP layer maps ``code`` to a JSON-RPC error."""

from __future__ import annotations

from ..protocol_ids import (
    ERR_AMBIGUOUS_ID,
    ERR_BUSY,
    ERR_INVALID_PARAMS,
    ERR_NOT_FOUND,
    ERR_NOT_READY,
    ERR_OUTSIDE_WORKSPACE,
    ERR_STALE_PREVIEW,
    ERR_UNKNOWN_SESSION,
)


class ServiceError(Exception):
    code = -32603

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParams(ServiceError):
    code = ERR_INVALID_PARAMS


class UnknownSession(ServiceError):
    code = ERR_UNKNOWN_SESSION


class AmbiguousId(ServiceError):
    code = ERR_AMBIGUOUS_ID


class StalePreview(ServiceError):
    code = ERR_STALE_PREVIEW


class Busy(ServiceError):
    code = ERR_BUSY


class NotReady(ServiceError):
    code = ERR_NOT_READY


class NotFound(ServiceError):
    code = ERR_NOT_FOUND


class OutsideWorkspace(ServiceError):
    code = ERR_OUTSIDE_WORKSPACE


class StoreUnavailable(ServiceError):
    """The store folder or its database cannot be used; the message says why and how to fix it."""
