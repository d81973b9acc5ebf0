"""Figures the reliability suite measures; printed once at the end of the run by the conftest."""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
COUNTS: dict[str, int] = {}
FIGURES: dict[str, Any] = {}


def count(name: str, n: int = 1) -> None:
    with _lock:
        COUNTS[name] = COUNTS.get(name, 0) + n


def figure(name: str, value: Any) -> None:
    with _lock:
        FIGURES[name] = value


def p99(samples: list[float]) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
