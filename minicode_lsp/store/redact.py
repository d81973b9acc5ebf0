"""Secret redaction, applied to everything before it is written to the store.

Two layers: the values the service knows are secrets (API keys read from the environment
variables named in config) — whole, by any prefix of 8 or more characters, or in the masked
forms vendors echo back (``agent/secrets.py``) — and patterns for common key shapes that may
show up in prompts, tool output or provider errors. Dict entries whose key names a
credential (``api_key``, ``authorization``, ``x-api-key``, ``password`` ...) have their
string value replaced whole.

Limitation: a secret split across two streamed ``text.delta`` events is not recognised
in either half; the assembled message (``save_messages``) is redacted whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..agent.secrets import SecretScrubber

REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 6

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Anthropic / OpenAI style keys (sk-ant-..., sk-proj-..., sk-...)
    (re.compile(r"(?<![A-Za-z0-9])sk-(?:ant-)?[A-Za-z0-9_\-]{16,}"), REDACTED),
    # GitHub tokens, AWS access key ids, Google API keys, Slack tokens
    (re.compile(r"(?<![A-Za-z0-9])(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})"), REDACTED),
    (re.compile(r"(?<![A-Za-z0-9])AKIA[0-9A-Z]{16}(?![A-Za-z0-9])"), REDACTED),
    (re.compile(r"(?<![A-Za-z0-9])AIza[0-9A-Za-z_\-]{35}"), REDACTED),
    (re.compile(r"(?<![A-Za-z0-9])xox[abprs]-[A-Za-z0-9\-]{10,}"), REDACTED),
    # Authorization: Bearer <token>
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]{8,}"), r"\1" + REDACTED),
    # x-api-key: <value>, api_key=<value>, "apiKey": "<value>"
    (
        re.compile(r"""(?i)\b((?:x-)?api[_-]?key["']?\s*[:=]\s*["']?)(?!\[REDACTED\])[^\s"',;}&]{4,}"""),
        r"\1" + REDACTED,
    ),
]

# Dict keys (lower case, without '-' and '_') whose string values are credentials.
_SECRET_KEYS = frozenset(
    {
        "apikey",
        "xapikey",
        "authorization",
        "proxyauthorization",
        "password",
        "passwd",
        "secret",
        "clientsecret",
        "accesstoken",
        "refreshtoken",
        "bearertoken",
    }
)


class Redactor:
    """Replaces secrets with ``[REDACTED]`` in strings, dicts and lists (recursively)."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._known = SecretScrubber()
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str) -> None:
        """Add a secret value (also usable later, e.g. a key resolved after a config change)."""
        if not secret or len(secret) < MIN_SECRET_LENGTH:
            return
        self._known.add(secret)

    def text(self, value: str) -> str:
        if not value:
            return value
        value = self._known.scrub(value, REDACTED)
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        return value

    def __call__(self, value: Any) -> Any:
        """Return a redacted copy of ``value`` (str, dict, list/tuple; other values unchanged)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for k, v in value.items():
                key = self.text(k) if isinstance(k, str) else k
                if isinstance(k, str) and isinstance(v, str) and _is_secret_key(k) and v:
                    out[key] = REDACTED
                else:
                    out[key] = self(v)
            return out
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value


def _is_secret_key(key: str) -> bool:
    return key.lower().replace("-", "").replace("_", "") in _SECRET_KEYS


NO_SECRETS = Redactor()
