"""The agent's event and stop-reason constants mirror minicode_lsp/protocol.py."""

from __future__ import annotations

from minicode_lsp import protocol
from minicode_lsp.agent import events


def test_event_types_mirror_protocol() -> None:
    mine = {v for k, v in vars(events).items() if k.isupper() and isinstance(v, str) and "." in v}
    mine.add(events.ERROR)
    assert mine <= set(protocol.EVENT_TYPES)
    # the service emits these itself (it owns turn ids and session modes)
    assert set(protocol.EVENT_TYPES) - mine == {"turn.started", "turn.finished", "mode.changed"}


def test_stop_reasons_mirror_protocol() -> None:
    assert set(events.STOP_REASONS) == set(protocol.STOP_REASONS) - {"interrupted"}
