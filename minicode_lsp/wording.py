"""Words in what users read: counts with the right singular or plural, stop reasons."""

from __future__ import annotations

from .protocol_ids import STOP_LABELS


def plural(n: int, word: str, words: str | None = None) -> str:
    """``plural(1, "file")`` -> "1 file", ``plural(3, "file")`` -> "3 files";
    ``words`` for an irregular plural (``plural(2, "entry", "entries")``)."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


def stop_label(reason: object) -> str:
    """``stop_label("verification_failed")`` -> "not verified" (``protocol_ids.STOP_LABELS``, which the
    editors' mirrors carry too); an unknown one with spaces for ``_``."""
    if not isinstance(reason, str) or not reason:
        return "unknown"
    return STOP_LABELS.get(reason, reason.replace("_", " "))
