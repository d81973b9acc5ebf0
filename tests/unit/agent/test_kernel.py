from __future__ import annotations

from minicode_lsp.agent.kernel import Kernel
from minicode_lsp.agent.messages import ToolCall


def _call(name: str, **args: object) -> ToolCall:
    return ToolCall("c", name, dict(args))


def test_phases_follow_the_work() -> None:
    k = Kernel.create("single")
    assert k.budget == 50 and k.phase == "explore"
    k.begin_step()
    k.record_call(_call("read_file", path="a"), "read", is_error=False, meta={"path": "/w/a"})
    assert k.phase == "explore" and k.on_final() == "done"
    k.record_call(_call("edit_file", path="a"), "edit", is_error=False, meta={"path": "/w/a"})
    assert k.phase == "execute" and k.files_changed == ["/w/a"] and not k.verified
    k.record_call(_call("read_file", path="a"), "read", is_error=False, meta={"path": "/w/a"})
    assert k.phase == "verify" and k.verified and k.on_final() == "done"


def test_read_of_another_file_is_not_verification() -> None:
    k = Kernel.create("single")
    k.record_call(_call("write_file", path="a"), "edit", is_error=False, meta={"path": "/w/a"})
    k.record_call(_call("read_file", path="b"), "read", is_error=False, meta={"path": "/w/b"})
    assert not k.verified
    assert k.on_final() == "nudge" and k.on_final() == "verification_failed"


def test_test_command_must_pass_after_last_edit() -> None:
    k = Kernel.create("single", test_command="pytest -q")
    k.record_call(_call("write_file"), "edit", is_error=False, meta={"path": "/w/a"})
    k.record_call(_call("run_command"), "shell", is_error=False, meta={"command": "ls", "exit_code": 0})
    assert not k.verified and k.on_final() == "run_tests"
    k.record_call(
        _call("run_command"), "shell", is_error=False, meta={"command": "pytest -q", "exit_code": 1}
    )
    assert not k.verified
    k.record_call(
        _call("run_command"), "shell", is_error=False, meta={"command": "pytest -q", "exit_code": 0}
    )
    assert k.verified and k.on_final() == "done"


def test_gate_test_runs_budget() -> None:
    k = Kernel.create("single", test_command="make test")
    k.record_call(_call("write_file"), "edit", is_error=False, meta={"path": "/w/a"})
    assert k.record_gate_tests(False) is None
    assert k.record_gate_tests(False) == "verification_failed"
    k2 = Kernel.create("single", test_command="make test")
    assert k2.record_gate_tests(True) == "done"


def test_decline_then_stop_is_await_user() -> None:
    k = Kernel.create("single")
    k.record_call(_call("write_file"), "edit", is_error=True, meta={"declined": True})
    assert k.on_final() == "await_user"


def test_blocked_after_refused_steps() -> None:
    k = Kernel.create("single")
    for _ in range(2):
        k.begin_step()
        k.record_call(_call("read_file"), "read", is_error=True, meta={"refused": True})
        assert not k.end_step()
    k.begin_step()
    k.record_call(_call("read_file"), "read", is_error=True, meta={"refused": True})
    assert k.end_step()


def test_explicit_max_steps_and_unknown_profile() -> None:
    assert Kernel.create("single-deep", max_steps=7).budget == 7
    assert Kernel.create("nope").profile.name == "single"


def test_widening_needs_progress() -> None:
    k = Kernel.create("single-deep")
    k.steps = 75
    assert k.check_budget() == (True, "")
    k.progress_steps = [74]
    ok, note = k.check_budget()
    assert ok and "extended by 20" in note and k.budget == 100
    k.steps = 100
    assert k.check_budget()[0] is False
