"""Words in what users read (pure, no imports): counts with the right singular or plural, stop reasons."""

from __future__ import annotations


def plural(n: int, word: str, words: str | None = None) -> str:
    """``plural(1, "file")`` -> "1 file", ``plural(3, "file")`` -> "3 files";
    ``words`` for an irregular plural (``plural(2, "entry", "entries")``)."""
    return f"{n} {word if n == 1 else (words or word + 's')}"


# A turn's stop reason as a user reads it (the editors' chat views say the same: format.ts, ui.lua)
STOP_LABELS = {
    "done": "done",
    "max_steps": "step budget used up",
    "cancelled": "cancelled",
    "await_user": "waiting for you",
    "blocked": "blocked",
    "provider_error": "provider error",
    "verification_failed": "not verified",
    "context_exhausted": "context exhausted",
    "interrupted": "interrupted",
}


def stop_label(reason: object) -> str:
    """``stop_label("verification_failed")`` -> "not verified"; an unknown one with spaces for ``_``."""
    if not isinstance(reason, str) or not reason:
        return "unknown"
    return STOP_LABELS.get(reason, reason.replace("_", " "))
