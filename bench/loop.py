"""The agent loop's own overhead per step, and readiness latency while a turn streams.

(a) Overhead per step. A 20-step turn (19 replies that each call one cheap tool,
``list_files`` or ``read_file`` on a tiny file, then a text answer) against the scripted
model server answering at once, run through ``Service`` with ``HeadlessFrontend`` (as
``minicode-lsp demo`` and ``run`` do). Baseline, in the same run and interleaved with the
turns: the same 20 request bodies (as the provider sent them, recorded by the server) sent
with an ``httpx.AsyncClient`` straight to the same server, the same replies streamed back
and read to the end, no loop. Overhead per step = (median turn time - median raw HTTP time)
/ 20: everything the product adds around the model (provider parsing, kernel, tools,
events, the session store, checkpoints). Target: under 3 ms per step.

(b) Readiness while streaming. The real server (``python -m minicode_lsp serve`` over stdio,
driven by a raw JSON-RPC client that stamps replies in a reader thread) answers
``minicode.readiness`` requests sent one at a time, 10 ms apart; p99 of their latency while a
turn streams ~200 ``text.delta`` events per second (one long text reply streamed by the
scripted server with ``chunk_delay_s``), against the p99 of the same requests with no turn
running, measured in the same run (idle, streaming, idle, streaming, ...). Target: p99 under
15 ms while streaming.

The model server runs as its own process (``python -m minicode_lsp.testing.model_server``),
so it never competes with the code being measured for the GIL.

    .venv/bin/python bench/loop.py [--turns 9] [--requests 300] [--rounds 2] [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _common import (
    PYTHON,
    RawLsp,
    cpu_seconds,
    isolated_env,
    load_note,
    median,
    percentile,
    result,
    spread,
    workspace_config,
)

STEPS = 20
OVERHEAD_TARGET_MS = 3.0
P99_TARGET_MS = 15.0
EVENTS_PER_S = 200
GAP_S = 0.010


# ---------------------------------------------------------------------- the scripted model server
# The scripted server writes a reply's headers and body (and each SSE chunk) as separate small
# writes; with Nagle's algorithm on, the client's delayed ACK then stalls each reply by ~40 ms,
# which would drown the few milliseconds measured here. The stdlib knob below sets TCP_NODELAY
# on its sockets (as real model APIs do); the server's code is unchanged.
PLAIN_LAUNCHER = "import sys; from minicode_lsp.testing.model_server import main; sys.exit(main(sys.argv[1:]))"
NODELAY_LAUNCHER = (
    "import sys; from minicode_lsp.testing import model_server as m; "
    "m._Handler.disable_nagle_algorithm = True; sys.exit(m.main(sys.argv[1:]))"
)
class ModelServerProcess:
    """``python -m minicode_lsp.testing.model_server`` in its own process, driven over HTTP."""

    def __init__(self, base: Path, *, nodelay: bool = True) -> None:
        port_file = base / "model-port"
        self.proc = subprocess.Popen(
            [PYTHON, "-c", NODELAY_LAUNCHER if nodelay else PLAIN_LAUNCHER, "--port-file", str(port_file)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("the scripted model server did not start")
            time.sleep(0.02)
        self.base_url = port_file.read_text().strip()
        self.http = httpx.Client(base_url=self.base_url, timeout=30)

    @property
    def openai_url(self) -> str:
        return self.base_url + "/v1"

    def script(self, replies: list[dict[str, Any]]) -> None:
        self.http.post("/_control/reset").raise_for_status()
        self.http.post("/_control/script", json=replies).raise_for_status()

    def model_requests(self) -> list[dict[str, Any]]:
        reqs: list[dict[str, Any]] = self.http.get("/_control/requests").json()
        return [r for r in reqs if r["wire"]]

    def close(self) -> None:
        self.http.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def make_workspace(base: Path, name: str, model_url: str) -> Path:
    root = base / name
    (root / "src").mkdir(parents=True)
    for i in range(4):
        (root / "src" / f"mod{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    (root / "README.md").write_text("A tiny project for the loop benchmark.\n")
    workspace_config(root, model_url, base / f"{name}-store", homes=(base / "home", base / "home-stream"))
    return root


def step_script() -> list[dict[str, Any]]:
    replies: list[dict[str, Any]] = []
    for i in range(STEPS - 1):
        if i % 2 == 0:
            call = {"name": "read_file", "arguments": {"path": f"src/mod{(i // 2) % 4}.py"}}
        else:
            call = {"name": "list_files", "arguments": {"path": "src" if i % 4 == 1 else "."}}
        replies.append({"tool_calls": [call]})
    replies.append({"text": "Done: the project has four tiny modules."})
    return replies


# ---------------------------------------------------------------------- (a) overhead per step
async def one_turn(svc: Any, model: ModelServerProcess, finished: list[dict[str, Any]]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) for one 20-step turn."""
    from minicode_lsp import protocol as p

    model.script(step_script())
    finished.clear()
    c0, t0 = time.process_time(), time.perf_counter()
    svc.tasks.run(p.TaskRunArgs(prompt="Look around the project and say what is in it."))
    await svc.tasks.wait_idle()
    took, cpu = time.perf_counter() - t0, time.process_time() - c0
    data = finished[-1] if finished else {}
    if data.get("stopReason") != "done" or data.get("steps") != STEPS:
        raise RuntimeError(f"the benchmark turn did not run {STEPS} steps to done: {data}")
    return took, cpu


