"""The file helpers every layer shares (agent/fileio.py): one atomic write, one text-decode
policy, one binary test."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from minicode_lsp.agent.fileio import atomic_write, decode_text, encoding_of, is_binary
from minicode_lsp.store.diffs import unified_diff


def test_atomic_write_keeps_the_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    f = tmp_path / "run.sh"
    f.write_bytes(b"old")
    os.chmod(f, 0o750)
    atomic_write(f, b"new")
    assert f.read_bytes() == b"new" and stat.S_IMODE(f.stat().st_mode) == 0o750
    fresh = tmp_path / "sub" / "new.txt"
    atomic_write(fresh, b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["new.txt", "run.sh", "sub"]


def test_text_policy_round_trips_any_bytes() -> None:
    assert (encoding_of("é\n".encode()), encoding_of(b"\xe9\n"), encoding_of(None)) == ("utf-8", "latin-1", "utf-8")
    for data in ("naïve\n".encode(), b"\xff\xfe caf\xe9", bytes(range(256))):
        assert decode_text(data).encode(encoding_of(data)) == data
    assert is_binary(b"a\x00b") and not is_binary(b"text") and not is_binary(b"x" * 9000 + b"\x00")
    assert unified_diff(b"a\x00", b"b\x00", "/w/f") == "Binary files a/w/f and b/w/f differ\n"
