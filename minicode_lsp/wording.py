"""Words in what users read (pure, no imports): counts with the right singular or plural."""

from __future__ import annotations


def plural(n: int, word: str, words: str | None = None) -> str:
    """``plural(1, "file")`` -> "1 file", ``plural(3, "file")`` -> "3 files";
    ``words`` for an irregular plural (``plural(2, "entry", "entries")``)."""
    return f"{n} {word if n == 1 else (words or word + 's')}"
