"""Working memory: the task's own state, kept apart from the conversation.

Goal, the constraints the user stated, the files touched, decisions, open questions and
notes. The loop updates it (the goal and constraints from each prompt, the files from tool
results) and the model adds to it with the ``remember`` tool. It is rendered into the
system prompt of every request and is never compacted away; ``to_dict``/``from_dict``
carry it from one turn of a session to the next (the service stores it with the turn).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .tools.paths import display_path

KINDS = ("goal", "constraint", "decision", "question", "note")
MAX_ITEMS = 12  # per list; the oldest go first
MAX_FILES = 30
MAX_TEXT = 300
MAX_GOAL = 600
# A sentence of the prompt that reads like a constraint ("do not touch X", "must keep Y").
_CONSTRAINT = re.compile(
    r"\b(don't|do not|never|must|mustn't|must not|always|only|without|avoid|keep|no more than|"
    r"at most|should not|shouldn't)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_LIST_KEYS = {"constraint": "constraints", "decision": "decisions", "question": "questions", "note": "notes"}


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def stated_constraints(prompt: str) -> list[str]:
    """The sentences of a prompt that state a constraint (a cheap keyword heuristic)."""
    out = []
    for sentence in _SENTENCE.split(prompt):
        s = sentence.strip(" -*\t")
        if 8 <= len(s) <= 400 and _CONSTRAINT.search(s):
            out.append(_clip(s))
    return out


@dataclass
class WorkingMemory:
    goal: str = ""
    constraints: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # display path -> "read" | "create" | "modify" | "delete" (the strongest action seen)
    files: dict[str, str] = field(default_factory=dict)
    # The session's compaction state (agent/compaction.py ContextState): carried, not rendered.
    context: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ updates
    def begin_turn(self, prompt: str) -> None:
        """A new prompt: it becomes the goal; the constraints it states are kept."""
        if prompt.strip():
            self.goal = _clip(prompt, MAX_GOAL)
        for c in stated_constraints(prompt):
            self._add(self.constraints, c)

    def remember(self, kind: str, text: str) -> str:
        """Record one item (the ``remember`` tool); returns what was stored."""
        text = _clip(text)
        if kind == "goal":
            self.goal = _clip(text, MAX_GOAL)
        else:
            self._add(getattr(self, _LIST_KEYS[kind]), text)
        return text

    def touch(self, path: str, action: str) -> None:
        rank = {"read": 0, "create": 1, "modify": 2, "delete": 3}
        old = self.files.pop(path, None)  # re-insert: most recent last
        if old is not None and rank.get(old, 0) > rank.get(action, 0) and action != "create":
            action = old
        self.files[path] = action
        while len(self.files) > MAX_FILES:
            del self.files[next(iter(self.files))]

    def observe(self, name: str, kind: str, meta: dict[str, Any], changed: list[str], roots: list[Path]) -> None:
        """After a tool call: note the files it read or changed, and what it asked to remember."""
        wanted = meta.get("remember")
        if isinstance(wanted, dict) and wanted.get("kind") in KINDS:
            self.remember(str(wanted["kind"]), str(wanted.get("text", "")))
        path = meta.get("path")
        if isinstance(path, str) and path:
            action = meta.get("action") or ("read" if kind == "read" else "modify")
            self.touch(display_path(Path(path), roots), str(action))
        for p in changed:
            if p != path:  # a command's changes (the checkpoint group's paths)
                self.touch(display_path(Path(p), roots), "modify" if Path(p).exists() else "delete")

    @staticmethod
    def _add(items: list[str], text: str) -> None:
        if not text or text in items:
            return
        items.append(text)
        del items[: max(0, len(items) - MAX_ITEMS)]

    # ------------------------------------------------------------------ rendering
    def render(self) -> str:
        """The system prompt section (empty when there is nothing to say)."""
        lines: list[str] = []
        if self.goal:
            lines.append(f"Goal: {self.goal}")
        for title, items in (
            ("Constraints the user stated", self.constraints),
            ("Decisions", self.decisions),
            ("Open questions", self.questions),
            ("Notes", self.notes),
        ):
            if items:
                lines.append(f"{title}:")
                lines.extend(f"- {i}" for i in items)
        if self.files:
            lines.append("Files touched: " + ", ".join(f"{p} ({a})" for p, a in self.files.items()))
        if not lines:
            return ""
        return (
            "Working memory (the task's state; kept across compaction; add to it with the remember tool):\n"
            + "\n".join(lines)
        )

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "goal": self.goal,
            "constraints": list(self.constraints),
            "decisions": list(self.decisions),
            "questions": list(self.questions),
            "notes": list(self.notes),
            # a list, not a map: paths are no identifiers (some JSON-RPC clients map objects to records)
            "files": [{"path": p, "action": a} for p, a in self.files.items()],
        }
        if self.context:
            out["context"] = dict(self.context)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> WorkingMemory:
        """Lenient: unknown keys and ill-typed values are ignored."""
        wm = cls()
        if not isinstance(data, dict):
            return wm
        if isinstance(data.get("goal"), str):
            wm.goal = data["goal"]
        for key in ("constraints", "decisions", "questions", "notes"):
            value = data.get(key)
            if isinstance(value, list):
                setattr(wm, key, [str(v) for v in value if isinstance(v, str)][-MAX_ITEMS:])
        files = data.get("files")
        if isinstance(files, list):
            wm.files = {
                str(f["path"]): str(f.get("action", "read"))
                for f in files
                if isinstance(f, dict) and isinstance(f.get("path"), str)
            }
        ctx = data.get("context")
        if isinstance(ctx, dict):
            wm.context = dict(ctx)
        return wm
