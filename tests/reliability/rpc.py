"""A byte-level JSON-RPC peer for the real ``python -m minicode_lsp serve`` over pipes.

pytest-lsp's client cannot send broken frames or thousands of pipelined requests quickly,
so the fuzz tests talk to the server through this: frames in, frames out, a reader thread
that files responses by id, answers the server's own requests (applyEdit: applied,
everything else: null) and keeps notifications.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..e2e.harness import server_env
from . import stats

SERVER_CMD = [sys.executable, "-m", "minicode_lsp", "-v", "serve"]
FUZZED = "fuzz: generated messages sent (framing, commands, document sync)"


def frame(payload: Any) -> bytes:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class ServerDied(AssertionError):
    pass


class RawServer:
    """One server process. ``request`` waits for its answer; ``send`` only writes."""

    def __init__(self, root: Path, home: Path, *, env: dict[str, str] | None = None, log_file: Path | None = None,
                 cmd: list[str] | None = None) -> None:
        self.root = root
        self.log_path = log_file or home / f"server-{time.monotonic_ns()}.log"
        home.mkdir(parents=True, exist_ok=True)
        self._stderr = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        self.proc = subprocess.Popen(cmd or SERVER_CMD, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, env=server_env(home, env), cwd=str(root),
                                     start_new_session=True)
        self._cond = threading.Condition()
        self.responses: dict[Any, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.server_requests: list[dict[str, Any]] = []
        self.unparsable: list[bytes] = []
        self._next_id = 0
        # Every write goes through one writer thread: the reader must never block on a write, or
        # a server blocked writing to a full stdout pipe and a client blocked writing to a full
        # stdin pipe wait on each other for ever.
        self._outbox: queue.SimpleQueue[bytes | threading.Event | None] = queue.SimpleQueue()
        self.eof = False
        self._reader = threading.Thread(target=self._read_loop, name="raw-lsp-reader", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="raw-lsp-writer", daemon=True)
        self._reader.start()
        self._writer.start()

    # ------------------------------------------------------------------ wire
    def _read_loop(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while True:
                length = None
                while True:
                    line = out.readline()
                    if not line:
                        return
                    if line in (b"\r\n", b"\n"):
                        break
                    name, _, value = line.decode("ascii", "replace").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                if length is None:
                    continue
                body = out.read(length)
                try:
                    msg = json.loads(body)
                except ValueError:
                    self.unparsable.append(body)
                    continue
                self._dispatch(msg)
        finally:
            with self._cond:
                self.eof = True
                self._cond.notify_all()

    def _dispatch(self, msg: dict[str, Any]) -> None:
        if "method" in msg and "id" in msg:
            self.server_requests.append(msg)
            result: Any = None
            if msg["method"] == "workspace/applyEdit":
                result = {"applied": True}
            self._write(frame({"jsonrpc": "2.0", "id": msg["id"], "result": result}))
        elif "method" in msg:
            with self._cond:
                self.notifications.append(msg)
                self._cond.notify_all()
        else:
            with self._cond:
                self.responses[msg.get("id")] = msg
                self._cond.notify_all()

    def _write(self, data: bytes) -> None:
        self._outbox.put(data)

    def _write_loop(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        while True:
            data = self._outbox.get()
            if data is None:
                return
            if isinstance(data, threading.Event):
                data.set()
                continue
            try:
                stdin.write(data)
                stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                pass

    def flush(self, timeout: float = 30) -> None:
        """Wait until everything queued so far is written."""
        done = threading.Event()
        self._outbox.put(done)
        done.wait(timeout)

    counter = "LSP messages sent (all tests)"

    def send_raw(self, data: bytes, *, messages: int = 1) -> None:
        stats.count(self.counter, messages)
        self._write(data)

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def send_request(self, method: str, params: Any = None, *, id: Any = None) -> Any:
        rid = self.new_id() if id is None else id
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            msg["params"] = params
        self.send_raw(frame(msg))
        return rid

    def notify(self, method: str, params: Any = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send_raw(frame(msg))

    def wait_response(self, rid: Any, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while rid not in self.responses:
                if self.eof:
                    raise ServerDied(f"the server closed its output before answering request {rid!r}; "
                                     f"exit code {self.proc.poll()}; log tail:\n{self.log_tail()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no answer to request {rid!r} in {timeout}s; log tail:\n{self.log_tail()}")
                self._cond.wait(min(left, 0.5))
            return self.responses.pop(rid)

    def request(self, method: str, params: Any = None, timeout: float = 30) -> dict[str, Any]:
        return self.wait_response(self.send_request(method, params), timeout)

    def command(self, name: str, args: Any = None, timeout: float = 30) -> dict[str, Any]:
        params: dict[str, Any] = {"command": name}
        if args is not None:
            params["arguments"] = [args]
        return self.request("workspace/executeCommand", params, timeout)

    def result(self, name: str, args: Any = None, timeout: float = 30) -> Any:
        answer = self.command(name, args, timeout)
        assert "error" not in answer, answer
        return answer["result"]

    def wait_notification(self, predicate: Any, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.notifications:
                    if predicate(msg):
                        return msg
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise AssertionError(f"notification not seen in {timeout}s (eof={self.eof})")
                self._cond.wait(min(left, 0.5))

    def events(self, turn_id: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            out = [n["params"] for n in self.notifications if n.get("method") == "minicode/event"]
        return [e for e in out if turn_id is None or e.get("turnId") == turn_id]

    def wait_turn(self, turn_id: str, timeout: float = 30) -> dict[str, Any]:
        msg = self.wait_notification(
            lambda m: m.get("method") == "minicode/event" and m["params"].get("turnId") == turn_id
            and m["params"].get("type") == "turn.finished", timeout)
        return dict(msg["params"]["data"])

    # ------------------------------------------------------------------ lifecycle
    def initialize(self, *, capabilities: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
        caps = capabilities if capabilities is not None else {
            "workspace": {"workspaceEdit": {"documentChanges": True, "changeAnnotationSupport": {},
                                            "resourceOperations": ["create", "rename", "delete"]},
                          "applyEdit": True},
            "window": {"workDoneProgress": True, "showDocument": {"support": True}},
        }
        answer = self.request("initialize", {
            "processId": os.getpid(), "rootUri": self.root.as_uri(), "capabilities": caps,
            "workspaceFolders": [{"uri": self.root.as_uri(), "name": self.root.name}],
        }, timeout)
        assert "result" in answer, answer
        self.notify("initialized", {})
        return answer["result"]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def close(self, *, graceful: bool = True) -> None:
        try:
            if graceful and self.alive() and not self.eof:
                try:
                    rid = self.send_request("shutdown")
                    self.wait_response(rid, timeout=10)
                    self.notify("exit")
                    self.proc.wait(timeout=5)
                except (AssertionError, subprocess.TimeoutExpired):
                    pass
        finally:
            self._outbox.put(None)
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass
            self._stderr.close()

    def __enter__(self) -> RawServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_answer(answer: dict[str, Any]) -> None:
    """A JSON-RPC 2.0 response: exactly one of result and error; an error has an int code and a message."""
    assert answer.get("jsonrpc") == "2.0", answer
    assert ("result" in answer) != ("error" in answer), answer
    if "error" in answer:
        err = answer["error"]
        assert isinstance(err, dict) and isinstance(err.get("code"), int) and isinstance(err.get("message"), str), answer
