"""A scripted model server on 127.0.0.1 speaking OpenAI chat completions and Anthropic Messages.

The model is scripted, not real: every model request pops the next reply of the script
(``"done"`` when the script is empty), renders it in the wire format of the path it came
to, streaming (SSE) or not as the request asks, and records the request.

Endpoints: ``POST /v1/chat/completions``, ``GET /v1/models``, ``POST /v1/messages``,
``GET /api/tags``; control: ``POST /_control/script`` (replace the script with a JSON list),
``POST /_control/enqueue`` (a list or one reply), ``GET /_control/requests``,
``POST /_control/reset`` (empty script and records).

Script entries: ``{"text", "tool_calls", "usage", "reasoning", "chunk_delay_s", "delay_s", "stream"}``, e.g.
``{"text": "Reading it.", "tool_calls": [{"name": "read_file", "arguments": {"path": "a.py"}}]}``
(``"stream": false`` answers with plain JSON even to a streaming request) or a fault:
``{"fault": "delay", "seconds": S}`` (then answers with the entry's own text, or "done"),
``{"fault": "429", "retry_after": 1}`` (any status code works: "500", "503", "401", ...),
``{"fault": "malformed_sse"}``, ``{"fault": "drop"}`` (connection closed mid-reply),
``{"fault": "context_too_long"}``, ``{"fault": "invalid_tool_json", "name": "read_file"}``,
``{"fault": "stream_error", "status": 529}`` (an error event inside a 200 stream).

CLI: ``python -m minicode_lsp.testing.model_server --script FILE.json [--port 0]
[--port-file PATH] [--model NAME]`` prints ``READY <base_url>`` and serves until killed.
``/v1/models`` lists ``scripted-model`` and ``scripted`` unless ``--model`` names others.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from . import scripted_wire as wire

log = logging.getLogger(__name__)

Reply = dict[str, Any]
ReplyFunction = Callable[[dict[str, Any]], Reply | None]


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or None
    wire: str  # "openai", "anthropic" or "" (other endpoints)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: ScriptedModelServer

    def __init__(self, addr: tuple[str, int], owner: ScriptedModelServer) -> None:
        self.owner = owner
        self.open_sockets: set[socket.socket] = set()
        super().__init__(addr, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        self.open_sockets.add(sock)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            log.debug("model server: connection from %s ended: %r", client_address, exc)
        else:
            log.exception("model server: error handling a request from %s", client_address)

    def shutdown_request(self, request: Any) -> None:
        self.open_sockets.discard(request)
        super().shutdown_request(request)


class ScriptedModelServer:
    """The scripted server. ``start()`` returns the base URL (``http://127.0.0.1:PORT``).

    OpenAI providers use ``base_url + "/v1"``; Anthropic providers use ``base_url``.
    """

    def __init__(self, script: Iterable[Reply] = (), *, reply_fn: ReplyFunction | None = None,
                 models: Iterable[str] = ("scripted-model", "scripted"), port: int = 0,
                 on_script_end: Callable[[], None] | None = None) -> None:
        """``on_script_end``: called once, when the script had replies and a request finds none left."""
        self.on_script_end = on_script_end
        self._served = False  # a scripted reply was served since the script was last set
        self._lock = threading.Lock()
        self._script: list[Reply] = list(script)
        self._requests: list[RecordedRequest] = []
        self.reply_fn = reply_fn
        self.models = list(models)
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> str:
        if self._server is None:
            self.stopping.clear()
            self._server = _Server(("127.0.0.1", self._port), self)
            self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                            name="scripted-model-server",
                                            daemon=True)
            self._thread.start()
        return self.base_url

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        for sock in list(server.open_sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedModelServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the server is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    # -- script and records ---------------------------------------------------------------
    def set_script(self, replies: Iterable[Reply]) -> None:
        with self._lock:
            self._script = list(replies)
            self._served = False

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self._script.extend(replies)

    @property
    def remaining(self) -> list[Reply]:
        with self._lock:
            return list(self._script)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def model_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.wire]

    def reset(self) -> None:
        with self._lock:
            self._script.clear()
            self._requests.clear()

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._script:
                self._served = True
                return self._script.pop(0)
            ended, self._served = self._served, False
        if ended and self.on_script_end is not None:
            self.on_script_end()
        if self.reply_fn is not None:
            reply = self.reply_fn(body)
            if reply is not None:
                return reply
        return {"text": "done"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate small writes: no 40 ms stalls
    server: _Server
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("model server: " + format, *args)

    # -- plumbing ------------------------------------------------------------------------
    def _read_body(self) -> tuple[bytes, Any]:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            return raw, json.loads(raw) if raw else None
        except ValueError:
            return raw, None

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- routes ----------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        owner = self.server.owner
        path = self.path.split("?")[0]
        if path == "/_control/requests":
            self._send_json(200, [r.to_dict() for r in owner.requests])
            return
        owner.record(RecordedRequest("GET", path, self._lower_headers(), None, ""))
        if path.endswith("/models"):
            self._send_json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "type": "model", "display_name": m, "owned_by": "scripted"}
                for m in owner.models]})
        elif path == "/api/tags":
            self._send_json(200, {"models": [{"name": m, "model": m} for m in owner.models]})
        else:
            self._send_json(404, {"error": {"message": f"no route {path}"}})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        owner = self.server.owner
        path = self.path.split("?")[0]
        _raw, body = self._read_body()
        if path.startswith("/_control/"):
            self._control(path, body)
            return
        kind = "openai" if path.endswith("/chat/completions") else "anthropic" if path.endswith("/messages") else ""
        owner.record(RecordedRequest("POST", path, self._lower_headers(), body, kind))
        if not kind:
            self._send_json(404, {"error": {"message": f"no route {path}"}})
            return
        if not isinstance(body, dict):
            self._send_json(400, {"error": {"message": "the body must be a JSON object"}})
            return
        try:
            self._answer(kind, body, owner.next_reply(body))
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _lower_headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _control(self, path: str, body: Any) -> None:
        owner = self.server.owner
        if path == "/_control/script" and isinstance(body, list):
            owner.set_script(body)
        elif path == "/_control/enqueue" and isinstance(body, (list, dict)):
            owner.enqueue(*(body if isinstance(body, list) else [body]))
        elif path == "/_control/reset":
            owner.reset()
        else:
            self._send_json(400, {"error": f"bad control request {path}"})
            return
        self._send_json(200, {"ok": True, "remaining": len(owner.remaining)})

    # -- answers ---------------------------------------------------------------------------
    def _answer(self, kind: str, body: dict[str, Any], entry: Reply) -> None:
        fault = str(entry.get("fault", ""))
        stream = bool(body.get("stream")) and entry.get("stream", True) is not False
        model = str(body.get("model") or "scripted-model")
        delay = float(entry.get("seconds", 0) if fault == "delay" else entry.get("delay_s", 0))
        if delay and self.server.owner.stopping.wait(delay):
            self._drop()
            return
        if fault.isdigit() or fault == "context_too_long":
            self._error(kind, entry, fault)
            return
        if fault == "invalid_tool_json":
            entry = {"tool_calls": [{"name": entry.get("name", "read_file"),
                                     "arguments": entry.get("arguments", '{"path": "README.md"')}]}
        elif fault == "delay" and not entry.get("text") and not entry.get("tool_calls"):
            entry = {**entry, "text": "done"}
        reply = wire.normalize(entry, body)
        if not stream:
            payload = wire.openai_json(reply, model) if kind == "openai" else wire.anthropic_json(reply, model)
            self._answer_json(payload, fault)
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = wire.openai_stream(reply, model, include_usage) if kind == "openai" else \
            wire.anthropic_stream(reply, model)
        self._answer_stream(kind, chunks, entry)

    def _error(self, kind: str, entry: Reply, fault: str) -> None:
        headers = {}
        if fault == "context_too_long":
            status, code, message = 400, "context_length_exceeded", wire.CONTEXT_TOO_LONG[kind]
        else:
            status, code = int(fault), None
            message = str(entry.get("message") or f"scripted HTTP {status}")
            if "retry_after" in entry:
                headers["retry-after"] = str(entry["retry_after"])
        payload = wire.openai_error(status, message, code) if kind == "openai" else wire.anthropic_error(status, message)
        self._send_json(status, payload, headers)

    def _answer_json(self, payload: dict[str, Any], fault: str) -> None:
        data = json.dumps(payload).encode()
        if fault == "malformed_sse":
            data = data[: len(data) // 2]  # invalid JSON with a matching length
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data) * (2 if fault == "drop" else 1)))
        self.end_headers()
        self.wfile.write(data if fault != "drop" else data[: len(data) // 2])
        if fault == "drop":
            self._drop()

    def _answer_stream(self, kind: str, chunks: list[bytes], entry: Reply) -> None:
        fault, chunk_delay_s = str(entry.get("fault", "")), float(entry.get("chunk_delay_s", 0))
        self._start_stream()
        if fault == "malformed_sse":
            self._chunk(chunks[0])
            self._chunk(b'data: {"choices": [{"delta": {"content": "bro\n\ndata: }}not json{{\n\n')
            self._end_stream()
            return
        if fault == "stream_error":  # a 200 stream that carries an error event after its first chunk
            self._chunk(chunks[0])
            self._chunk(wire.stream_error(kind, int(entry.get("status", 529))))
            self._end_stream()
            return
        if fault == "drop":
            for c in chunks[: max(1, len(chunks) // 2)]:
                self._chunk(c)
            self._drop()
            return
        for c in chunks:
            if chunk_delay_s and self.server.owner.stopping.wait(chunk_delay_s):
                self._drop()
                return
            self._chunk(c)
        self._end_stream()


def load_script(path: str | None) -> list[Reply]:
    if not path:
        return []
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("script") or data.get("replies") or []
    if not isinstance(data, list):
        raise SystemExit(f"{path}: the script must be a JSON list of replies")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minicode_lsp.testing.model_server",
                                     description="A scripted (not real) model server on 127.0.0.1.",
                                     epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--script", help='JSON file: a list of replies, one per model request, e.g. '
                        '[{"text": "hi"}, {"tool_calls": [{"name": "read_file", "arguments": {"path": "a.py"}}]}]')
    parser.add_argument("--demo", action="store_true", help="the demo's script (minicode-lsp demo)")
    parser.add_argument("--port", type=int, default=0, help="port (0: an ephemeral one)")
    parser.add_argument("--port-file", help="write the base URL to this file once listening")
    parser.add_argument("--model", action="append", help="model name listed by /v1/models (repeatable)")
    args = parser.parse_args(argv)
    if args.demo:
        from ..demo import script

        replies: list[Reply] = script(sys.executable)
    else:
        replies = load_script(args.script)
    def script_ended() -> None:
        print('model-server: the script has no replies left: every request is now answered "done" '
              "(a task that edited a file then ends `verification_failed`: the scripted model never "
              "checks its edit)", file=sys.stderr, flush=True)

    server = ScriptedModelServer(replies, models=args.model or ("scripted-model", "scripted"),
                                 port=args.port, on_script_end=script_ended)
    base_url = server.start()
    if args.port_file:
        tmp = Path(args.port_file + ".tmp")
        tmp.write_text(base_url, encoding="utf-8")
        tmp.replace(args.port_file)
    print(f"READY {base_url}", flush=True)
    stop = threading.Event()
    interrupted: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def on_sigint(*_: object) -> None:
        interrupted.append(1)
        stop.set()

    signal.signal(signal.SIGINT, on_sigint)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 130 if interrupted else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    sys.exit(main())

