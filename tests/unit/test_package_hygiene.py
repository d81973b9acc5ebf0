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


def test_no_plural_hacks_in_what_users_read() -> None:
    """"1 file", "3 files" (minicode_lsp.wording.plural), never "file(s)": in messages, tool
    results and logs alike (a string literal, docstrings and comments aside)."""
    import ast

    hack = re.compile(r"[a-z]\((s|es)\)")
    hits = []
    for rel, text in sources():
        tree = ast.parse(text)
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        hits += [f"{rel}:{node.lineno}: {node.value[:80]!r}" for node in ast.walk(tree)
                 if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
                 and hack.search(node.value.replace("http(s)", ""))]
    assert hits == [], "\n".join(hits)
