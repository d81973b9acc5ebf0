from __future__ import annotations

from pathlib import Path

import pytest

from .fakes import FakePorts, make_ports


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root.resolve()


@pytest.fixture
def fake(ws: Path) -> FakePorts:
    return make_ports(ws)
