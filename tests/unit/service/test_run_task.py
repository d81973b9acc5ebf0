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
        real_start = svc.workspace.sessions.start_turn

        def start_then_die(*args: Any, **kwargs: Any) -> Any:
            real_start(*args, **kwargs)  # the turn row is written, then the process "dies" before commit
            raise RuntimeError("killed between the turn insert and the commit")

        monkeypatch.setattr(svc.workspace.sessions, "start_turn", start_then_die)
        with pytest.raises(RuntimeError):
            svc.tasks.run(TaskRunArgs(prompt="never recorded"))
        assert svc.sessions.list(SessionListArgs(limit=10)).wire()["sessions"] == []
        assert svc.workspace.db.query_one("SELECT COUNT(*) AS n FROM turns")["n"] == 0
    finally:
        svc.workspace.db.close()


def test_a_provider_without_its_key_is_left_out_of_the_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    from minicode_lsp.config import ConfigLoader
    from minicode_lsp.service.providers import provider_specs

    loader = ConfigLoader()
    loader.set_layer("initializationOptions", {"providers": [
        {"name": "cloud", "kind": "anthropic", "baseUrl": "http://127.0.0.1:9", "model": "m",
         "apiKeyEnv": "MINICODE_TEST_NO_SUCH_KEY"},
        {"name": "local", "kind": "openai", "baseUrl": "http://127.0.0.1:9/v1", "model": "m"}]})
    monkeypatch.delenv("MINICODE_TEST_NO_SUCH_KEY", raising=False)
    assert [s.name for s in provider_specs(loader.settings())] == ["local"]
    monkeypatch.setenv("MINICODE_TEST_NO_SUCH_KEY", "k")
    assert [s.name for s in provider_specs(loader.settings())] == ["cloud", "local"]
