"""task.run records a new session and its first turn together, or neither."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from minicode_lsp.protocol import SessionListArgs, TaskRunArgs

from .test_retention import make_service


def test_a_failed_first_turn_leaves_no_empty_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = make_service(tmp_path)
    try:
        real_start = svc.sessions.start_turn

        def start_then_die(*args: Any, **kwargs: Any) -> Any:
            real_start(*args, **kwargs)  # the turn row is written, then the process "dies" before commit
            raise RuntimeError("killed between the turn insert and the commit")

        monkeypatch.setattr(svc.sessions, "start_turn", start_then_die)
        with pytest.raises(RuntimeError):
            svc.run_task(TaskRunArgs(prompt="never recorded"))
        assert svc.list_sessions(SessionListArgs(limit=10))["sessions"] == []
        assert svc.db.query_one("SELECT COUNT(*) AS n FROM turns")["n"] == 0
    finally:
        svc.db.close()
