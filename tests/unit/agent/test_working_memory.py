from __future__ import annotations

import asyncio
from pathlib import Path

from minicode_lsp.agent.loop import TurnSettings, run_turn
from minicode_lsp.agent.working_memory import MAX_ITEMS, WorkingMemory, stated_constraints

from .fakes import FakePorts, ScriptedProvider, call, text


def test_prompt_sets_goal_and_stated_constraints() -> None:
    wm = WorkingMemory()
    wm.begin_turn("Add a --json flag to the CLI. Do not change the public API. Keep it under 50 lines!")
    assert wm.goal.startswith("Add a --json flag")
    assert wm.constraints == ["Do not change the public API.", "Keep it under 50 lines!"]
    wm.begin_turn("Now the tests. Do not change the public API.")
    assert wm.goal == "Now the tests. Do not change the public API."
    assert wm.constraints == ["Do not change the public API.", "Keep it under 50 lines!"]  # no duplicate


def test_stated_constraints_ignores_plain_sentences() -> None:
    assert stated_constraints("Fix the bug in parser.py. It crashes on empty input.") == []


def test_remember_lists_are_bounded_and_round_trip() -> None:
    wm = WorkingMemory()
    for i in range(MAX_ITEMS + 5):
        wm.remember("decision", f"decision {i}")
    wm.remember("question", "Which Python versions?")
    wm.remember("goal", "Ship the flag")
    wm.touch("a.py", "read")
    wm.touch("a.py", "modify")
    wm.touch("a.py", "read")  # a later read does not hide the change
    wm.context = {"covered": 4, "summary": "s"}
    assert len(wm.decisions) == MAX_ITEMS and wm.decisions[-1] == f"decision {MAX_ITEMS + 4}"
    assert wm.files == {"a.py": "modify"}
    again = WorkingMemory.from_dict(wm.to_dict())
    assert again == wm
    shown = again.render()
    assert "Goal: Ship the flag" in shown and "Which Python versions?" in shown and "a.py (modify)" in shown
    assert "summary" not in shown  # the compaction state is carried, not rendered here


def test_from_dict_is_lenient() -> None:
    assert WorkingMemory.from_dict(None) == WorkingMemory()
    wm = WorkingMemory.from_dict({"goal": 3, "decisions": ["ok", 5], "files": ["nope", {"path": 1}], "context": []})
    assert wm.goal == "" and wm.decisions == ["ok"] and wm.files == {} and wm.context == {}


async def test_loop_tracks_files_and_remember_calls(ws: Path, fake: FakePorts) -> None:
    (ws / "a.py").write_text("x = 1\n")
    provider = ScriptedProvider(
        call("read_file", path="a.py"),
        call("remember", kind="decision", text="Keep x an int"),
        call("remember", kind="shout", text="nope"),
        call("edit_file", path="a.py", old_text="x = 1", new_text="x = 2"),
        call("read_file", path="a.py"),
        text("done"),
        text("second turn answer"),
    )
    settings = TurnSettings(permission_mode="plan")
    out = await run_turn(prompt="Change x. Never touch b.py.", history=[], provider=provider,  # type: ignore[arg-type]
                         ports=fake.ports, settings=TurnSettings(permission_mode="auto"), cancel=asyncio.Event())
    wm = out.working_memory
    assert wm["goal"] == "Change x. Never touch b.py."
    assert wm["constraints"] == ["Never touch b.py."]
    assert wm["decisions"] == ["Keep x an int"]
    assert wm["files"] == [{"path": "a.py", "action": "modify"}]
    assert "Keep x an int" in provider.requests[-1].system  # re-injected into every request
    assert "remember" in provider.requests[0].tools
    # the next turn gets it back (plan mode still offers remember: it changes nothing on disk)
    out2 = await run_turn(prompt="Explain.", history=out.messages, provider=provider,  # type: ignore[arg-type]
                          ports=fake.ports, settings=settings, cancel=asyncio.Event(), working_memory=wm)
    assert out2.stop_reason == "done"
    system = provider.requests[-1].system
    assert "Keep x an int" in system and "Never touch b.py." in system and "Goal: Explain." in system
    assert "remember" in provider.requests[-1].tools
