"""A raw replay server on 127.0.0.1: answers each request with recorded bytes, as they were.

Each request pops the next ``Canned`` answer: a status, headers and a body sent with
chunked transfer encoding, either whole or cut into pieces of ``piece`` bytes (each piece
its own chunk, written and flushed separately), optionally with CRLF line endings. A body
may also be an iterator of byte strings (an endless hostile reply). The requests are kept
(path, headers, parsed JSON body) so a test can see what the provider sent.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Canned:
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/event-stream"})
    body: bytes | Iterable[bytes] = b""
    piece: int = 0  # 0: the whole body in one chunk
    hold_s: float = 0.0  # wait this long before answering (a loading model)
    path: str = ""  # answer only a request to this path ("": the next request, whatever its path)


def crlf(body: bytes) -> bytes:
    return body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _answer(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        owner = self.server.owner
        owner.requests.append({"method": self.command, "path": self.path, "body": body,
                               "headers": {k.lower(): v for k, v in self.headers.items()}})
        path = self.path.split("?")[0]
        with owner.lock:
            match = next((c for c in owner.queue if not c.path or c.path == path), None)
            if match is not None:
                owner.queue.remove(match)
            respond = owner.respond
        if match is None and respond is not None:
            match = respond(body)
        canned = match or Canned(404, {"content-type": "application/json"}, b'{"error":"nothing queued"}')
        if canned.hold_s and owner.stopping.wait(canned.hold_s):
            return
        self.send_response(canned.status)
        for k, v in canned.headers.items():
            self.send_header(k, v)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            for part in self._parts(canned):
                if owner.stopping.is_set():
                    break
                if part:
                    self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    @staticmethod
    def _parts(canned: Canned) -> Iterator[bytes]:
        if isinstance(canned.body, bytes):
            data = canned.body
            n = canned.piece or max(1, len(data))
            for i in range(0, len(data), n):
                yield data[i:i + n]
        else:
            yield from canned.body

    do_POST = _answer  # noqa: N815
    do_GET = _answer  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: ReplayServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (the tests that cut a stream short) is no error to print."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class ReplayServer:
    """``with ReplayServer() as srv: srv.queue.append(Canned(...)); srv.base_url``."""

    def __init__(self) -> None:
        self.queue: list[Canned] = []
        # Answers a request (its parsed JSON body) when nothing queued matches it.
        self.respond: Callable[[Any], Canned | None] | None = None
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def reset(self) -> None:
        with self.lock:
            self.queue.clear()
            self.requests.clear()
            self.respond = None

    def add(self, *canned: Canned) -> None:
        with self.lock:
            self.queue.extend(canned)

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
