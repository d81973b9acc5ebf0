from __future__ import annotations

from pathlib import Path

from minicode_lsp.agent.messages import ToolCall
from minicode_lsp.agent.tools.base import ToolContext
from minicode_lsp.agent.tools.registry import DECLINED_EDIT, TOOLS, dispatch, tool_specs

from .fakes import FakePorts, make_ports, run_tool


async def test_read_file_numbers_and_range(ws: Path, fake: FakePorts) -> None:
    (ws / "a.py").write_text("one\ntwo\nthree\nfour\n")
    out = await run_tool(fake, "read_file", path="a.py")
    assert not out.is_error
    assert out.content.splitlines()[1] == "     2\ttwo"
    out = await run_tool(fake, "read_file", path="a.py", start_line=2, end_line=3)
    assert "two" in out.content and "three" in out.content and "one" not in out.content
    assert "[lines 2-3 of 4]" in out.content


async def test_read_file_prefers_open_buffer(ws: Path, fake: FakePorts) -> None:
    (ws / "a.py").write_text("disk\n")
    fake.fs.buffers[ws / "a.py"] = b"buffer\n"
    out = await run_tool(fake, "read_file", path="a.py")
    assert "buffer" in out.content


async def test_read_file_cap_and_missing(ws: Path, fake: FakePorts) -> None:
    (ws / "big.txt").write_text("x" * 100 + "\n" * 1 + ("y" * 99 + "\n") * 4000)
    out = await run_tool(fake, "read_file", path="big.txt")
    assert "output truncated" in out.content and "start_line=" in out.content
    assert len(out.content) < 270 * 1024
    out = await run_tool(fake, "read_file", path="nope.txt")
    assert out.is_error and "does not exist" in out.content
    (ws / "bin").write_bytes(b"\x00\x01\x02")
    out = await run_tool(fake, "read_file", path="bin")
    assert "binary" in out.content


async def test_read_file_refusals(ws: Path, fake: FakePorts, tmp_path: Path) -> None:
    (tmp_path / "outside.txt").write_text("secret")
    (ws / "link").symlink_to(tmp_path / "outside.txt")
    (ws / ".git").mkdir()
    (ws / ".git" / "config").write_text("[core]")
    for raw in ("../outside.txt", str(tmp_path / "outside.txt"), "link", ".git/config"):
        out = await run_tool(fake, "read_file", path=raw)
        assert out.is_error and out.meta.get("refused"), raw
        assert "secret" not in out.content


async def test_forbidden_store_path(ws: Path) -> None:
    store = ws / "store"
    store.mkdir()
    (store / "db").write_text("x")
    fake = make_ports(ws, forbidden=[store])
    out = await run_tool(fake, "write_file", path="store/db", content="y")
    assert out.is_error and out.meta.get("refused")
    assert (store / "db").read_text() == "x"


async def test_list_files_honours_gitignore(ws: Path, fake: FakePorts) -> None:
    (ws / ".gitignore").write_text("build/\n*.pyc\n")
    (ws / "src").mkdir()
    (ws / "src" / "a.py").write_text("")
    (ws / "src" / "a.pyc").write_text("")
    (ws / "src" / ".gitignore").write_text("local.txt\n")
    (ws / "src" / "local.txt").write_text("")
    (ws / "build").mkdir()
    (ws / "build" / "out.js").write_text("")
    (ws / ".git").mkdir()
    (ws / ".git" / "HEAD").write_text("")
    out = await run_tool(fake, "list_files")
    assert out.content.splitlines() == [".gitignore", "src/.gitignore", "src/a.py"]
    out = await run_tool(fake, "list_files", path="src", pattern="*.py")
    assert out.content.splitlines() == ["src/a.py"]
    out = await run_tool(fake, "list_files", pattern="*.rs")
    assert "no files" in out.content


async def test_search(ws: Path, fake: FakePorts) -> None:
    (ws / ".gitignore").write_text("ignored.py\n")
    (ws / "a.py").write_text("def foo():\n    return 1\n")
    (ws / "b.txt").write_text("foo bar\n")
    (ws / "ignored.py").write_text("def foo(): pass\n")
    out = await run_tool(fake, "search", pattern=r"def \w+")
    assert out.content.splitlines() == ["a.py:1: def foo():"]
    out = await run_tool(fake, "search", pattern="foo", glob="*.txt")
    assert out.content.splitlines() == ["b.txt:1: foo bar"]
    out = await run_tool(fake, "search", pattern="(")
    assert out.is_error and "invalid regular expression" in out.content
    out = await run_tool(fake, "search", pattern="zzz")
    assert "no matches" in out.content


async def test_search_caps(ws: Path, fake: FakePorts) -> None:
    (ws / "many.txt").write_text("hit\n" * 500)
    out = await run_tool(fake, "search", pattern="hit")
    assert out.content.count("many.txt:") == 200
    assert "capped" in out.content


async def test_edit_file_exact_replace(ws: Path, fake: FakePorts) -> None:
    (ws / "a.py").write_text("x = 1\ny = 2\n")
    out = await run_tool(fake, "edit_file", path="a.py", old_text="y = 2", new_text="y = 3")
    assert not out.is_error, out.content
    assert (ws / "a.py").read_text() == "x = 1\ny = 3\n"
    assert "y = 3" in out.content


