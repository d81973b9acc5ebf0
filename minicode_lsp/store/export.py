"""A session as text: the deterministic summary and the markdown transcript (the jsonl export,
events as the wire carries them, is built in the service: ``service/wire.py``).

Session and turn times are ISO-8601 UTC strings; an event's ``at`` is epoch seconds (float).
Nothing here re-reads secrets: events are redacted when written, and exports pass every
value through the store's redactor once more (secrets learned after the write).
"""

from __future__ import annotations

import json
from typing import Any

from minicode_lsp.store.records import EventRow, iso
from minicode_lsp.store.sessions import SessionStore


# ------------------------------------------------------------------ helpers
def _tokens(usage: dict[str, Any]) -> tuple[int, int]:
    def num(*keys: str) -> int:
        for k in keys:
            v = usage.get(k)
            if isinstance(v, int | float):
                return int(v)
        return 0

    return num("inputTokens", "input_tokens"), num("outputTokens", "output_tokens")


def _fence(text: str, lang: str = "") -> str:
    longest = max((len(r) for line in text.splitlines() for r in _backtick_runs(line)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _backtick_runs(line: str) -> list[str]:
    runs, cur = [], ""
    for ch in line:
        if ch == "`":
            cur += ch
        elif cur:
            runs.append(cur)
            cur = ""
    return [*runs, cur] if cur else runs


def _inline(text: str, limit: int = 200) -> str:
    one = " ".join(str(text).split())
    one = one if len(one) <= limit else one[: limit - 1] + "…"
    return "`` " + one + " ``" if "`" in one else "`" + one + "`"


def _tool_name(data: dict[str, Any]) -> str:
    return str(data.get("name") or data.get("tool") or "tool")


def _tool_args(data: dict[str, Any]) -> dict[str, Any]:
    args = data.get("arguments", data.get("args", {}))
    return args if isinstance(args, dict) else {}


def _changed_files(data: dict[str, Any]) -> list[str]:
    """One line per file: from ``files`` (with the action) when present, else from ``uris``."""
    files = data.get("files") or []
    out: list[str] = [] if files else [str(u) for u in data.get("uris", []) or []]
    for f in files:
        if isinstance(f, dict) and f.get("uri"):
            out.append(f"{f['uri']} ({f['action']})" if f.get("action") else str(f["uri"]))
        elif isinstance(f, str):
            out.append(f)
    return out


def _result_text(data: dict[str, Any]) -> str:
    for key in ("output", "summary", "result", "content", "error"):
        if data.get(key):
            return str(data[key])
    return ""


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


# ------------------------------------------------------------------ summary
def summary_markdown(store: SessionStore, session_id: str) -> str:
    """Deterministic: the same session always gives the same text (no clocks, no model)."""
    session = store.get_session(session_id)
    turns = store.list_turns(session_id)
    events = store.replay(session_id)
    files: list[str] = []
    commands: list[str] = []
    for ev in events:
        if ev.type == "files.changed":
            files += _changed_files(ev.data)
        elif ev.type == "tool.started" and _tool_name(ev.data) == "run_command":
            commands.append(str(_tool_args(ev.data).get("command", "")))
    if not any(ev.type == "tool.started" for ev in events):  # older records: tool_calls table
        commands += [str(tc.arguments.get("command", "")) for t in turns for tc in t.tool_calls
                     if tc.name == "run_command"]  # fmt: skip
    total_in = total_out = 0
    lines = [f"# Session summary: {session.title or session.id}", ""]
    lines += [f"- Session: `{session.id}`", f"- Created: {iso(session.created_at)}",
              f"- Updated: {iso(session.updated_at)}", f"- Turns: {len(turns)}", ""]  # fmt: skip
    lines += ["## Prompts", ""]
    for t in turns:
        tin, tout = _tokens(t.usage)
        total_in, total_out = total_in + tin, total_out + tout
        stop = t.stop_reason or t.status
        first = t.prompt.strip().splitlines()[0] if t.prompt.strip() else "(empty)"
        lines.append(f"{t.seq}. {first} — stop reason: `{stop}`, tokens: {tin} in / {tout} out")
    lines += ["", "## Files changed", ""]
    lines += [f"- {f}" for f in _dedupe(files)] or ["- (none)"]
    lines += ["", "## Commands run", ""]
    lines += [f"- {_inline(c)}" for c in _dedupe([c for c in commands if c])] or ["- (none)"]
    reasons = _dedupe([t.stop_reason or t.status for t in turns])
    lines += ["", "## Stop reasons", "", "- " + (", ".join(f"`{r}`" for r in reasons) or "(none)")]
    lines += ["", "## Tokens", "", f"- Input: {total_in}", f"- Output: {total_out}",
              f"- Total: {total_in + total_out}", ""]  # fmt: skip
    return store.redactor.text("\n".join(lines))


# ------------------------------------------------------------------ exports
def export_markdown(store: SessionStore, session_id: str) -> str:
    """A readable transcript: prompts, the assistant's text, tool calls and results,
    files changed, stop reasons and usage, turn by turn."""
    session = store.get_session(session_id)
    turns = store.list_turns(session_id)
    by_turn: dict[str | None, list[EventRow]] = {}
    for ev in store.replay(session_id):
        by_turn.setdefault(ev.turn_id, []).append(ev)
    out = [f"# {session.title or 'Session'}", "",
           f"Session `{session.id}` · created {iso(session.created_at)} · updated {iso(session.updated_at)}"
           + (f" · workspace `{session.workspace}`" if session.workspace else ""), ""]  # fmt: skip
    for t in turns:
        out += [f"## Turn {t.seq} — {iso(t.started_at)}", "", "**Prompt**", ""]
        out += ["> " + ln if ln else ">" for ln in (t.prompt or "(empty)").splitlines()] + [""]
        out += _render_events(by_turn.get(t.id, []))
        tin, tout = _tokens(t.usage)
        stop = t.stop_reason or t.status
        meta = f"**Stop reason:** `{stop}` · tokens {tin} in / {tout} out"
        out += [meta + (f" · provider `{t.provider}`" if t.provider else ""), ""]
        if t.error:
            out += [f"**Error:** {t.error}", ""]
    return store.redactor.text("\n".join(out).rstrip() + "\n")


def _render_events(events: list[EventRow]) -> list[str]:
    out: list[str] = []
    text: list[str] = []

    def flush() -> None:
        if "".join(text).strip():
            out.extend(["**Assistant**", "", "".join(text).strip(), ""])
        text.clear()

    for ev in events:
        d = ev.data
        if ev.type == "text.delta":
            text.append(str(d.get("text", d.get("delta", ""))))
            continue
        flush()
        if ev.type == "tool.started":
            args = json.dumps(_tool_args(d), ensure_ascii=False, sort_keys=True)
            out += [f"**Tool** `{_tool_name(d)}`", "", _fence(args, "json"), ""]
        elif ev.type == "tool.finished":
            status = "error" if d.get("isError") or d.get("is_error") else "ok"
            result = _result_text(d)
            out += (
                [f"Result ({status}):", "", _fence(result[:2000]), ""]
                if result
                else [f"Result: {status}", ""]
            )
        elif ev.type == "files.changed":
            out += ["**Files changed**", ""] + [f"- {f}" for f in _changed_files(d)] + [""]
        elif ev.type == "provider.fallback":
            out += [f"_Provider fallback: {json.dumps(d, ensure_ascii=False, sort_keys=True)}_", ""]
        elif ev.type == "error":
            out += [f"**Error:** {d.get('message', json.dumps(d, ensure_ascii=False))}", ""]
        elif ev.type == "context.compacted":
            out += ["_Context compacted._", ""]
    flush()
    return out
