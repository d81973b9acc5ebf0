"""Token counting for the context budget, per provider, calibrated as the turn goes.

No tokenizer is bundled: the estimate is characters / chars-per-token (3.5 for the
code-heavy text an agent sends; a table per provider kind) plus a small overhead per
message and per tool call. After each reply that reports ``usage.input_tokens`` the
counter compares it with its own estimate of that request and keeps a running ratio
(clamped; implausible samples, e.g. a provider reporting cached prompts as 0, are ignored),
so the next estimate is in the provider's own units.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .messages import Message, ToolSpec

CHARS_PER_TOKEN = {"openai": 3.5, "anthropic": 3.5}
DEFAULT_CHARS_PER_TOKEN = 3.5
MESSAGE_OVERHEAD = 4
TOOL_OVERHEAD = 8
# A calibration sample outside these bounds is not believed.
MIN_RATIO, MAX_RATIO = 0.5, 2.5
SMOOTHING = 0.5  # weight of the newest sample in the running ratio


@dataclass
class TokenCounter:
    chars_per_token: float = DEFAULT_CHARS_PER_TOKEN
    ratio: float = 1.0  # provider tokens per estimated token, learned from usage
    samples: int = 0
    _cache: dict[int, tuple[Message, int, int]] = field(default_factory=dict, repr=False)

    @classmethod
    def for_provider(cls, kind: str | None, ratio: float | None = None) -> TokenCounter:
        counter = cls(CHARS_PER_TOKEN.get(kind or "", DEFAULT_CHARS_PER_TOKEN))
        if ratio is not None and MIN_RATIO <= ratio <= MAX_RATIO:
            counter.ratio = ratio
        return counter

    # ------------------------------------------------------------------ raw estimates
    def text(self, text: str) -> int:
        return int(len(text) / self.chars_per_token + 0.999)

    def message(self, m: Message) -> int:
        """Raw estimate of one message, cached by identity (messages are not edited once sent)."""
        size = len(m.text) + len(m.tool_calls) + len(m.tool_results)
        hit = self._cache.get(id(m))
        if hit is not None and hit[0] is m and hit[1] == size:
            return hit[2]
        n = MESSAGE_OVERHEAD + self.text(m.text)
        for tc in m.tool_calls:
            n += TOOL_OVERHEAD + self.text(tc.name) + self.text(json.dumps(tc.arguments, default=str))
        for tr in m.tool_results:
            n += TOOL_OVERHEAD + self.text(tr.content)
        self._cache[id(m)] = (m, size, n)
        return n

    def messages(self, messages: list[Message]) -> int:
        return sum(self.message(m) for m in messages)

    def tools(self, tools: list[ToolSpec]) -> int:
        return sum(
            TOOL_OVERHEAD + self.text(t.name) + self.text(t.description) + self.text(json.dumps(t.parameters))
            for t in tools
        )

    # ------------------------------------------------------------------ calibrated
    def scale(self, raw: int) -> int:
        return int(raw * self.ratio + 0.5)

    def calibrate(self, raw_estimate: int, input_tokens: int) -> None:
        """Learn from a reply's reported input tokens for a request estimated at ``raw_estimate``."""
        if raw_estimate <= 0 or input_tokens <= 0:
            return
        sample = input_tokens / raw_estimate
        if not MIN_RATIO <= sample <= MAX_RATIO:
            return
        self.ratio = sample if self.samples == 0 else (1 - SMOOTHING) * self.ratio + SMOOTHING * sample
        self.samples += 1

    def too_low(self) -> None:
        """The provider said the context was too long: estimates have been low; raise them."""
        self.ratio = min(MAX_RATIO, self.ratio * 1.25)
