"""Replay fixtures: recorded provider replies, each naming its public source.

A fixture is one JSON file under ``fixtures/<vendor>/``::

    {"source": "<public URL or repo+path the bytes come from>",
     "kind": "openai" | "anthropic",           # the wire format (our provider kind)
     "status": 200, "content_type": "text/event-stream",
     "body": ["data: {...}", "", ...],          # lines, joined with "\\n" (the bytes as sent)
     "expect": {"text": ..., "thought": ..., "tool_calls": [{"id", "name", "arguments"}],
                "finish_reason": ..., "usage": [in, out],
                "error": {"context_too_long": bool, "retryable": bool, "hint_has": "...",
                          "status": N}}}

Expected values are derived independently of our parser: from the vendor's own documentation
or SDK test of the same bytes (named in ``source``), never from running our code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent / "fixtures"


@dataclass
class Fixture:
    name: str
    vendor: str
    source: str
    kind: str
    status: int
    content_type: str
    body: bytes
    expect: dict[str, Any]


def load(path: Path) -> Fixture:
    d = json.loads(path.read_text(encoding="utf-8"))
    body = d["body"]
    raw = ("\n".join(body) if isinstance(body, list) else str(body)).encode("utf-8")
    return Fixture(name=f"{path.parent.name}/{path.stem}", vendor=path.parent.name, source=str(d["source"]),
                   kind=str(d["kind"]), status=int(d.get("status", 200)),
                   content_type=str(d.get("content_type", "text/event-stream")), body=raw,
                   expect=dict(d.get("expect") or {}))


def all_fixtures() -> list[Fixture]:
    return [load(p) for p in sorted(ROOT.glob("*/*.json"))]
