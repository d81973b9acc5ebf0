"""Terminal output shared by the CLI and the demo: the event timeline and colored diffs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from . import protocol as p

RESET, DIM, RED, GREEN, CYAN, BOLD = "\033[0m", "\033[2m", "\033[31m", "\033[32m", "\033[36m", "\033[1m"


def color(text: str, code: str) -> str:
    return f"{code}{text}{RESET}" if sys.stdout.isatty() and not os.environ.get("NO_COLOR") else text


def color_diff(diff: str) -> str:
    out = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            out.append(color(line, BOLD))
        elif line.startswith("+"):
            out.append(color(line, GREEN))
        elif line.startswith("-"):
            out.append(color(line, RED))
        elif line.startswith("@@"):
            out.append(color(line, CYAN))
        else:
            out.append(line)
    return "\n".join(out)


class EventPrinter:
    """Streams the turn's events to stderr as a readable timeline."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr
        self.finished: dict[str, Any] = {}
        self._in_text = False

    def __call__(self, method: str, payload: dict[str, Any]) -> None:
        if method != p.NOTIFY_EVENT:
            return
        kind, data = payload["type"], payload.get("data", {})
        if kind == p.EV_TEXT_DELTA:
            self.stream.write(data.get("text", ""))
            self._in_text = True
            return
        if self._in_text:
            self.stream.write("\n")
            self._in_text = False
        line = self.describe(kind, data)
        if line:
            self.stream.write(f"[{payload['seq']:>3}] {line}\n")
        self.stream.flush()
        if kind == p.EV_TURN_FINISHED:
            self.finished = data

    @staticmethod
    def describe(kind: str, data: dict[str, Any]) -> str:
        if kind == p.EV_TURN_STARTED:
            return f"turn started ({data.get('permissionMode')}, {data.get('profile')}): {data.get('prompt', '')[:100]}"
        if kind == p.EV_TOOL_STARTED:
            args = json.dumps(data.get("arguments", {}), ensure_ascii=False)
            return f"tool {data.get('name')} {args[:160]}"
        if kind == p.EV_TOOL_FINISHED:
            mark = "failed" if data.get("isError") else "ok"
            line = f"  -> {mark}: {str(data.get('summary', ''))[:160]}"
            if data.get("name") == "run_command":  # the command's last lines: what a user looks for
                tail = str(data.get("output", "")).rstrip().splitlines()[1:][-6:]
                line += "".join(f"\n       | {t[:160]}" for t in tail)
            return line
        if kind == p.EV_FILES_CHANGED:
            files = ", ".join(f"{f.get('action')} {Path(f.get('uri', '')).name}" for f in data.get("files", []))
            return f"  checkpoint {str(data.get('groupId'))[:8]}: {files}"
        if kind == p.EV_TURN_FINISHED:
            usage = data.get("usage", {})
            return (f"turn finished: {data.get('stopReason')} "
                    f"(tokens in {usage.get('inputTokens', 0)}, out {usage.get('outputTokens', 0)})")
        if kind == p.EV_ERROR:
            line = f"error: {data.get('message', '')}"
            return line + (f"\n       hint: {data['hint']}" if data.get("hint") else "")
        if kind == p.EV_PROVIDER_FALLBACK:
            return (f"provider {data.get('fromProvider')} failed ({data.get('reason', '')}); "
                    f"trying {data.get('toProvider')}")
        if kind in (p.EV_APPROVAL_REQUESTED, p.EV_CONTEXT_COMPACTED):
            return f"{kind}: {json.dumps(data, ensure_ascii=False)[:200]}"
        return ""