async def raw_http(model: ModelServerProcess, bodies: list[dict[str, Any]],
                   headers: dict[str, str]) -> tuple[float, float]:
    """The same requests, the same replies, the same kind of client, no loop: (wall, CPU) seconds.

    Like the provider, each stream is read up to its ``[DONE]`` line and then closed (so each
    request opens a new connection, as it does in the turn).
    """
    model.script(step_script())
    url = model.openai_url + "/chat/completions"
    c0, t0 = time.process_time(), time.perf_counter()
    async with httpx.AsyncClient() as client:
        for body in bodies:
            async with client.stream("POST", url, json=body, headers=headers) as response:
                async for line in response.aiter_lines():
                    if line.strip() == "data: [DONE]":
                        break
    return time.perf_counter() - t0, time.process_time() - c0


async def overhead(base: Path, model: ModelServerProcess, turns: int,
                   profile: bool) -> tuple[float, float, float, float]:
    from minicode_lsp import protocol as p
    from minicode_lsp.service import HeadlessFrontend, Service

    root = make_workspace(base, "ws-loop", model.openai_url)
    finished: list[dict[str, Any]] = []
    events = [0]

    def on_publish(method: str, payload: dict[str, Any]) -> None:
        if method == p.NOTIFY_EVENT:
            events[0] += 1
            if payload["type"] == p.EV_TURN_FINISHED:
                finished.append(payload["data"])

    svc = Service(root, HeadlessFrontend(interactive=False, on_publish=on_publish))
    client_t: list[float] = []
    try:
        await one_turn(svc, model, finished)  # warm-up: first-turn imports, SQLite caches
        reqs = model.model_requests()
        bodies = [r["body"] for r in reqs]
        headers = {k: v for k, v in reqs[0]["headers"].items() if k in ("content-type", "accept")}
        assert len(bodies) == STEPS, len(bodies)
        await raw_http(model, bodies, headers)  # warm-up
        turn_m: list[tuple[float, float]] = []
        raw_m: list[tuple[float, float]] = []
        events[0] = 0
        for i in range(turns):
            if i % 2 == 0:
                turn_m.append(await one_turn(svc, model, finished))
                raw_m.append(await raw_http(model, bodies, headers))
            else:
                raw_m.append(await raw_http(model, bodies, headers))
                turn_m.append(await one_turn(svc, model, finished))
        per_turn_events = events[0] // turns
        for _ in range(5):
            t0 = time.perf_counter()
            async with httpx.AsyncClient():
                pass
            client_t.append(time.perf_counter() - t0)
        if profile:
            prof = cProfile.Profile()
            prof.enable()
            await one_turn(svc, model, finished)
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
            print("profile of one 20-step turn (sorted by own time):")
            print("\n".join(out.getvalue().splitlines()[:45]))
    finally:
        await svc.shutdown()
        svc.close()
    turn_t, turn_c = [m[0] for m in turn_m], [m[1] for m in turn_m]
    raw_t, raw_c = [m[0] for m in raw_m], [m[1] for m in raw_m]
    t, r, tc, rc = median(turn_t), median(raw_t), median(turn_c), median(raw_c)
    print(f"(a) a {STEPS}-step turn, {turns} turns and {turns} raw-HTTP runs interleaved; medians ({load_note()})")
    print(f"    turn through Service + HeadlessFrontend: wall {t * 1000:7.1f} ms ({spread(turn_t)}), "
          f"CPU {tc * 1000:6.1f} ms; {per_turn_events} events per turn")
    print(f"    raw HTTP, same 20 requests/replies:     wall {r * 1000:7.1f} ms ({spread(raw_t)}), "
          f"CPU {rc * 1000:6.1f} ms")
    print(f"    (each turn makes a new httpx.AsyncClient, {median(client_t) * 1000:.0f} ms: mostly loading the CA "
          f"bundle; the baseline makes one too, so it is not in the overhead below)")
    return t, r, tc, rc


