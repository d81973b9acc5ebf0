"""Security: confinement through every file tool, API keys kept out of everything, private store
files, loopback-only TCP."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from . import stats
from .conftest import write_config
from .rpc import RawServer

SECRET = "sk-reliability-SECRET-7d41e09b"
KEY_ENV = "MINICODE_RELIABILITY_KEY"


def call(name: str, **arguments: object) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def attacks(root: Path, outside: Path, store: Path) -> list[dict[str, Any]]:
    """One tool call per (tool, path): each must be refused."""
    paths = [
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        str(outside / "secret.txt"),
        "link_out",  # a symlink to the outside file
        "dir_out/secret.txt",  # through a symlinked folder
        ".git/config",
        "sub/.git/HEAD",
        str(store / "sessions.db"),
        "a" * 300 + ".txt",
        "deep/" * 1200 + "x.txt",
    ]
    calls = []
    for path in paths:
        calls += [
            call("read_file", path=path),
            call("edit_file", path=path, old_text="secret", new_text="pwned"),
            call("write_file", path=path, content="pwned\n"),
            call("delete_file", path=path),
        ]
    for path in ["../outside", str(outside), "dir_out", ".git", str(store)]:
        calls += [call("list_files", path=path), call("search", pattern="secret", path=path)]
    return calls


def tree(folder: Path) -> dict[str, bytes]:
    return {str(f.relative_to(folder)): f.read_bytes() for f in sorted(folder.rglob("*"))
            if f.is_file() and not f.is_symlink()}


@pytest.mark.timeout(180)
def test_confinement_of_every_file_tool(tmp_path: Path, model: ScriptedModelServer) -> None:
    root = tmp_path / "ws"
    outside = tmp_path / "outside"
    store = tmp_path / "store"
    for d in (root / ".git", root / "sub" / ".git", outside):
        d.mkdir(parents=True)
    (outside / "secret.txt").write_text("secret outside\n")
    (root / ".git" / "config").write_text("[core]\n")
    (root / "sub" / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / "link_out").symlink_to(outside / "secret.txt")
    (root / "dir_out").symlink_to(outside, target_is_directory=True)
    os.link(outside / "secret.txt", root / "hard_out")
    (root / "ok.txt").write_text("fine\n")
    write_config(root, model, store, mode="auto")
    before_outside, before_git = tree(outside), tree(root / ".git")
    calls = attacks(root, outside, store)
    srv = RawServer(root, tmp_path / "home")
    try:
        srv.initialize()
        let_through = []
        for chunk in range(0, len(calls), 12):  # a turn's step budget is finite: a few turns
            part = calls[chunk:chunk + 12]
            script = []
            for c in part:  # a harmless call between attacks, so the turn never stops as blocked
                script += [{"tool_calls": [c]}, {"tool_calls": [call("read_file", path="ok.txt")]}]
            model.set_script([*script, {"text": "all refused"}])
            ids = srv.result(p.CMD_TASK_RUN, {"prompt": "try to escape"})
            done = srv.wait_turn(ids["turnId"], timeout=150)
            finished = [e["data"] for e in srv.events(ids["turnId"]) if e["type"] == p.EV_TOOL_FINISHED]
            assert len(finished) == 2 * len(part), (done, len(finished))
            let_through += [(c, r["summary"][:200]) for c, r in zip(part, finished[::2], strict=True)
                            if not r["isError"]]
            assert all(not r["isError"] for r in finished[1::2])
        assert not let_through, let_through
        sent = str([r.body for r in model.model_requests])
        assert "secret outside" not in sent, "content from outside the workspace reached the model"
        # a hard link is an ordinary file of the workspace (nothing tells where its other names are):
        # writes replace it by rename, so the outside file it shares an inode with never changes
        model.set_script([{"tool_calls": [call("edit_file", path="hard_out", old_text="secret", new_text="pwned")]},
                          {"tool_calls": [call("write_file", path="hard_out", content="pwned\n")]},
                          {"tool_calls": [call("delete_file", path="hard_out")]}, {"text": "done"}])
        ids = srv.result(p.CMD_TASK_RUN, {"prompt": "through the hard link"})
        srv.wait_turn(ids["turnId"], timeout=60)
        assert tree(outside) == before_outside and tree(root / ".git") == before_git
        assert (root / "link_out").is_symlink() and (root / "dir_out").is_symlink()
        stats.count("security: confinement attacks refused", len(calls))
    finally:
        srv.close()


@pytest.mark.timeout(180)
def test_non_utf8_and_odd_names_do_not_break_a_turn(tmp_path: Path, model: ScriptedModelServer) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    os.close(os.open(os.fsencode(str(root)) + b"/bad\xff\xfename.txt", os.O_CREAT | os.O_WRONLY, 0o644))
    (root / "ok.txt").write_text("fine secret\n")
    write_config(root, model, tmp_path / "store", mode="auto")
    model.set_script([
        {"tool_calls": [call("list_files")]},
        {"tool_calls": [call("search", pattern="secret")]},
        {"tool_calls": [call("read_file", path="bad\udcff\udcfename.txt")]},
        {"tool_calls": [call("write_file", path="new\udcff.txt", content="x")]},
        {"tool_calls": [call("read_file", path="ok.txt")]},
        {"text": "listed"},
    ])
    srv = RawServer(root, tmp_path / "home")
    try:
        srv.initialize()
        ids = srv.result(p.CMD_TASK_RUN, {"prompt": "list"})
        done = srv.wait_turn(ids["turnId"], timeout=60)
        assert done["stopReason"] in ("done", "verification_failed"), done
        finished = [e["data"] for e in srv.events(ids["turnId"]) if e["type"] == p.EV_TOOL_FINISHED]
        assert [r["isError"] for r in finished][:2] == [False, False], finished
        for fmt in ("markdown", "jsonl"):
            assert srv.result(p.CMD_SESSION_EXPORT, {"sessionId": ids["sessionId"], "format": fmt})["content"]
        assert srv.result(p.CMD_SESSION_REPLAY, {"sessionId": ids["sessionId"]})["events"]
    finally:
        srv.close()


@pytest.mark.timeout(180)
def test_api_key_never_leaves_the_environment_and_store_is_private(tmp_path: Path,
                                                                   model: ScriptedModelServer) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    store = tmp_path / "store"
    providers = (f'[[providers]]\nname = "keyed"\nkind = "openai"\nbaseUrl = "{model.openai_base_url}"\n'
                 f'model = "m"\napiKeyEnv = "{KEY_ENV}"\n')
    write_config(root, model, store, mode="auto", providers=providers)
    model.set_script([
        {"tool_calls": [call("run_command", command="cat /proc/$$/environ > env.bin; env > env.txt")]},
        {"tool_calls": [call("run_command", command=f"echo the key is {SECRET}")]},
        {"tool_calls": [call("read_file", path="env.txt")]},
        {"text": f"I will repeat it: {SECRET}"},
    ])
    log = tmp_path / "server.log"
    srv = RawServer(root, tmp_path / "home", env={KEY_ENV: SECRET}, log_file=log,
                    cmd=[sys.executable, "-m", "minicode_lsp", "-vv", "serve"])
    try:
        srv.initialize()
        ids = srv.result(p.CMD_TASK_RUN, {"prompt": f"use {SECRET}"})
        srv.wait_turn(ids["turnId"], timeout=60)
        assert model.model_requests[0].headers["authorization"] == f"Bearer {SECRET}"  # the key is used...
        # ...and found nowhere else
        assert SECRET.encode() not in (root / "env.bin").read_bytes()
        assert KEY_ENV.encode() not in (root / "env.bin").read_bytes()
        assert SECRET not in str(srv.notifications)
        outputs = [srv.result(p.CMD_SESSION_EXPORT, {"sessionId": ids["sessionId"], "format": f})["content"]
                   for f in ("markdown", "jsonl")]
        outputs.append(str(srv.result(p.CMD_SESSION_REPLAY, {"sessionId": ids["sessionId"]})))
        outputs.append(str(srv.result(p.CMD_SESSION_SHOW, {"sessionId": ids["sessionId"]})))
        outputs.append(srv.result(p.CMD_SESSION_SUMMARIZE, {"sessionId": ids["sessionId"]})["markdown"])
        for out in outputs:
            assert SECRET not in out
    finally:
        srv.close()
    assert log.stat().st_size > 0 and SECRET.encode() not in log.read_bytes()
    for f in store.rglob("*"):  # the database, its WAL and every blob
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f"the key is stored in {f}"
    # store files 0600, folders 0700
    modes = {str(f.relative_to(store)): stat.S_IMODE(f.stat().st_mode) for f in [store, *store.rglob("*")]}
    wrong = {k: oct(m) for k, m in modes.items() if m != (0o700 if (store / k).is_dir() else 0o600)}
    assert not wrong, wrong
    stats.count("security: store paths with private modes", len(modes))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com", ""])
def test_tcp_refuses_non_loopback_hosts(host: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "minicode_lsp", "serve", "--tcp", "--host", host, "--port", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "loopback" in proc.stderr
