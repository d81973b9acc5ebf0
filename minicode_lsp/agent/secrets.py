"""Finding known secrets in text: whole, by a prefix of 8 characters or more, or in the masked
forms vendors echo back (``sk-proj-****abcd``, ``Zq7pX1c9...``, ``Bearer Zq7p…``).

A provider's 401 body often repeats part of the key it refused ("Incorrect API key provided:
sk-proj-abcdefgh************wxyz"); a prefix that long is enough to narrow the key down, so
any run of 8 or more characters that starts a known secret is treated as the secret, with
the mask and the visible tail that follow it. Leaf module: the store's redactor, the
providers' error messages and the log handlers all use it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

MIN_PREFIX = 8
MIN_EXACT = 6
REPLACEMENT = "[REDACTED]"
# What a vendor puts where it hides the rest of a key, and the visible tail after it.
_MASK = r"(?:\*+|•+|…|\.{3,}|x{4,}|X{4,})[A-Za-z0-9_\-]{0,8}"
_MASKED_TAIL = r"(?:\*{3,}|•{3,}|\.{3,}|…)"


def _nested(rest: str) -> str:
    """``a(?:b(?:c)?)?`` for ``abc`` without recursion: matches any prefix of ``rest``."""
    out = ""
    for ch in reversed(rest):
        out = f"(?:{re.escape(ch)}{out})?"
    return out


def secret_pattern(secret: str) -> str:
    """A regex for ``secret`` whole or by any prefix of ``MIN_PREFIX``+ characters (with the mask
    and visible tail after it), or masked with only its last 4 characters shown."""
    if len(secret) < MIN_PREFIX:
        return re.escape(secret)
    prefix = re.escape(secret[:MIN_PREFIX]) + _nested(secret[MIN_PREFIX:]) + f"(?:{_MASK})?"
    if len(secret) >= 16:  # "****wxyz": a masked key with its last 4 shown
        return f"{prefix}|{_MASKED_TAIL}{re.escape(secret[-4:])}(?![A-Za-z0-9])"
    return prefix


class SecretScrubber:
    """Replaces known secrets (whole, prefixes, masked forms) in text. Thread-safe to extend."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if not secret or len(secret) < MIN_EXACT or secret in self._values:
            return
        with self._lock:
            self._values.add(secret)
            ordered = sorted(self._values, key=len, reverse=True)
            self._pattern = re.compile("|".join(f"(?:{secret_pattern(v)})" for v in ordered))

    def __bool__(self) -> bool:
        return self._pattern is not None

    def scrub(self, text: str, replacement: str = REPLACEMENT) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(replacement, text)
