"""The service is a composition root: no pass-throughs, no module reaching back into it, SQL only
in the store, no private pygls internals in the LSP features. (The import circle itself is kept
out by the import-linter contracts in pyproject.toml, run by `make lint`.)"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import minicode_lsp
from minicode_lsp.service import Service

ROOT = Path(minicode_lsp.__file__).parent
SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.I)


def test_service_only_composes() -> None:
    methods = sorted(n for n, v in inspect.getmembers(Service) if not n.startswith("_") and callable(v))
    assert methods == ["close", "shutdown"], "a method on Service is a pass-through: call the use-case"
    assert sorted(Service.__slots__) == ["memory", "readiness", "rewind", "sessions", "tasks", "trust", "workspace"]


def test_no_service_module_takes_the_service() -> None:
    """turns.py, rewind.py, ... take the Workspace; none reaches back through ``svc.``."""
    reach = re.compile(r"\bsvc\.\w+|from \.core import|import Service\b|: Service\b")
    hits = {p.name: reach.findall(p.read_text(encoding="utf-8"))
            for p in sorted((ROOT / "service").glob("*.py")) if p.name not in ("core.py", "__init__.py")}
    assert {name: found for name, found in hits.items() if found} == {}


@pytest.mark.parametrize("folder", ["service", "features", "acp"])
def test_sql_lives_only_in_the_store(folder: str) -> None:
    hits = [f"{p.name}: {m.group(0)}" for p in sorted((ROOT / folder).glob("*.py"))
            for m in SQL.finditer(p.read_text(encoding="utf-8"))]
    assert hits == []


def test_features_use_no_private_pygls_converter() -> None:
    hits = [p.name for p in sorted((ROOT / "features").glob("*.py")) if "._converter" in p.read_text(encoding="utf-8")]
    assert hits == []
