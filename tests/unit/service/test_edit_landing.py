"""An agent edit lands on the text it was made for, whatever the editor does meanwhile.

The server side is real: the LSP frontend (``minicode_lsp.bridge.LspFrontend``), pygls's own
document store (didOpen/didChange/didClose applied by pygls), the agent's FileSystem and the
real ``edit_file`` / ``write_file`` tools. The editor is a small model of the clients we met:
it sends ``didChange`` late (Eglot: on its idle timer), checks the version of an edit against
its own (Eglot, VS Code), lets the user type, save and close while an approval prompt is open.

Invariant: whatever the editor does between the computation of an edit and its application,
no text that is not the agent's change is changed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types as t
from pygls.workspace import Workspace

from minicode_lsp.agent.ports import Ports
from minicode_lsp.agent.tools import edit_file, write_file
from minicode_lsp.agent.tools.base import ToolContext, ToolError
from minicode_lsp.agent.tools.registry import DECLINED_EDIT  # noqa: F401  (the decline wording)
from minicode_lsp.bridge import LspFrontend
from minicode_lsp.service.workspace_fs import WorkspaceFileSystem

from ..helpers_editor import ModelEditor, apply_lsp_edits


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def make_fs(frontend: LspFrontend) -> WorkspaceFileSystem:
    return WorkspaceFileSystem(frontend, before_write=lambda p, b: None, after_write=lambda p, b: None)


def ctx_for(root: Path, fs: WorkspaceFileSystem, confirm: bool) -> ToolContext:
    ports = Ports(fs=fs, approver=None, events=None, checkpoints=None, roots=[root])  # type: ignore[arg-type]
    return ToolContext(ports=ports, confirm=confirm)


async def edit(ctx: ToolContext, path: str, old: str, new: str) -> tuple[bool, str]:
    try:
        out = await edit_file.run({"path": path, "old_text": old, "new_text": new}, ctx)
    except ToolError as e:
        return False, str(e)
    except Exception as e:  # UserDeclined, EditConflict: what the registry turns into a refusal
        return False, f"{type(e).__name__}: {e}"
    return True, out.content


LINES = [f"line {i}\n" for i in range(8)]
ACTION = st.one_of(
    st.tuples(st.just("type"), st.integers(0, 20), st.booleans()),  # insert a line; send didChange now?
    st.tuples(st.just("flush"), st.just(0), st.just(False)),  # the editor's idle timer: pending didChanges go out
    st.tuples(st.just("save"), st.just(0), st.just(False)),
    st.tuples(st.just("close"), st.just(0), st.just(False)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    actions=st.lists(ACTION, max_size=5),
    ask=st.booleans(),
    first_echo_late=st.booleans(),
    target=st.integers(1, 6),
    version0=st.booleans(),
)
def test_nothing_but_the_agents_change_is_changed(tmp_path_factory: Any, actions: list[tuple[str, int, bool]],
                                                 ask: bool, first_echo_late: bool, target: int,
                                                 version0: bool) -> None:
    root = tmp_path_factory.mktemp("ws")
    path = root / "a.py"
    path.write_text("".join(LINES))

    async def scenario() -> None:
        editor = ModelEditor(root, check_versions=True)
        frontend = LspFrontend(editor.server)
        frontend.echo_timeout_s = 0.05  # a didChange held back by the model never comes: do not wait long
        editor.open(path, version=0 if version0 else 1)
        fs = make_fs(frontend)
        ctx = ctx_for(root, fs, confirm=ask)
        # edit 1, applied by the editor; its didChange may come late (Eglot)
        editor.hold_changes = first_echo_late
        ok, msg = await edit(ctx, "a.py", "line 0\n", "LINE 0 (agent)\n")
        assert ok, msg
        # edit 2: while its approval prompt is open (ask) or before it is sent (auto), the user acts
        typed: list[str] = []
        base = ["".join(LINES).replace("line 0\n", "LINE 0 (agent)\n")]  # the text without edit 2

        def user() -> None:
            for n, (kind, where, now) in enumerate(actions):
                if kind == "type" and editor.is_open(path):
                    line = f"typed {n}\n"
                    typed.append(line)
                    editor.type_line(path, where, line, send_now=now)
                elif kind == "flush":
                    editor.flush()
                elif kind == "save":
                    editor.save(path)
                elif kind == "close" and editor.is_open(path):
                    # closing without saving drops what is unsaved (typing, edit 1): the user's call
                    lost = editor.close(path)
                    typed[:] = [x for x in typed if x not in lost]
                    base[0] = "".join(x for x in path.read_text().splitlines(keepends=True) if x not in typed)

        editor.on_prompt = user
        if not ask:
            user()
        ok2, msg2 = await edit(ctx, "a.py", f"line {target}\n", f"LINE {target} (agent)\n")
        editor.flush()
        final = editor.text(path)
        # the user's lines all survive, and nothing else moved
        for line in typed:
            assert line in final, (line, final, msg2)
        without_typing = "".join(x for x in final.splitlines(keepends=True) if x not in typed)
        if ok2:
            assert without_typing == base[0].replace(f"line {target}\n", f"LINE {target} (agent)\n"), msg2
        else:
            assert without_typing == base[0], msg2
        # and the server's copy is the editor's
        if editor.is_open(path):
            assert frontend.open_text(path) == final

    run(scenario())


def test_second_edit_does_not_undo_the_first_when_the_echo_is_late(tmp_path: Path) -> None:
    """Finding 1 as seen in Eglot: the editor applies edit 1 but sends its didChange later."""
    path = tmp_path / "a.py"
    path.write_text("".join(LINES))

    async def scenario() -> None:
        editor = ModelEditor(tmp_path, check_versions=False)
        frontend = LspFrontend(editor.server)
        editor.open(path, version=1)
        ctx = ctx_for(tmp_path, make_fs(frontend), confirm=False)
        editor.hold_changes = True
        assert (await edit(ctx, "a.py", "line 1\n", "ONE\n"))[0]
        ok, msg = await edit(ctx, "a.py", "line 5\n", "FIVE\n")
        assert ok, msg
        editor.flush()
        assert editor.text(path) == "".join(LINES).replace("line 1\n", "ONE\n").replace("line 5\n", "FIVE\n")

    run(scenario())


def test_typing_during_the_prompt_survives(tmp_path: Path) -> None:
    """Finding 1: what the user typed while the prompt was open is kept."""
    path = tmp_path / "a.py"
    path.write_text("".join(LINES))

    async def scenario() -> None:
        editor = ModelEditor(tmp_path, check_versions=True)
        frontend = LspFrontend(editor.server)
        editor.open(path, version=1)
        ctx = ctx_for(tmp_path, make_fs(frontend), confirm=True)
        editor.on_prompt = lambda: editor.type_line(path, 0, "# typed\n", send_now=True)
        ok, msg = await edit(ctx, "a.py", "line 3\n", "THREE\n")
        assert ok, msg
        assert editor.text(path) == "# typed\n" + "".join(LINES).replace("line 3\n", "THREE\n")

    run(scenario())


def test_write_file_merges_what_changed_meanwhile(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("".join(LINES))

    async def scenario() -> None:
        editor = ModelEditor(tmp_path, check_versions=True)
        frontend = LspFrontend(editor.server)
        editor.open(path, version=1)
        ctx = ctx_for(tmp_path, make_fs(frontend), confirm=True)
        editor.on_prompt = lambda: editor.type_line(path, 0, "# typed\n", send_now=True)
        content = "".join(LINES).replace("line 6\n", "SIX\n")
        out = await write_file.run({"path": "a.py", "content": content}, ctx)
        assert not out.is_error
        assert editor.text(path) == "# typed\n" + content

    run(scenario())


def test_write_file_refused_when_the_same_lines_changed(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("".join(LINES))

    async def scenario() -> None:
        editor = ModelEditor(tmp_path, check_versions=True)
        frontend = LspFrontend(editor.server)
        editor.open(path, version=1)
        ctx = ctx_for(tmp_path, make_fs(frontend), confirm=True)

        def user() -> None:
            editor.replace_text(path, editor.text(path).replace("line 6\n", "mine\n"))

        editor.on_prompt = user
        from minicode_lsp.agent.ports import EditConflict

        with pytest.raises(EditConflict, match="same lines"):
            await write_file.run({"path": "a.py", "content": "".join(LINES).replace("line 6\n", "SIX\n")}, ctx)
        assert "mine\n" in editor.text(path) and "SIX" not in editor.text(path)

    run(scenario())


def test_closed_file_is_written_on_disk_never_sent_to_the_editor(tmp_path: Path) -> None:
    """Finding 4: a file that is not open goes to disk after approval, not into a hidden buffer."""
    path = tmp_path / "b.py"
    path.write_text("".join(LINES))

    async def scenario() -> None:
        editor = ModelEditor(tmp_path, check_versions=True)
        frontend = LspFrontend(editor.server)
        ctx = ctx_for(tmp_path, make_fs(frontend), confirm=True)
        ok, msg = await edit(ctx, "b.py", "line 2\n", "TWO\n")
        assert ok, msg
        assert editor.apply_requests == []
        assert len(editor.prompts) == 1 and "b.py" in editor.prompts[0] and "+1 -1 lines" in editor.prompts[0]
        assert path.read_text() == "".join(LINES).replace("line 2\n", "TWO\n")

    run(scenario())


def test_no_apply_edit_capability_the_server_writes(tmp_path: Path) -> None:
    """Finding 3: ALE declares applyEdit false; the server writes the file itself."""
    path = tmp_path / "a.py"
    path.write_text("".join(LINES))

    async def scenario() -> None:
        editor = ModelEditor(tmp_path, check_versions=True, apply_edit=False)
        frontend = LspFrontend(editor.server)
        editor.open(path, version=1)
        ctx = ctx_for(tmp_path, make_fs(frontend), confirm=False)
        ok, msg = await edit(ctx, "a.py", "line 2\n", "TWO\n")
        assert ok, msg
        assert editor.apply_requests == []
        assert path.read_text() == "".join(LINES).replace("line 2\n", "TWO\n")
        # the agent's next read sees its own edit
        assert "TWO" in (frontend.open_text(path) or "")

    run(scenario())


def test_error_answer_is_a_decline(tmp_path: Path) -> None:
    """Finding 5: Eglot's "n" is an error answer; the model is told the user declined."""
    path = tmp_path / "a.py"
    path.write_text("".join(LINES))

    async def scenario() -> None:
        editor = ModelEditor(tmp_path, check_versions=True)
        editor.apply_error = "User cancelled server edit"
        frontend = LspFrontend(editor.server)
        editor.open(path, version=1)
        ctx = ctx_for(tmp_path, make_fs(frontend), confirm=False)
        ok, msg = await edit(ctx, "a.py", "line 2\n", "TWO\n")
        assert not ok and msg.startswith("UserDeclined"), msg
        assert editor.text(path) == "".join(LINES)

    run(scenario())


