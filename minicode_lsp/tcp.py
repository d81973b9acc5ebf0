"""`serve --tcp`: a loopback listener that serves only a client that knows the token.

Any local process can connect to a loopback port, so the first message of a connection must
be ``initialize`` carrying ``initializationOptions.token`` (or ``.minicode.token``) equal to
the server's token: ``MINICODE_TCP_TOKEN`` when set, else a random one printed once to
stderr. Anything else — another first message, a wrong or missing token, a malformed or
oversized frame, silence for ``FIRST_MESSAGE_TIMEOUT_S`` — closes the connection before a
byte of it is handed to the language server. One client at a time.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import secrets
from typing import TYPE_CHECKING, Any

from pygls.io_ import run_async

if TYPE_CHECKING:
    from .server import MiniCodeServer

log = logging.getLogger(__name__)

TOKEN_ENV = "MINICODE_TCP_TOKEN"
MIN_TOKEN_CHARS = 16
FIRST_MESSAGE_TIMEOUT_S = 10.0
MAX_HEADER_BYTES = 8 * 1024
MAX_FIRST_BODY_BYTES = 4 * 1024 * 1024
_LENGTH = re.compile(rb"^content-length:\s*(\d+)\s*$", re.I)


class Refused(Exception):
    pass


def make_token() -> tuple[str, bool]:
    """(token, from_env). A token from the environment must be at least 16 characters."""
    given = os.environ.get(TOKEN_ENV, "")
    if given:
        if len(given) < MIN_TOKEN_CHARS:
            raise ValueError(f"{TOKEN_ENV} must be at least {MIN_TOKEN_CHARS} characters")
        return given, True
    return secrets.token_urlsafe(32), False


def token_of(message: Any) -> str | None:
    if not isinstance(message, dict) or message.get("method") != "initialize":
        return None
    params = message.get("params")
    options = params.get("initializationOptions") if isinstance(params, dict) else None
    if not isinstance(options, dict):
        return None
    token = options.get("token")
    if token is None and isinstance(options.get("minicode"), dict):
        token = options["minicode"].get("token")
    return token if isinstance(token, str) else None


async def read_first_frame(reader: asyncio.StreamReader) -> tuple[bytes, Any]:
    """The raw bytes of the first LSP frame and its parsed body (bounded in size)."""
    raw = bytearray()
    length = None
    while True:
        line = await reader.readline()
        if not line or not line.endswith(b"\n"):
            raise Refused("the connection closed before a full header")
        raw += line
        if len(raw) > MAX_HEADER_BYTES:
            raise Refused("header too long")
        match = _LENGTH.match(line.rstrip(b"\r\n"))
        if match:
            length = int(match.group(1))
        if not line.strip():
            break
    if length is None or length > MAX_FIRST_BODY_BYTES:
        raise Refused("no Content-Length, or a first message too large")
    body = await reader.readexactly(length)
    raw += body
    try:
        return bytes(raw), json.loads(body)
    except ValueError:
        raise Refused("the first message is not JSON") from None


class PrefixedReader:
    """A reader that serves ``prefix`` first, then reads on from ``reader``."""

    def __init__(self, prefix: bytes, reader: asyncio.StreamReader) -> None:
        self._buf = bytearray(prefix)
        self._reader = reader

    async def readline(self) -> bytes:
        if self._buf:
            i = self._buf.find(b"\n")
            if i >= 0:
                line = bytes(self._buf[: i + 1])
                del self._buf[: i + 1]
                return line
            rest = bytes(self._buf)
            self._buf.clear()
            return rest + await self._reader.readline()
        return await self._reader.readline()

    async def readexactly(self, n: int) -> bytes:
        if self._buf:
            take = bytes(self._buf[:n])
            del self._buf[:n]
            return take + (await self._reader.readexactly(n - len(take)) if len(take) < n else b"")
        return await self._reader.readexactly(n)


def _refusal(message: Any, why: str) -> bytes:
    msg_id = message.get("id") if isinstance(message, dict) else None
    body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "error": {"code": -32600, "message": why}}).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def serve_tcp(server: MiniCodeServer, host: str, port: int, token: str) -> None:
    """Like pygls' ``start_tcp``, with the token check in front of the protocol."""
    import threading

    stop_event = threading.Event()
    exit_code: list[int] = []
    busy = asyncio.Lock()
    expected = token.encode()

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        message: Any = None
        try:
            if busy.locked():
                raise Refused("another client is connected")
            prefix, message = await asyncio.wait_for(read_first_frame(reader), FIRST_MESSAGE_TIMEOUT_S)
            given = token_of(message)
            if given is None or not hmac.compare_digest(given.encode(), expected):
                raise Refused("the first message must be initialize with initializationOptions.token")
        except (Refused, TimeoutError, asyncio.IncompleteReadError, ValueError, ConnectionError) as exc:
            why = str(exc) or type(exc).__name__
            log.warning("TCP connection from %s refused: %s", peer, why)
            try:
                if isinstance(exc, Refused) and message is not None:
                    writer.write(_refusal(message, f"minicode-lsp: {why}"))
                    await asyncio.wait_for(writer.drain(), 2)
            except (OSError, TimeoutError):
                pass
            writer.close()
            return
        async with busy:
            log.info("TCP client %s authenticated", peer)
            server.protocol.set_writer(writer)  # type: ignore[arg-type]
            try:
                await run_async(stop_event=stop_event, reader=PrefixedReader(prefix, reader),  # type: ignore[arg-type]
                                protocol=server.protocol, logger=log, error_handler=server.report_server_error)
            except SystemExit as exc:  # the client's `exit`: pygls raises it in here; end quietly with its code
                exit_code.append(exc.code if isinstance(exc.code, int) else 0)
            except asyncio.CancelledError:
                return  # Ctrl-C: the server is stopping
            server.shutdown()

    async def main() -> None:
        listener = await asyncio.start_server(connection, host, port)
        server._server = listener  # type: ignore[attr-defined]  # pygls' shutdown() closes it
        server._stop_event = stop_event  # type: ignore[attr-defined]
        async with listener:
            try:
                await listener.serve_forever()
            except asyncio.CancelledError:
                pass

    asyncio.run(main())
    if exit_code:
        raise SystemExit(exit_code[0])
