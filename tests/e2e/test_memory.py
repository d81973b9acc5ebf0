"""Memory entries through the real server: added in one session, injected into the next."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from minicode_lsp import protocol as p
from minicode_lsp.testing.model_server import ScriptedModelServer

from .conftest import write_config
from .harness import editor


async def test_memory_added_then_injected_into_the_next_session(workspace: Path, model: ScriptedModelServer) -> None:
    async with editor(workspace) as ed:
        added = await ed.command(p.CMD_MEMORY_ADD, {"text": "The deploy script lives in tools/deploy.sh",
                                                    "tags": ["deploy"]})
        user = await ed.command(p.CMD_MEMORY_ADD, {"text": "Prefer tabs over spaces", "scope": "user"})
        shown = await ed.command(p.CMD_MEMORY_SHOW, {})
        assert {e["id"] for e in shown["entries"]} == {added["entry"]["id"], user["entry"]["id"]}
        assert {e["scope"] for e in shown["entries"]} == {"project", "user"}
        ids = await ed.run_task("how do I run the deploy?")
        await ed.wait_turn(ids["turnId"])
        system = json.dumps(model.model_requests[-1].body["messages"][0])
        assert "tools/deploy.sh" in system
        injected = [e["data"] for e in ed.turn_events(ids["turnId"]) if e["type"] == p.EV_MEMORY_INJECTED]
        assert added["entry"]["id"] in {e["id"] for e in injected[0]["entries"]}
        removed = await ed.command(p.CMD_MEMORY_REMOVE, {"id": added["entry"]["id"][:12]})
        assert removed == {"removed": True}
        ids = await ed.run_task("and the deploy again?")
        await ed.wait_turn(ids["turnId"])
        assert "tools/deploy.sh" not in json.dumps(model.model_requests[-1].body["messages"][0])


# --------------------------------------------------------------------------- context and compaction
WINDOW = 4096


def providers_toml(model: ScriptedModelServer, window: int = WINDOW) -> str:
    return (f'[[providers]]\nname = "scripted"\nkind = "openai"\nbaseUrl = "{model.openai_base_url}"\n'
            f'model = "scripted"\ntimeoutS = 5\nmaxRetries = 1\ncontextWindow = {window}\n')


def read(path: str) -> dict[str, Any]:
    return {"tool_calls": [{"name": "read_file", "arguments": {"path": path}}]}


class Model:
    """Answers the turn's steps from a queue; summary and reflection calls apart (by their system prompt)."""

    def __init__(self, server: ScriptedModelServer, *, summary: dict[str, Any] | None = None,
                 reflection: str = "") -> None:
        self.steps: list[dict[str, Any]] = []
        self.summary = summary or {"text": "SUMMARY-BY-MODEL: big files were read."}
        self.reflection = reflection
        self.kinds: list[str] = []  # "step", "summary" or "reflection", one per request
        server.reply_fn = self

    def __call__(self, body: dict[str, Any]) -> dict[str, Any]:
        system = str(body["messages"][0].get("content", ""))
        if system.startswith("You write the summary"):
            self.kinds.append("summary")
            return self.summary
        if "propose facts" in system:
            self.kinds.append("reflection")
            return {"text": self.reflection}
        self.kinds.append("step")
        return self.steps.pop(0) if self.steps else {"text": "done"}


def steps_of(server: ScriptedModelServer, kinds: list[str]) -> list[dict[str, Any]]:
    """The request bodies of the turn steps (not summary or reflection calls)."""
    bodies = [r.body for r in server.model_requests]
    return [b for b, k in zip(bodies, kinds, strict=True) if k == "step"]


def well_paired(body: dict[str, Any]) -> bool:
    calls = {tc["id"] for m in body["messages"] for tc in m.get("tool_calls") or []}
    results = {m["tool_call_id"] for m in body["messages"] if m["role"] == "tool"}
    return calls == results


