"""What the package's source must not hold: a second copy of a shared helper, a branch for tests."""

from __future__ import annotations

import re
from pathlib import Path

import minicode_lsp

ROOT = Path(minicode_lsp.__file__).parent


def sources() -> list[tuple[str, str]]:
    return [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8")) for p in sorted(ROOT.rglob("*.py"))]


def test_each_shared_helper_is_defined_once() -> None:
    names = ("atomic_write", "is_binary", "encoding_of", "decode_text", "iso", "file_stamp", "owner_alive")
    found: dict[str, list[str]] = {n: [] for n in names}
    for rel, text in sources():
        for name in re.findall(r"^\s*def (\w+)\(", text, re.M):
            if name in found:
                found[name].append(rel)
    assert {n: len(where) for n, where in found.items()} == dict.fromkeys(names, 1), found


def test_production_code_has_no_branch_for_tests() -> None:
    """Tests get what they need from fixtures (minicode_lsp/testing/ is the test kit itself)."""
    hits = [rel for rel, text in sources() if not rel.startswith("testing/") and "MINICODE_TEST_" in text]
    assert hits == []


def test_file_name_times_come_from_one_helper() -> None:
    hits = [rel for rel, text in sources() if "%Y%m%dT%H%M%S" in text]
    assert hits == ["store/records.py"]