# ---------------------------------------------------------------------- (b) readiness while streaming
def readiness_latencies(client: RawLsp, n: int) -> list[float]:
    params = {"command": "minicode.readiness", "arguments": [{}]}
    out = []
    for _ in range(n):
        _, took, _ = client.request("workspace/executeCommand", params, timeout=30)
        out.append(took)
        time.sleep(GAP_S)
    return out


def is_event(msg: dict[str, Any], type_: str) -> bool:
    return msg["method"] == "minicode/event" and msg["params"]["type"] == type_


def count_events(client: RawLsp, type_: str) -> int:
    return sum(1 for _, m in list(client.notifications) if is_event(m, type_))


def text_deltas(client: RawLsp, t0: float, t1: float) -> int:
    return sum(1 for at, m in list(client.notifications) if t0 <= at <= t1 and is_event(m, "text.delta"))


def streaming(base: Path, model: ModelServerProcess, n: int,
              rounds: int) -> tuple[list[float], list[float], float, float]:
    """(idle latencies, streaming latencies, text.delta events/s, server CPU ms per text.delta)."""
    root = make_workspace(base, "ws-stream", model.openai_url)
    client = RawLsp([PYTHON, "-m", "minicode_lsp", "serve"], env=isolated_env(base / "home-stream"), cwd=root)
    idle: list[float] = []
    busy: list[float] = []
    rates: list[float] = []
    cpu_per_event: list[float] = []
    try:
        client.initialize(root)
        client.notify("initialized", {})
        client.wait_notification("minicode/readiness", timeout=60)
        readiness_latencies(client, 20)  # warm-up
        # enough words to outlast the measurement at 200/s even if requests are slow
        words = int(EVENTS_PER_S * n * (GAP_S + 0.02) * 2) + 400
        for _ in range(rounds):
            idle += readiness_latencies(client, n)
            model.script([{"text": " ".join(f"w{i}" for i in range(words)), "chunk_delay_s": 1 / EVENTS_PER_S}])
            seen = len(client.notifications)
            run, _, _ = client.request("workspace/executeCommand", {
                "command": "minicode.task.run", "arguments": [{"prompt": "Stream a long answer."}]})
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(
                    is_event(m, "text.delta") for _, m in list(client.notifications)[seen:]):
                time.sleep(0.01)
            t0, c0 = time.perf_counter(), cpu_seconds(client.pid)
            busy += readiness_latencies(client, n)
            t1, c1 = time.perf_counter(), cpu_seconds(client.pid)
            deltas = text_deltas(client, t0, t1)
            rates.append(deltas / (t1 - t0))
            cpu_per_event.append((c1 - c0) / max(1, deltas) * 1000)
            finished_before = count_events(client, "turn.finished")
            client.request("workspace/executeCommand", {
                "command": "minicode.task.cancel", "arguments": [{"sessionId": run["sessionId"]}]})
            deadline = time.monotonic() + 30
            while count_events(client, "turn.finished") == finished_before and time.monotonic() < deadline:
                time.sleep(0.02)
    finally:
        client.close()
    return idle, busy, median(rates), median(cpu_per_event)