def big_workspace(workspace: Path, model: ScriptedModelServer, extra: str = "") -> None:
    write_config(workspace, model, providers=providers_toml(model), extra=extra)
    for i in range(6):
        lines = [f"file {i} line {n}: " + "lorem ipsum dolor sit amet " * 2 for n in range(30)]
        (workspace / f"big{i}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


async def test_compaction_at_the_threshold_keeps_working_memory_tail_and_pairs(
    workspace: Path, model: ScriptedModelServer
) -> None:
    big_workspace(workspace, model)
    fake = Model(model)
    fake.steps = [
        {"tool_calls": [{"name": "remember", "arguments": {"kind": "decision", "text": "Only read, never edit"}}]},
        *[read(f"big{i}.txt") for i in range(6)],
        {"text": "Read them all."},
    ]
    async with editor(workspace) as ed:
        ids = await ed.run_task("Read the big files. Do not edit anything.")
        done = await ed.wait_turn(ids["turnId"])
        assert done["stopReason"] == "done", done
        events = ed.turn_events(ids["turnId"])
        compacted = [e["data"] for e in events if e["type"] == p.EV_CONTEXT_COMPACTED]
        assert compacted and compacted[0]["method"] == "model", compacted
        assert compacted[0]["afterTokens"] < compacted[0]["beforeTokens"]
        usage = [e["data"] for e in events if e["type"] == p.EV_CONTEXT_USAGE]
        assert len(usage) == fake.kinds.count("step")  # one per step
        assert all(u["window"] == WINDOW and u["estimatedTokens"] <= WINDOW * 0.8 for u in usage)
        # the request after the compaction: summary, working memory, the recent tail, pairs intact
        after = steps_of(model, fake.kinds)[fake.kinds.index("summary")]
        system = after["messages"][0]["content"]
        assert "SUMMARY-BY-MODEL" in system
        assert "Only read, never edit" in system and "Do not edit anything." in system
        assert well_paired(after)
        assert len(json.dumps(after["messages"])) // 4 < WINDOW  # the scripted server's own count
        last = steps_of(model, fake.kinds)[-1]
        assert "file 5 line 29" in last["messages"][-1]["content"]  # the newest result, whole
        assert all(well_paired(b) for b in steps_of(model, fake.kinds))
        wm = done["workingMemory"]
        assert wm["decisions"] == ["Only read, never edit"] and wm["context"]["covered"] > 0
        assert {"path": "big5.txt", "action": "read"} in wm["files"]
        # the next turn of the session starts from the summary: no new summary call needed
        before = len(fake.kinds)
        ids2 = await ed.run_task("Which file was last?", sessionId=ids["sessionId"])
        assert (await ed.wait_turn(ids2["turnId"]))["stopReason"] == "done"
        assert fake.kinds[before:] == ["step"]
        system2 = model.model_requests[-1].body["messages"][0]["content"]
        assert "SUMMARY-BY-MODEL" in system2 and "Only read, never edit" in system2


async def test_fallback_summary_when_the_model_summary_fails(workspace: Path, model: ScriptedModelServer) -> None:
    big_workspace(workspace, model)
    fake = Model(model, summary={"fault": "500"})
    fake.steps = [*[read(f"big{i}.txt") for i in range(6)], {"text": "Read them all."}]
    async with editor(workspace) as ed:
        ids = await ed.run_task("Read the big files.")
        done = await ed.wait_turn(ids["turnId"])
        assert done["stopReason"] == "done", done
        compacted = [e["data"] for e in ed.turn_events(ids["turnId"]) if e["type"] == p.EV_CONTEXT_COMPACTED]
        assert compacted and compacted[0]["method"] == "fallback"
        system = model.model_requests[-1].body["messages"][0]["content"]
        assert "without the model" in system and "Read the big files." in system and "big0.txt" in system


async def test_context_too_long_recovered_once_then_context_exhausted(
    workspace: Path, model: ScriptedModelServer
) -> None:
    big_workspace(workspace, model)
    fake = Model(model)
    too_long = {"fault": "context_too_long"}
    fake.steps = [read("big0.txt"), read("big1.txt"), {"text": "first"}]
    async with editor(workspace) as ed:
        ids = await ed.run_task("Read two files.")
        assert (await ed.wait_turn(ids["turnId"]))["stopReason"] == "done"
        fake.steps = [too_long, {"text": "recovered"}]
        ids2 = await ed.run_task("Again.", sessionId=ids["sessionId"])
        done = await ed.wait_turn(ids2["turnId"])
        assert done["stopReason"] == "done" and done["text"] == "recovered", done
        compacted = [e["data"] for e in ed.turn_events(ids2["turnId"]) if e["type"] == p.EV_CONTEXT_COMPACTED]
        assert [c["reason"] for c in compacted] == ["context_too_long"]
        fake.steps = [too_long, too_long]
        ids3 = await ed.run_task("And again.", sessionId=ids["sessionId"])
        done = await ed.wait_turn(ids3["turnId"])
        assert done["stopReason"] == "context_exhausted", done


async def test_reflection_proposes_entries_the_user_accepts(workspace: Path, model: ScriptedModelServer) -> None:
    write_config(workspace, model, extra="\n[memory]\nreflection = true\n")
    fake = Model(model, reflection='{"text": "Tests run with make check", "tags": ["tests"]}\nnot json\n')
    async with editor(workspace) as ed:
        ids = await ed.run_task("how are the tests run?")
        done = await ed.wait_turn(ids["turnId"])
        assert fake.kinds == ["step", "reflection"]
        (proposal,) = done["memoryProposals"]
        assert proposal["status"] == "proposed" and proposal["text"] == "Tests run with make check"
        shown = await ed.command(p.CMD_MEMORY_SHOW, {})
        assert [(e["id"], e["status"]) for e in shown["entries"]] == [(proposal["id"], "proposed")]
        ids = await ed.run_task("run the tests please")
        await ed.wait_turn(ids["turnId"])
        assert "make check" not in json.dumps(model.model_requests[-2].body["messages"][0])  # never silently
        accepted = await ed.command(p.CMD_MEMORY_ACCEPT, {"id": proposal["id"][:12]})
        assert accepted["entry"]["status"] == "active"
        ids = await ed.run_task("run the tests please")
        await ed.wait_turn(ids["turnId"])
        steps = steps_of(model, fake.kinds)
        assert "make check" in steps[-1]["messages"][0]["content"]


async def test_user_and_workspace_instruction_files_reach_the_model(tmp_path: Path, workspace: Path,
                                                                   model: ScriptedModelServer) -> None:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)  # the workspace fixture recorded its trust under home/state
    (home / "AGENTS.md").write_text("User rule: answer in English.\n")  # next to MINICODE_CONFIG
    (workspace / "MINICODE.md").write_text("Project rule: tests live in tests/.\n")
    async with editor(workspace, home=home) as ed:
        ids = await ed.run_task("hello")
        await ed.wait_turn(ids["turnId"])
        system = json.dumps(model.model_requests[-1].body["messages"][0])
        assert "User rule: answer in English." in system and "Project rule: tests live in tests/." in system
        started = next(e for e in ed.turn_events(ids["turnId"]) if e["type"] == p.EV_TURN_STARTED)
        assert {Path(s).name for s in started["data"]["instructionSources"]} == {"AGENTS.md", "MINICODE.md"}
