"""Helpers the benchmarks share: RESULT lines, statistics, an isolated environment, raw JSON-RPC.

Every benchmark prints one line per figure that ``bench/run_all.py`` parses::

    RESULT <name> <value> <unit> target=<target> ratio=<ratio> baseline=<value><unit> ok|MISS

``ratio`` is the figure divided by its baseline measured in the same run (``-`` when the
figure has none). The machine the figures come from is small (2 cores) and shared, so
every figure is a median (or a percentile) over several runs, never a single sample.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def result(name: str, value: float, unit: str, *, target: str, ok: bool,
           baseline: float | None = None, ratio: float | None = None) -> str:
    """Print (and return) one parseable RESULT line."""
    if ratio is None and baseline:
        ratio = value / baseline
    ratio_s = "-" if ratio is None else f"{ratio:.2f}x"
    base_s = "-" if baseline is None else f"{baseline:.{_digits(baseline)}f}{unit}"
    line = (f"RESULT {name} {value:.{_digits(value)}f} {unit} target={target} ratio={ratio_s} "
            f"baseline={base_s} {'ok' if ok else 'MISS'}")
    print(line, flush=True)
    return line


def _digits(value: float) -> int:
    v = abs(value)
    return 3 if v < 1 else 2 if v < 10 else 1 if v < 1000 else 0


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def percentile(xs: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank: with 500 samples p99 is the 5th largest."""
    s = sorted(xs)
    if not s:
        return math.nan
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]


def spread(xs: Sequence[float], scale: float = 1000.0, unit: str = "ms") -> str:
    """'min .. max over n' for the log lines."""
    return f"min {min(xs) * scale:.1f}{unit}, max {max(xs) * scale:.1f}{unit}, n={len(xs)}"


def load_note() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return ""
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def isolated_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Like tests/e2e/harness.py ``server_env``: no user config, state or data of the real user."""
    env = dict(os.environ)
    env.update({
        "MINICODE_CONFIG": str(home / "user-config.toml"),
        "XDG_STATE_HOME": str(home / "state"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra or {})
    return env


def rss_kb(pid: int) -> int:
    """VmRSS of a process in kB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (clock-tick resolution, usually 10 ms)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sched_ns(pid: int, tid: int | None = None) -> tuple[int, int] | None:
    """(ns on a CPU, ns runnable but waiting for a CPU) of thread ``tid`` of ``pid`` (default: its
    main thread) from ``/proc/PID/task/TID/schedstat``: nanosecond figures, unlike the 10 ms
    ticks of ``cpu_seconds``; the second is what the machine's load costs it. None where the
    kernel keeps no such file."""
    try:
        fields = Path(f"/proc/{pid}/task/{tid or pid}/schedstat").read_text().split()
        return int(fields[0]), int(fields[1])
    except (OSError, IndexError, ValueError):
        return None


# ---------------------------------------------------------------------- raw JSON-RPC over pipes
def frame(msg: dict[str, Any]) -> bytes:
    body = json.dumps(msg, separators=(",", ":")).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_frame(stream: IO[bytes]) -> dict[str, Any] | None:
    length = -1
    while True:
        line = stream.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length < 0:
        return None
    # an unbuffered pipe hands over at most what is in it (64 KiB): read until the body is whole
    chunks: list[bytes] = []
    left = length
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    result: dict[str, Any] = json.loads(b"".join(chunks))
    return result