async def test_edit_file_miss_shows_closest(ws: Path, fake: FakePorts) -> None:
    (ws / "a.py").write_text("def f():\n    return compute(1, 2)\n\nprint(f())\n")
    out = await run_tool(fake, "edit_file", path="a.py", old_text="return compute(1,2)", new_text="return 0")
    assert out.is_error
    assert "not found" in out.content and "lines 2-2" in out.content
    assert "return compute(1, 2)" in out.content
    assert (ws / "a.py").read_text().startswith("def f():")


async def test_edit_file_multiple_matches(ws: Path, fake: FakePorts) -> None:
    (ws / "a.txt").write_text("a\nb\na\n")
    out = await run_tool(fake, "edit_file", path="a.txt", old_text="a", new_text="c")
    assert out.is_error and "matches 2 places" in out.content and "lines 1, 3" in out.content
    out = await run_tool(fake, "edit_file", path="a.txt", old_text="a", new_text="c", replace_all=True)
    assert not out.is_error
    assert (ws / "a.txt").read_text() == "c\nb\nc\n"


async def test_crlf_round_trip(ws: Path, fake: FakePorts) -> None:
    (ws / "w.txt").write_bytes(b"line one\r\nline two\r\nline three\r\n")
    out = await run_tool(
        fake, "edit_file", path="w.txt", old_text="line one\nline two\n", new_text="ONE\nTWO\nextra\n"
    )
    assert not out.is_error, out.content
    assert (ws / "w.txt").read_bytes() == b"ONE\r\nTWO\r\nextra\r\nline three\r\n"
    out = await run_tool(fake, "write_file", path="w.txt", content="a\nb\n")
    assert (ws / "w.txt").read_bytes() == b"a\r\nb\r\n"


async def test_latin1_and_bom_round_trip(ws: Path, fake: FakePorts) -> None:
    (ws / "l.txt").write_bytes("café = 1\nnaïve\n".encode("latin-1"))
    out = await run_tool(fake, "edit_file", path="l.txt", old_text="café = 1", new_text="café = 2")
    assert not out.is_error, out.content
    assert (ws / "l.txt").read_bytes() == "café = 2\nnaïve\n".encode("latin-1")
    (ws / "b.txt").write_bytes(b"\xef\xbb\xbfhello\n")
    await run_tool(fake, "edit_file", path="b.txt", old_text="hello", new_text="héllo")
    assert (ws / "b.txt").read_bytes() == b"\xef\xbb\xbfh\xc3\xa9llo\n"
    out = await run_tool(fake, "edit_file", path="l.txt", old_text="naïve", new_text="snow ☃")
    assert out.is_error and "latin-1" in out.content


async def test_write_and_delete(ws: Path, fake: FakePorts) -> None:
    out = await run_tool(fake, "write_file", path="new/dir/f.txt", content="hi\n")
    assert not out.is_error and out.meta["action"] == "create"
    assert (ws / "new" / "dir" / "f.txt").read_text() == "hi\n"
    out = await run_tool(fake, "delete_file", path="new/dir/f.txt")
    assert not out.is_error and not (ws / "new" / "dir" / "f.txt").exists()
    out = await run_tool(fake, "delete_file", path="new/dir/f.txt")
    assert out.is_error and "does not exist" in out.content
    out = await run_tool(fake, "delete_file", path="new")
    assert out.is_error and "directory" in out.content


async def test_confirm_declined(ws: Path) -> None:
    fake = make_ports(ws, decline=True)
    out = await run_tool(fake, "write_file", path="f.txt", content="x", confirm=True)
    assert out.is_error and out.content == DECLINED_EDIT and out.meta["declined"]
    assert not (ws / "f.txt").exists()
    assert fake.fs.writes[0][1] is True


async def test_bad_calls(fake: FakePorts) -> None:
    ctx = ToolContext(ports=fake.ports)
    out = await dispatch(ToolCall("1", "rm_rf", {}), ctx)
    assert out.is_error and "unknown tool" in out.content
    out = await dispatch(ToolCall("2", "read_file", {}, arguments_error="Expecting value"), ctx)
    assert out.is_error and "not valid JSON" in out.content
    out = await dispatch(ToolCall("3", "read_file", {}), ctx)
    assert out.is_error and "missing required argument 'path'" in out.content
    out = await dispatch(ToolCall("4", "read_file", {"path": 3}), ctx)
    assert out.is_error


def test_registry_specs() -> None:
    names = [s.name for s in tool_specs()]
    assert names == [
        "read_file",
        "list_files",
        "search",
        "edit_file",
        "write_file",
        "delete_file",
        "run_command",
        "remember",
    ]
    assert [s.name for s in tool_specs(read_only=True)] == ["read_file", "list_files", "search", "remember"]
    for tool in TOOLS.values():
        assert tool.spec.parameters["type"] == "object"


async def test_edit_file_tolerates_copied_line_numbers(ws: Path, fake: FakePorts) -> None:
    (ws / "a.py").write_text("a = 1\nb = 2\nc = 3\n")
    out = await run_tool(
        fake, "edit_file", path="a.py", old_text="     2\tb = 2\n", new_text="     2\tb = 20\n"
    )
    assert not out.is_error, out.content
    assert (ws / "a.py").read_text() == "a = 1\nb = 20\nc = 3\n"
