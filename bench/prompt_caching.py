"""Prompt-caching benchmark: input tokens billed per step over a 20-step turn, with and without
Anthropic prompt caching, through the real loop and the real httpx Anthropic provider.

The server on 127.0.0.1 plays Claude's part and bills like Anthropic's cache does: a request's
prefix (tools, then system, then messages, in that order) is read from the cache up to the
longest prefix that an earlier request wrote at one of its ``cache_control`` breakpoints
(billed 0.1x); prefix tokens up to this request's last breakpoint beyond that are written
(1.25x); the rest is plain input (1x). Tokens are estimated as JSON characters / 4. The model
reads one 2 KB file per step for 19 steps, then answers.

Figure: billed input tokens (input + 1.25 x writes + 0.1 x reads), summed over the turn, with
caching; baseline: the same turn without breakpoints. Target: under half.

    .venv/bin/python bench/prompt_caching.py [--steps 20] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import load_note, result  # noqa: E402

from minicode_lsp.agent.loop import TurnSettings, run_turn  # noqa: E402
from minicode_lsp.agent.ports import Ports  # noqa: E402
from minicode_lsp.agent.providers.anthropic import AnthropicProvider  # noqa: E402
from minicode_lsp.agent.providers.base import ProviderSpec  # noqa: E402


def _tokens(block: Any) -> int:
    if isinstance(block, dict):
        block = {k: v for k, v in block.items() if k != "cache_control"}
    return max(1, len(json.dumps(block, sort_keys=True)) // 4)


class CacheBiller:
    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.cached: set[str] = set()
        self.per_step: list[dict[str, int]] = []

    def bill(self, body: dict[str, Any]) -> dict[str, int]:
        system = body.get("system") or []
        system = [{"type": "text", "text": system}] if isinstance(system, str) else system
        blocks = list(body.get("tools") or []) + list(system)
        for m in body["messages"]:
            blocks += [{"role": m["role"], **b} for b in m["content"]]
        digest, prefix_keys, sizes, breaks = hashlib.sha256(), [], [], []
        total = 0
        for i, b in enumerate(blocks):
            digest.update(json.dumps({k: v for k, v in b.items() if k != "cache_control"}, sort_keys=True).encode())
            prefix_keys.append(digest.hexdigest())
            total += _tokens(b)
            sizes.append(total)
            if "cache_control" in b:
                breaks.append(i)
        read = next((sizes[i] for i in reversed(range(len(blocks))) if prefix_keys[i] in self.cached), 0)
        write = max(0, sizes[breaks[-1]] - read) if breaks else 0
        for i in breaks:
            self.cached.add(prefix_keys[i])
        usage = {"input_tokens": total - read - write, "cache_read_input_tokens": read,
                 "cache_creation_input_tokens": write}
        self.per_step.append(usage)
        return usage

    def reply(self, body: dict[str, Any]) -> bytes:
        usage = self.bill(body)
        step = sum(1 for m in body["messages"] for b in m["content"] if b.get("type") == "tool_result")
        if step < self.steps - 1:
            block = {"type": "tool_use", "id": f"toolu_{step:02d}", "name": "read_file", "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps({"path": f"src/f{step}.py"})}
            stop = "tool_use"
        else:
            block, delta, stop = {"type": "text", "text": ""}, {"type": "text_delta", "text": "All read."}, "end_turn"
        events = [{"type": "message_start", "message": {"usage": {**usage, "output_tokens": 1}}},
                  {"type": "content_block_start", "index": 0, "content_block": block},
                  {"type": "content_block_delta", "index": 0, "delta": delta},
                  {"type": "content_block_stop", "index": 0},
                  {"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 30}},
                  {"type": "message_stop"}]
        return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def serve(biller: CacheBiller) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            data = biller.reply(body)
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class Events:
    async def emit(self, type: str, data: dict[str, Any]) -> None:
        pass


async def one_turn(steps: int, caching: bool, root: Path) -> CacheBiller:
    biller = CacheBiller(steps)
    httpd = serve(biller)
    try:
        host, port = httpd.server_address[:2]
        spec = ProviderSpec(name="claude", kind="anthropic", base_url=f"http://{host!s}:{port}", model="claude",
                            api_key="bench", prompt_caching=caching)
        provider = AnthropicProvider(spec)
        ports = Ports.local(root, events=Events()) if hasattr(Ports, "local") else None
        if ports is None:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.unit.agent.fakes import make_ports
            ports = make_ports(root).ports
        out = await run_turn(prompt="Read every file under src and summarise them.", history=[], provider=provider,
                             ports=ports, settings=TurnSettings(permission_mode="auto", max_steps=steps + 5,
                                                                context_window=200_000),
                             cancel=asyncio.Event())
        await provider.aclose()
        assert out.stop_reason == "done", (out.stop_reason, out.error)
    finally:
        httpd.shutdown()
    return biller


def billed(usage: dict[str, int]) -> float:
    return (usage["input_tokens"] + 1.25 * usage["cache_creation_input_tokens"]
            + 0.1 * usage["cache_read_input_tokens"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        (root / "src").mkdir()
        for i in range(args.steps):
            (root / "src" / f"f{i}.py").write_text("".join(f"value_{i}_{j} = {j} * {i}  # line\n"
                                                           for j in range(60)))
        with_cache = asyncio.run(one_turn(args.steps, True, root))
        without = asyncio.run(one_turn(args.steps, False, root))
    a = [billed(u) for u in with_cache.per_step]
    b = [billed(u) for u in without.per_step]
    print(load_note())
    print("step  billed-with  billed-without  (read / write / plain, with caching)")
    for i, (x, y, u) in enumerate(zip(a, b, with_cache.per_step, strict=False)):
        print(f"{i + 1:4d}  {x:11.0f}  {y:14.0f}  ({u['cache_read_input_tokens']} / "
              f"{u['cache_creation_input_tokens']} / {u['input_tokens']})")
    result("prompt_caching_billed_input_per_turn", sum(a), "tokens", target="<0.5x of no caching",
           ok=sum(a) < 0.5 * sum(b), baseline=sum(b))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