def test_helper_applies_edits_like_an_editor() -> None:
    text = "ab\ncd\n"
    edits = [t.TextEdit(range=t.Range(start=t.Position(line=1, character=0), end=t.Position(line=1, character=2)),
                        new_text="XY")]
    assert apply_lsp_edits(text, edits) == "ab\nXY\n"


_ = Workspace  # the model editor drives pygls's own Workspace


ANSWER = st.sampled_from(["applied", "declined", "error", "null", "never", "late"])


@settings(max_examples=30, deadline=None)
@given(prompt_answer=st.sampled_from(["Apply", "Decline", "error", "null", "never"]), apply_answer=ANSWER,
       ask=st.booleans())
def test_any_answer_ends_the_edit_in_bounded_time_and_changes_nothing_else(
        tmp_path_factory: Any, prompt_answer: str, apply_answer: str, ask: bool) -> None:
    """Whatever the editor answers (an error, null, nothing, too late), the edit call ends
    within its bound; the file then holds the agent's change or nothing new; no other answer
    than "applied" counts as applied."""
    root = tmp_path_factory.mktemp("ws")
    path = root / "a.py"
    path.write_text("".join(LINES))

    async def scenario() -> None:
        editor = ModelEditor(root, check_versions=True)
        frontend = LspFrontend(editor.server)
        frontend.echo_timeout_s = 0.05
        bound = 0.3
        settings = SimpleNamespace(agent=SimpleNamespace(approval_timeout_s=bound))
        editor.server.service = SimpleNamespace(workspace=SimpleNamespace(settings=settings))
        editor.open(path, version=1)
        late: list[Any] = []

        def handle(method: str, params: Any, fut: asyncio.Future[Any]) -> None:
            answer = prompt_answer if method == t.WINDOW_SHOW_MESSAGE_REQUEST else apply_answer
            if answer == "never":
                return
            if answer == "error":
                raise RuntimeError("no")
            if answer == "null":
                fut.set_result(None)
            elif answer == "late":  # answered after the server stopped waiting: ignored
                late.append(asyncio.get_running_loop().call_later(bound * 2, lambda: None))
            elif method == t.WINDOW_SHOW_MESSAGE_REQUEST:
                fut.set_result(t.MessageActionItem(title=answer))
            elif answer == "applied":
                fut.set_result(editor._apply(params.edit))
            else:
                fut.set_result(t.ApplyWorkspaceEditResult(applied=False))

        editor.handle = handle  # type: ignore[method-assign]
        ctx = ctx_for(root, make_fs(frontend), confirm=ask)
        started = asyncio.get_running_loop().time()
        ok, msg = await edit(ctx, "a.py", "line 2\n", "TWO\n")
        elapsed = asyncio.get_running_loop().time() - started
        assert elapsed < 3 * bound + 1.0, (elapsed, msg)
        text = editor.text(path)
        prompt_ok = not ask or prompt_answer == "Apply"
        if ok:
            assert prompt_ok and apply_answer == "applied", msg
            assert text == "".join(LINES).replace("line 2\n", "TWO\n")
        else:
            assert msg.startswith("UserDeclined"), msg  # a decline, never an internal error
            assert text == "".join(LINES)
        # every request the server stopped waiting for was withdrawn
        withdrawn = [m for m, _ in editor.server.protocol.notifications if m == t.CANCEL_REQUEST]
        waited_forever = (ask and prompt_answer == "never") or (prompt_ok and apply_answer in ("never", "late"))
        assert bool(withdrawn) == waited_forever

    run(scenario())


def test_no_requests_a_client_did_not_declare(tmp_path: Path) -> None:
    """No workDoneProgress: no progress requests; no showDocument support: not asked."""

    async def scenario() -> None:
        editor = ModelEditor(tmp_path, check_versions=True)
        sent: list[str] = []
        handle = editor.handle
        editor.handle = lambda m, params, fut: (sent.append(m), handle(m, params, fut))  # type: ignore[method-assign]
        frontend = LspFrontend(editor.server)
        assert await frontend.progress_begin("t1", "MiniCode", "task") is None
        assert await frontend.show_document(tmp_path / "answer.md") is False
        assert sent == []

    run(scenario())
