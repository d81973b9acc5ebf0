"""Code actions: fix a diagnostic, refactor a selection, run a task written as a comment,
rewind the agent's edits in a file."""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from lsprotocol import types as t
from lsprotocol.converters import get_converter
from pygls.lsp.server import LanguageServer

from .. import protocol_ids as p

log = logging.getLogger(__name__)


@functools.cache
def _converter() -> Any:
    """lsprotocol's own converter (LSP objects to their wire form), built on first use."""
    return get_converter()


KINDS = [t.CodeActionKind.QuickFix, t.CodeActionKind.Refactor, t.CodeActionKind.Source]

REFACTORS = (
    ("explain", "MiniCode: explain this code", "Explain what the selected code does, for a reader new to it.",
     "plan", True),
    ("document", "MiniCode: add documentation", "Add documentation (docstrings or comments) to the selected code.",
     None, False),
    ("tests", "MiniCode: write tests for this", "Write tests for the selected code and run them.", None, False),
)


# A task written as a comment, in any comment syntax: `# minicode: add type hints`,
# `// minicode: ...`, `-- minicode: ...`, `; minicode: ...`, `/* minicode: ... */`, `<!-- ... -->`,
# `% ...`, `" ...` (Vim script). The way to give a prompt in editors that cannot ask for text.
COMMENT_TASK = re.compile(
    r"""^\s*(?:\#+|//+|--+|;+|/\*+|<!--|%+|"|\*+|\(\*)\s*minicode\s*:\s*(?P<task>.*?)\s*(?:\*+/|-->|\*\))?\s*$""",
    re.IGNORECASE,
)
COMMENT_KIND = f"{t.CodeActionKind.QuickFix.value}.minicode.commentTask"


def comment_task(line: str) -> str | None:
    """The task of a `minicode:` comment line, or None."""
    match = COMMENT_TASK.match(line)
    task = match.group("task").strip() if match else ""
    return task or None


def _comment_action(ls: Any, uri: str, line_no: int) -> t.CodeAction | None:
    doc = ls.workspace.text_documents.get(uri)
    if doc is None or not 0 <= line_no < len(doc.lines):
        return None
    line = doc.lines[line_no].rstrip("\r\n")
    task = comment_task(line)
    if task is None:
        return None
    path = doc.path or uri
    prompt = (f"{task}\n\n(This task was written as a `minicode:` comment on line {line_no + 1} of {path}. "
              "Do it, then remove that comment line.)")
    rng = t.Range(start=t.Position(line=line_no, character=0), end=t.Position(line=line_no, character=len(line)))
    return _task(f"MiniCode: {task[:70]}", COMMENT_KIND, {
        "prompt": prompt, "context": {"uri": uri, "range": _rng(rng), "selectionText": line}})


def _rng(r: t.Range) -> dict[str, Any]:
    return {"start": {"line": r.start.line, "character": r.start.character},
            "end": {"line": r.end.line, "character": r.end.character}}


def _task(title: str, kind: str, args: dict[str, Any]) -> t.CodeAction:
    return t.CodeAction(title=title, kind=kind, command=t.Command(title=title, command=p.CMD_TASK_RUN, arguments=[args]))


def _selected_text(ls: Any, uri: str, r: t.Range) -> str:
    doc = ls.workspace.text_documents.get(uri)
    if doc is None:
        return ""
    lines = list(doc.lines[r.start.line : r.end.line + 1])
    if not lines:
        return ""
    if len(lines) == 1:
        return lines[0][r.start.character : r.end.character]
    lines[0] = lines[0][r.start.character :]
    lines[-1] = lines[-1][: r.end.character]
    return "".join(lines)


def actions_for(ls: Any, params: t.CodeActionParams) -> list[t.CodeAction]:
    uri = params.text_document.uri
    only = params.context.only
    out: list[t.CodeAction] = []

    def wanted(kind: str) -> bool:
        return not only or any(kind == o or kind.startswith(o + ".") for o in only)

    if wanted(t.CodeActionKind.QuickFix):
        for diag in params.context.diagnostics:
            message = diag.message.splitlines()[0][:80] if diag.message else "this problem"
            out.append(_task(f"MiniCode: fix {message}", t.CodeActionKind.QuickFix, {
                "prompt": f"Fix this problem reported at line {diag.range.start.line + 1}: {diag.message}",
                "context": {"uri": uri, "range": _rng(diag.range),
                            "diagnostics": [_converter().unstructure(diag)]},
            }))
    r = params.range
    if wanted(COMMENT_KIND):
        action = _comment_action(ls, uri, r.start.line)
        if action is not None:
            out.append(action)
    if wanted(t.CodeActionKind.Refactor) and (r.start.line, r.start.character) != (r.end.line, r.end.character):
        selection = _selected_text(ls, uri, r)
        for key, title, prompt, mode, show in REFACTORS:
            args: dict[str, Any] = {"prompt": prompt, "context": {"uri": uri, "range": _rng(r),
                                                                  "selectionText": selection}}
            if mode:
                args["permissionMode"] = mode
            if show:
                args["showResult"] = True
            out.append(_task(title, f"{t.CodeActionKind.Refactor.value}.minicode.{key}", args))
    svc = getattr(ls, "service", None)
    if svc is not None and wanted(t.CodeActionKind.Source):
        try:
            sid = svc.rewind.session_to_rewind(uri)
        except Exception:  # a code action never fails for want of the store
            log.exception("looking for agent edits in %s", uri)
            sid = None
        if sid:
            base = {"sessionId": sid, "target": {"session": True}, "uris": [uri]}
            out.append(t.CodeAction(
                title="MiniCode: preview rewind of agent edits in this file", kind=f"{t.CodeActionKind.Source.value}.minicode.rewindPreview",
                command=t.Command(title="Preview rewind", command=p.CMD_REWIND_PREVIEW,
                                  arguments=[{**base, "showDocument": True}])))
            out.append(t.CodeAction(
                title="MiniCode: rewind agent edits in this file", kind=f"{t.CodeActionKind.Source.value}.minicode.rewind",
                command=t.Command(title="Rewind", command=p.CMD_REWIND_APPLY, arguments=[base])))
    return out


def register(server: LanguageServer) -> None:
    @server.feature(t.TEXT_DOCUMENT_CODE_ACTION, t.CodeActionOptions(code_action_kinds=KINDS))
    def code_action(ls: Any, params: t.CodeActionParams) -> list[t.CodeAction]:
        return actions_for(ls, params)
