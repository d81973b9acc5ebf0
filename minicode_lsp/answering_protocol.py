"""Every JSON-RPC request gets an answer: ``AnsweringProtocol`` (pygls 2 drops some without a
reply), and pygls's tracebacks for the client's mistakes reduced to one log line."""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol.types import EXIT, INITIALIZE, ResponseError
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)


class _Answered:
    """Stands for a request that was already answered with an error."""

    jsonrpc = ""


class AnsweringProtocol(LanguageServerProtocol):
    """Every request gets an answer. pygls 2 drops, without a reply, a request whose params do
    not fit its method's type, a request without ``"jsonrpc": "2.0"``, and every request after
    ``shutdown``: the client then waits forever. Those are answered with an error here. A
    client's answer that does not fit its type (``null`` to ``window/showDocument``) fails the
    server's waiting call instead of leaving it, and the command behind it, hanging."""

    def structure_message(self, data: Any) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if _is_notification(data):  # nobody to answer: one line in the log, and the server goes on
                log.warning("ignored %s notification: %s", data["method"], _why(exc))
                return _Answered()
            if _is_response(data):  # the client's answer does not fit its type: fail the waiting call
                future = self._request_futures.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_exception(exc)
                return _Answered()
            if not _is_request(data):
                raise
            if "params" not in data:  # optional in JSON-RPC; pygls's generic request type wants it
                try:
                    return super().structure_message({**data, "params": None})
                except JsonRpcException:
                    pass
            why = _why(exc)
            log.info("answered a %s request with an error: %s", data["method"], why)
            self._answer_error(data["id"], exc.code, f"{exc.message or 'Invalid Params'} for {data['method']!r}: {why}")
            return _Answered()

    _initialize_id: Any = None

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Answered):
            return
        if getattr(message, "method", None) == INITIALIZE:
            self._initialize_id = getattr(message, "id", None)
        if isinstance(message, dict):  # no "jsonrpc" member: pygls leaves it a plain dict
            if _is_request(message):
                self._answer_error(message["id"], JsonRpcInvalidRequest.CODE, 'a request needs "jsonrpc": "2.0"')
            return
        request = getattr(message, "method", None) is not None and getattr(message, "id", None) is not None
        if request and message.jsonrpc != self.VERSION:
            self._answer_error(message.id, JsonRpcInvalidRequest.CODE, 'a request needs "jsonrpc": "2.0"')
            return
        if request and self._shutdown and message.method != EXIT:
            self._answer_error(message.id, JsonRpcInvalidRequest.CODE, "the server is shutting down")
            return
        super().handle_message(message)

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        super()._send_response(msg_id, result=result, error=error)
        if msg_id is not None and msg_id == self._initialize_id:  # the editor has its answer
            self._initialize_id = None
            hook = getattr(self._server, "on_initialize_answered", None)
            if hook is not None:
                hook()

    def _answer_error(self, msg_id: Any, code: int, message: str) -> None:
        valid_id = msg_id if isinstance(msg_id, int | str) else None  # JSON-RPC: null when unknown
        self._send_response(valid_id, error=ResponseError(code=code, message=message))  # type: ignore[arg-type]


class _QuietDeserializeErrors(logging.Filter):
    """pygls logs, with a full traceback at ERROR, every message it cannot structure and every
    request a handler answered with a JSON-RPC error (unknown command, invalid arguments,
    unknown session): the client's mistakes, already answered. AnsweringProtocol and
    ``MiniCodeServer.report_server_error`` log those in one line instead, so the pygls record
    is dropped. A handler's crash (any other exception) keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and record.msg.startswith("Unable to deserialize message"):
            return False
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, JsonRpcException) and is_client_error(exc))


def is_client_error(exc: BaseException) -> bool:
    """A JSON-RPC error that answers a bad request, not a failure of the server."""
    return isinstance(exc, JsonRpcException) and exc.code != JsonRpcInternalError.CODE


logging.getLogger("pygls.protocol.json_rpc").addFilter(_QuietDeserializeErrors())


def _why(exc: JsonRpcException) -> str:
    """What was wrong, in a line: cattrs' paths (``required field missing @ $.params.x``)."""
    cause = exc.__cause__
    if cause is not None:
        try:
            from cattrs import transform_error

            return "; ".join(transform_error(cause)[:5])
        except Exception:  # not a cattrs error: its own message
            return str(cause) or type(cause).__name__
    return exc.message or type(exc).__name__


def _is_notification(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("method"), str) and data.get("id") is None


def _is_response(data: Any) -> bool:
    return isinstance(data, dict) and "method" not in data and data.get("id") is not None and (
        "result" in data or "error" in data)


def _is_request(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("method"), str) and data.get("id") is not None