class RawLsp:
    """A minimal LSP client over pipes, with no framework in the way of the clock.

    A reader thread stamps every message on arrival (``time.perf_counter``), so a request's
    latency is the time from writing it to its reply being read, with no client-side event
    loop or deserialisation in between. Requests from the server (``window/workDoneProgress/create``
    and the like) are answered with ``null`` at once.
    """

    def __init__(self, cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
                 stderr: IO[bytes] | int | None = subprocess.DEVNULL) -> None:
        self.t_spawn = time.perf_counter()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                     env=env, cwd=cwd, bufsize=0)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._stdin = self.proc.stdin
        self._stdout = self.proc.stdout
        self._write_lock = threading.Lock()
        self._next_id = 0
        self._pending: dict[int, tuple[threading.Event, list[Any]]] = {}
        self._lock = threading.Lock()
        self.notifications: list[tuple[float, dict[str, Any]]] = []
        self.notification_count: dict[str, int] = {}
        self.keep_notifications = True
        self._reader = threading.Thread(target=self._read_loop, name="raw-lsp-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _write(self, msg: dict[str, Any]) -> float:
        data = frame(msg)
        with self._write_lock:
            t = time.perf_counter()
            self._stdin.write(data)
        return t

    def _read_loop(self) -> None:
        while True:
            try:
                msg = read_frame(self._stdout)
            except (OSError, ValueError):
                msg = None
            now = time.perf_counter()
            if msg is None:
                with self._lock:
                    for ev, slot in self._pending.values():
                        slot.append((now, {"error": {"message": "server closed the stream"}}))
                        ev.set()
                return
            if "method" in msg and "id" in msg:  # a request from the server
                try:
                    self._write({"jsonrpc": "2.0", "id": msg["id"], "result": None})
                except OSError:
                    pass
            elif "method" in msg:
                method = msg["method"]
                self.notification_count[method] = self.notification_count.get(method, 0) + 1
                if self.keep_notifications:
                    self.notifications.append((now, msg))
            elif "id" in msg:
                with self._lock:
                    waiter = self._pending.pop(msg["id"], None)
                if waiter is not None:
                    waiter[1].append((now, msg))
                    waiter[0].set()

    def send(self, method: str, params: Any) -> tuple[threading.Event, list[Any], float]:
        with self._lock:
            self._next_id += 1
            rid = self._next_id
            ev: threading.Event = threading.Event()
            slot: list[Any] = []
            self._pending[rid] = (ev, slot)
        t = self._write({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        return ev, slot, t

    def request(self, method: str, params: Any, timeout: float = 60) -> tuple[Any, float, float]:
        """(result, seconds from write to reply, arrival time); raises on an error reply."""
        ev, slot, t = self.send(method, params)
        if not ev.wait(timeout):
            raise TimeoutError(f"{method}: no reply in {timeout}s")
        arrived, msg = slot[0]
        if "error" in msg:
            raise RuntimeError(f"{method}: {msg['error']}")
        return msg.get("result"), arrived - t, arrived

    def notify(self, method: str, params: Any) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def wait_notification(self, method: str, timeout: float = 30, after: int = 0) -> tuple[float, dict[str, Any]]:
        """The first notification ``method`` received (skipping the first ``after`` of them)."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            seen = [n for n in list(self.notifications) if n[1]["method"] == method]
            if len(seen) > after:
                return seen[after]
            time.sleep(0.005)
        raise TimeoutError(f"no {method} notification in {timeout}s")

    def initialize(self, root: Path, options: dict[str, Any] | None = None) -> tuple[Any, float]:
        """Send initialize; (result, seconds from process spawn to the reply being read)."""
        params = {
            "processId": os.getpid(),
            "rootUri": root.as_uri(),
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
            "capabilities": {"window": {"workDoneProgress": True}},
            "initializationOptions": options,
        }
        res, _, arrived = self.request("initialize", params, timeout=120)
        return res, arrived - self.t_spawn

    def close(self, timeout: float = 10) -> int:
        """shutdown + exit, then wait; kills the process if it does not end in time."""
        try:
            if self.proc.poll() is None:
                self.request("shutdown", None, timeout=timeout)
                self.notify("exit", None)
        except (OSError, TimeoutError, RuntimeError):
            pass
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()
        finally:
            for f in (self._stdin, self._stdout):
                try:
                    f.close()
                except OSError:
                    pass


def workspace_config(root: Path, base_url: str, store: Path, extra: str = "", *, homes: tuple[Path, ...] = ()) -> None:
    """A `.minicode.toml` pointing at a scripted model server, with the store outside the workspace,
    allowed (workspace trust, as `minicode-lsp trust` does) for this process's state folder and
    for servers run with ``isolated_env(home)`` for each of ``homes``."""
    from minicode_lsp import trust

    path = root / ".minicode.toml"
    path.write_text(
        f'[[providers]]\nname = "scripted"\nkind = "openai"\nbaseUrl = "{base_url}"\nmodel = "scripted"\n\n'
        f'[agent]\npermissionMode = "auto"\n\n[store]\npath = "{store}"\n{extra}',
        encoding="utf-8",
    )
    digest = trust.content_hash(path.read_bytes())
    trust.allow(path, digest)
    for home in homes:
        trust.allow(path, digest, base=home / "state" / trust.APP_NAME)
