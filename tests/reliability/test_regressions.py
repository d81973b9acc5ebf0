"""Regression tests for bugs the reliability suite found, checked in-process against the service."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from minicode_lsp import protocol as p
from minicode_lsp.command_rpc import parse_args
from minicode_lsp.service import HeadlessFrontend, Service, ServiceError
from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import make_workspace
from .rpc import RawServer, check_answer


@pytest.mark.timeout(60)
@pytest.mark.parametrize("cursor", ["!!!", "eyJ4IjoxfQ==", "bnVsbA", "W10"])
def test_a_cursor_we_did_not_hand_out_is_invalid_params(tmp_path: Path, model: ScriptedModelServer,
                                                       cursor: str) -> None:
    svc = Service(make_workspace(tmp_path, model), HeadlessFrontend(interactive=False), watch=False)
    try:
        with pytest.raises(ServiceError) as info:
            svc.sessions.list(p.SessionListArgs(cursor=cursor))
        assert info.value.code == p.ERR_INVALID_PARAMS and "cursor" in info.value.message
    finally:
        svc.close()


@pytest.mark.timeout(60)
def test_messages_and_events_with_lone_surrogates_are_stored(tmp_path: Path, model: ScriptedModelServer) -> None:
    """A non-UTF-8 file name reaches tool output as lone surrogates; SQLite must still take it."""
    svc = Service(make_workspace(tmp_path, model), HeadlessFrontend(interactive=False), watch=False)
    try:
        sid = svc.workspace.sessions.create_session("t", str(svc.workspace.root)).id
        turn = svc.workspace.sessions.start_turn(sid, "p", "single", "plan")
        name = "bad\udcff\udcfename.txt"
        svc.workspace.sessions.append_event(sid, turn.id, p.EV_TOOL_FINISHED, {"summary": name})
        svc.workspace.sessions.save_messages(turn.id, [{"role": "tool", "content": name}])
        assert svc.sessions.replay(p.SessionReplayArgs(session_id=sid)).wire()["events"][-1]["data"]["summary"] == name
    finally:
        svc.close()


@pytest.mark.timeout(60)
def test_a_turn_finishes_even_when_its_messages_cannot_be_stored(tmp_path: Path, model: ScriptedModelServer) -> None:
    svc = Service(make_workspace(tmp_path, model), HeadlessFrontend(interactive=False), watch=False)

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    svc.workspace.sessions.save_messages = broken  # type: ignore[method-assign]

    async def run() -> dict[str, str]:
        ids = svc.tasks.run(p.TaskRunArgs(prompt="hello")).wire()
        await svc.tasks.wait_idle(timeout=30)
        return ids

    try:
        ids = asyncio.run(run())
        turn = svc.sessions.show(ids["sessionId"]).wire()["turns"][-1]
        assert turn["status"] == "finished" and turn["stopReason"] == "done", turn
        assert not svc.workspace.running
    finally:
        svc.close()


@pytest.mark.timeout(90)
def test_a_null_answer_to_show_document_does_not_hang_the_command(tmp_path: Path, model: ScriptedModelServer) -> None:
    """The raw client answers every server request with null; ``window/showDocument`` wants
    ``{success}``. pygls could not read that answer and the command waited for it forever."""
    srv = RawServer(make_workspace(tmp_path, model), tmp_path / "home")
    try:
        srv.initialize()
        ids = srv.result(p.CMD_TASK_RUN, {"prompt": "hello"})
        srv.wait_turn(ids["turnId"])
        answer = srv.command(p.CMD_SESSION_SHOW, {"sessionId": ids["sessionId"], "openDocument": True}, timeout=20)
        check_answer(answer)
        answer = srv.command(p.CMD_REWIND_PREVIEW, {"sessionId": ids["sessionId"], "showDocument": True}, timeout=20)
        check_answer(answer)
        assert "sessions" in srv.result(p.CMD_SESSION_LIST, {})
    finally:
        srv.close()


@pytest.mark.timeout(60)
def test_a_restart_removes_the_temporary_file_of_a_write_killed_half_way(tmp_path: Path,
                                                                          model: ScriptedModelServer) -> None:
    root = make_workspace(tmp_path, model)
    svc = Service(root, HeadlessFrontend(interactive=False), watch=False)
    try:
        sid = svc.workspace.sessions.create_session("t", str(svc.workspace.root)).id
        turn = svc.workspace.sessions.start_turn(sid, "p", "single", "auto")
        writer = svc.workspace.checkpoints.begin_group(session_id=sid, turn_id=turn.id, tool_call_id="c1", kind="edit")
        writer.before_write(root / "calc.py", (root / "calc.py").read_bytes())  # the group is open...
        stray = root / ".calc.py.k1ll3d.minicode-tmp"
        stray.write_bytes(b"half")  # ...and the process died inside atomic_write
        dead = subprocess.Popen(["true"])
        dead.wait()
        svc.workspace.db.conn.execute("UPDATE turns SET pid = ? WHERE id = ?", (dead.pid, turn.id))
    finally:
        svc.close()
    (root / "keep.minicode-tmp").write_bytes(b"not ours to remove")
    svc = Service(root, HeadlessFrontend(interactive=False), watch=False)  # the restart
    try:
        assert svc.sessions.show(sid).wire()["turns"][0]["status"] == "interrupted"
        assert not stray.exists()
        assert (root / "keep.minicode-tmp").exists()
    finally:
        svc.close()


@pytest.mark.parametrize("args", [{"sessionId": "\udcff"}, {"query": "x\ud800"}, {"target": {"groupId": "\udcff"}},
                                  {"uris": ["file:///a\udcff"]}, {"\udcff": 1}])
def test_arguments_with_lone_surrogates_are_invalid_params(args: dict[str, object]) -> None:
    """JSON may carry a lone surrogate; optional string fields let it through to SQLite, which
    failed with an internal error."""
    with pytest.raises(JsonRpcInvalidParams):
        parse_args(p.CMD_REWIND_PREVIEW, p.RewindPreviewArgs, [args])
    assert parse_args(p.CMD_SESSION_LIST, p.SessionListArgs, [{"query": "caf\u00e9 😀"}]).query == "caf\u00e9 😀"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", [" ", "\r\n", "\t \n"])
def test_memory_text_of_only_whitespace_is_invalid_params(tmp_path: Path, model: ScriptedModelServer,
                                                          text: str) -> None:
    svc = Service(make_workspace(tmp_path, model), HeadlessFrontend(interactive=False), watch=False)
    try:
        with pytest.raises(ServiceError) as info:
            svc.memory.add(p.MemoryAddArgs(text=text))
        assert info.value.code == p.ERR_INVALID_PARAMS
    finally:
        svc.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", [{"turnId": ""}, {"groupId": ""}])
def test_an_empty_rewind_target_id_is_invalid_params(tmp_path: Path, model: ScriptedModelServer,
                                                     target: dict[str, object]) -> None:
    svc = Service(make_workspace(tmp_path, model), HeadlessFrontend(interactive=False), watch=False)
    try:
        with pytest.raises(ServiceError) as info:
            svc.rewind.preview(p.RewindPreviewArgs(target=target))
        assert info.value.code in (p.ERR_INVALID_PARAMS, p.ERR_NOT_FOUND), info.value
    finally:
        svc.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("uri", ["\x00", "file:///a%00b", "x\x00y"])
def test_a_uri_with_a_nul_byte_is_invalid_params(tmp_path: Path, model: ScriptedModelServer, uri: str) -> None:
    svc = Service(make_workspace(tmp_path, model), HeadlessFrontend(interactive=False), watch=False)
    try:
        with pytest.raises(ServiceError) as info:
            svc.workspace.path_of_uri(uri)
        assert info.value.code in (p.ERR_INVALID_PARAMS, p.ERR_OUTSIDE_WORKSPACE)  # not an internal error
    finally:
        svc.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("query", ["😀 " * 2000, " ".join(f"w{i}" for i in range(2000))])
def test_a_query_of_thousands_of_words_is_answered(tmp_path: Path, model: ScriptedModelServer, query: str) -> None:
    svc = Service(make_workspace(tmp_path, model), HeadlessFrontend(interactive=False), watch=False)
    try:
        svc.workspace.sessions.create_session("😀 w0 w1", str(svc.workspace.root))
        assert isinstance(svc.sessions.list(p.SessionListArgs(query=query)).wire()["sessions"], list)
    finally:
        svc.close()