# ---------------------------------------------------------------------- main
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--turns", type=int, default=9, help="20-step turns (and raw-HTTP runs) to time (default 9)")
    ap.add_argument("--requests", type=int, default=300, help="readiness requests per phase (default 300)")
    ap.add_argument("--rounds", type=int, default=2, help="idle/streaming rounds (default 2)")
    ap.add_argument("--quick", action="store_true", help="3 turns; 1 round of 200 requests")
    ap.add_argument("--profile", action="store_true", help="also profile one turn with cProfile")
    args = ap.parse_args()
    turns, n, rounds = (3, 200, 1) if args.quick else (args.turns, args.requests, args.rounds)

    base = Path(tempfile.mkdtemp(prefix="bench-loop-"))
    os.environ.update(isolated_env(base / "home"))  # the in-process Service: no user config or state
    model = ModelServerProcess(base)
    try:
        turn_s, raw_s, turn_cpu, raw_cpu = asyncio.run(overhead(base, model, turns, args.profile))
        idle, busy, rate, cpu_event = streaming(base, model, n, rounds)
    finally:
        model.close()
        shutil.rmtree(base, ignore_errors=True)

    per_step = (turn_s - raw_s) / STEPS * 1000
    per_step_cpu = (turn_cpu - raw_cpu) / STEPS * 1000
    print(f"    overhead per step = ({turn_s * 1000:.1f} - {raw_s * 1000:.1f}) ms / {STEPS} = {per_step:.2f} ms "
          f"wall (raw HTTP per step {raw_s / STEPS * 1000:.2f} ms)")
    print(f"    in CPU time of this process (the model server is another process; load barely moves it): "
          f"({turn_cpu * 1000:.1f} - {raw_cpu * 1000:.1f}) ms / {STEPS} = {per_step_cpu:.2f} ms")
    p99_idle, p99_busy = percentile(idle, 99) * 1000, percentile(busy, 99) * 1000
    print(f"(b) minicode.readiness through the real server, {len(idle)} requests idle and {len(busy)} while "
          f"streaming, {GAP_S * 1000:.0f} ms apart, {rounds} round(s) ({load_note()})")
    def over(xs: list[float]) -> str:
        return f"{sum(x * 1000 > P99_TARGET_MS for x in xs)} over {P99_TARGET_MS:g} ms"

    print(f"    idle:      median {median(idle) * 1000:.2f} ms, p99 {p99_idle:.2f} ms, max {max(idle) * 1000:.1f} ms, "
          f"{over(idle)}")
    print(f"    streaming: median {median(busy) * 1000:.2f} ms, p99 {p99_busy:.2f} ms, max {max(busy) * 1000:.1f} ms, "
          f"{over(busy)}; "
          f"text.delta events received {rate:.0f}/s (asked for {EVENTS_PER_S}/s)")
    print(f"    the server's CPU while streaming: {cpu_event:.2f} ms per text.delta event (readiness requests "
          f"included), i.e. {cpu_event * rate / 10:.0f}% of a core")
    result("loop.overhead_per_step", per_step, "ms", target=f"<{OVERHEAD_TARGET_MS:g}ms",
           baseline=raw_s / STEPS * 1000, ratio=turn_s / raw_s, ok=per_step < OVERHEAD_TARGET_MS)
    result("loop.overhead_per_step_cpu", per_step_cpu, "ms", target=f"<{OVERHEAD_TARGET_MS:g}ms",
           baseline=raw_cpu / STEPS * 1000, ratio=turn_cpu / raw_cpu, ok=per_step_cpu < OVERHEAD_TARGET_MS)
    result("loop.readiness_p99_streaming", p99_busy, "ms", target=f"<{P99_TARGET_MS:g}ms", baseline=p99_idle,
           ok=p99_busy < P99_TARGET_MS)
    print(json.dumps({"turn_ms": round(turn_s * 1000, 1), "raw_ms": round(raw_s * 1000, 1),
                      "turn_cpu_ms": round(turn_cpu * 1000, 1), "raw_cpu_ms": round(raw_cpu * 1000, 1),
                      "p99_idle_ms": round(p99_idle, 2), "p99_streaming_ms": round(p99_busy, 2),
                      "events_per_s": round(rate), "server_cpu_ms_per_event": round(cpu_event, 2)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
