from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from minicode_lsp.agent.context import estimate_message, estimate_messages, fit_history, groups
from minicode_lsp.agent.messages import Message, ToolCall, ToolResult


def _exchange(i: int, size: int = 200) -> list[Message]:
    return [
        Message(role="user", text=f"q{i} " + "x" * size),
        Message(role="assistant", tool_calls=[ToolCall(f"c{i}", "read_file", {"path": f"f{i}"})]),
        Message(role="tool", tool_results=[ToolResult(f"c{i}", "read_file", "y" * size)]),
        Message(role="assistant", text="a" * size),
    ]


def test_fits_untouched() -> None:
    msgs = _exchange(0)
    assert fit_history(msgs, 10_000) == (msgs, 0)


def test_drops_oldest_first_and_keeps_pairs() -> None:
    msgs = [m for i in range(10) for m in _exchange(i)]
    kept, dropped = fit_history(msgs, estimate_messages(msgs) // 2)
    assert dropped > 0
    assert estimate_messages(kept) <= estimate_messages(msgs) // 2 + estimate_message(kept[0])
    assert kept[-1] is msgs[-1]
    assert kept[0].role == "user"


def test_newest_unit_always_kept() -> None:
    msgs = _exchange(0, size=10_000)
    kept, dropped = fit_history(msgs, 10)
    assert kept[-1] is msgs[-1] and dropped == 3
    assert kept[0].role == "user" and "dropped" in kept[0].text


@given(st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=30), st.integers(0, 3000))
def test_tool_results_never_orphaned(shape: list[int], budget: int) -> None:
    msgs: list[Message] = []
    for i, kind in enumerate(shape):
        if kind == 0:
            msgs.append(Message(role="user", text="u" * 50))
        elif kind == 1:
            msgs.append(Message(role="assistant", text="a" * 50))
        else:
            msgs.append(Message(role="assistant", tool_calls=[ToolCall(f"c{i}", "t", {})]))
            msgs.append(Message(role="tool", tool_results=[ToolResult(f"c{i}", "t", "r" * 100)]))
    kept, dropped = fit_history(msgs, budget)
    if dropped:
        assert kept[0].role == "user"
    call_ids = {tc.id for m in kept for tc in m.tool_calls}
    result_ids = {tr.tool_call_id for m in kept for tr in m.tool_results}
    assert call_ids == result_ids
    assert len(groups(msgs)) == len(shape)
