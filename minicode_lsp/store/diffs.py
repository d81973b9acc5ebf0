"""Unified diffs of file contents given as bytes (``None`` = the file is absent)."""

from __future__ import annotations

from minicode_lsp.agent.fileio import encoding_of, is_binary


def _lines(data: bytes | None) -> list[str]:
    if data is None:
        return []
    enc = encoding_of(data)
    return [line.decode(enc) for line in data.splitlines(keepends=True)]


def unified_diff(old: bytes | None, new: bytes | None, path: str, *, context: int = 3) -> str:
    """A ``git diff``-like unified diff labelled ``a/path`` and ``b/path`` (``/dev/null`` when absent).

    Binary contents (a NUL byte) give a one-line note. Lines keep their endings; a last line
    without a newline is followed by ``\\ No newline at end of file``.
    """
    if old == new:
        return ""
    rel = path.lstrip("/")
    a_label = f"a/{rel}" if old is not None else "/dev/null"
    b_label = f"b/{rel}" if new is not None else "/dev/null"
    if (old is not None and is_binary(old)) or (new is not None and is_binary(new)):
        return f"Binary files {a_label} and {b_label} differ\n"
    a_lines = _lines(old)
    b_lines = _lines(new)
    out: list[str] = []
    import difflib  # here, not at a server start

    for line in difflib.unified_diff(a_lines, b_lines, a_label, b_label, n=context):
        if line.startswith(("---", "+++")):
            out.append(line if line.endswith("\n") else line + "\n")
            continue
        if line.endswith("\r\n"):
            out.append(line[:-2] + "\n")
        elif line.endswith(("\n", "\r")):
            out.append(line[:-1] + "\n")
        else:
            out.append(line + "\n\\ No newline at end of file\n")
    return "".join(out)
