"""When to retry a model request, how long to wait, and how to keep streamed text honest.

The retry decision is data: ``STATUS_RULES`` maps an HTTP status to a ``RetryRule``
(retryable or not, and a hint the user can act on); ``EXCEPTION_RULES`` does the same for
transport exceptions. ``with_retries`` runs one request with exponential backoff and jitter,
honouring ``Retry-After`` up to ``MAX_DELAY_S``; a longer ``Retry-After`` gives up at once so
a fallback provider can answer instead.

``TextGate`` keeps ``on_text`` consistent across attempts (retries and fallbacks): text
already shown is not shown again when the next attempt repeats it; when the next attempt
says something different, a visible marker is emitted first. The reply's final text is the
authoritative one; streamed deltas are a live preview.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx

from ..secrets import SecretScrubber
from .base import ProviderError, ProviderSpec, TextCallback

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_DELAY_S = 20.0
BASE_DELAY_S = 0.5
RETRY_MARKER = "\n\n[retrying: the partial answer above was interrupted]\n\n"


@dataclass(frozen=True)
class RetryRule:
    retryable: bool
    hint: str
    context_too_long: bool = False


KEY_HINT = "check the API key{env}"

STATUS_RULES: dict[int, RetryRule] = {
    400: RetryRule(False, "the provider rejected the request; check the model name and settings"),
    401: RetryRule(False, KEY_HINT),
    403: RetryRule(False, KEY_HINT + " and that it may use this model"),
    404: RetryRule(False, "check baseUrl and model: the endpoint or model was not found"),  # see not_found_hint
    408: RetryRule(True, "the provider timed out"),
    409: RetryRule(True, "conflict at the provider, retrying"),
    413: RetryRule(False, "the request is too large", context_too_long=True),
    422: RetryRule(False, "the provider rejected the request; check the model name and settings"),
    429: RetryRule(True, "rate limited"),
    500: RetryRule(True, "provider error"),
    502: RetryRule(True, "bad gateway"),
    503: RetryRule(True, "provider unavailable"),
    504: RetryRule(True, "gateway timeout"),
    529: RetryRule(True, "provider overloaded"),
}
DEFAULT_4XX = RetryRule(False, "the provider rejected the request")
DEFAULT_5XX = RetryRule(True, "provider error")

# Checked in order: the first class the exception is an instance of wins.
EXCEPTION_RULES: list[tuple[type[BaseException], RetryRule]] = [
    (httpx.ConnectTimeout, RetryRule(True, "could not connect in time; is the endpoint up?")),
    (httpx.TimeoutException, RetryRule(True, "the provider did not answer in time (timeoutS)")),
    (httpx.ConnectError, RetryRule(True, "could not connect; check baseUrl and that the server runs")),
    (httpx.RemoteProtocolError, RetryRule(True, "the connection was closed mid-reply")),
    (httpx.ReadError, RetryRule(True, "the connection failed while reading the reply")),
    (httpx.WriteError, RetryRule(True, "the connection failed while sending the request")),
    (httpx.UnsupportedProtocol, RetryRule(False, "baseUrl must start with http:// or https://")),
    (httpx.InvalidURL, RetryRule(False, "baseUrl is not a valid URL")),
    (httpx.TransportError, RetryRule(True, "network error")),
]

# What a vendor's error body says, read before its status: the first rule that matches wins.
# Each pattern is matched against the whole body, case-insensitively.
CONTEXT_PATTERNS = re.compile(
    r"context.length|context_length_exceeded|maximum context|context window|prompt is too long"
    r"|reduce the length|input is too long|exceeds the model|exceed_context_size_error"
    r"|exceeds the available context size|maximum model length|context size has been exceeded"
    r"|context the overflows|context overflow|prompt too long|exceeds? the context length"
    r"|maximum number of tokens allowed|too large for model with|too many tokens"
    r"|n_keep.{0,20}n_ctx|larger than the max context size",
    re.IGNORECASE,
)
QUOTA_PATTERNS = re.compile(
    r"insufficient_quota|exceeded your current quota|credit balance is too low|insufficient.credits"
    r"|reached your specified (api )?usage limits|spend(ing)? limit|billing_hard_limit|billing_not_active"
    r"|out of credits|requires more credits",
    re.IGNORECASE,
)
TOOL_CHOICE_PATTERNS = re.compile(r"enable-auto-tool-choice|auto.? tool choice requires", re.IGNORECASE)
MODEL_NOT_FOUND_PATTERNS = re.compile(
    r"model .{0,200}? not found|try pulling it first|model_not_found|model .{0,200}? does not exist"
    r"|no such model|not_found_error.{0,40}model", re.IGNORECASE)
OLLAMA_BODY = re.compile(r"try pulling it first", re.IGNORECASE)
# vLLM: "'max_tokens' or 'max_completion_tokens' is too large: 4096. This model's maximum context length
# is 4096 tokens and your request has 100 input tokens"; Anthropic: "max_tokens: 20000 > 8192, which is
# the maximum allowed". Compacting the conversation would not help: the limit itself is wrong.
MAX_TOKENS_PATTERNS = re.compile(
    r"max_(completion_)?tokens'? (or 'max_completion_tokens' )?is too large|max_tokens: \d+ > \d+", re.IGNORECASE)
NO_TOOLS_PATTERNS = re.compile(r"does not support tools", re.IGNORECASE)

QUOTA_HINT = ("out of quota or credits (a billing or spend limit, not a rate limit): add credits or raise "
              "the limit; retrying will not help")
TOOL_CHOICE_HINT = ("the server does not accept tool calls: start vLLM with `--enable-auto-tool-choice "
                    "--tool-call-parser <parser>` (e.g. hermes for Qwen, llama3_json for Llama 3, mistral)")
CONTEXT_HINT = "the conversation is too long for the model's context"


def body_rule(status: int, body: str, spec: ProviderSpec) -> RetryRule | None:
    """The rule an error body calls for, when it says more than its status does."""
    if status in (401, 403):
        return None
    if QUOTA_PATTERNS.search(body) and status in (400, 402, 403, 429):
        return RetryRule(False, QUOTA_HINT)
    if status == 429:  # "Request too large ... tokens per min" is a rate limit, not the context
        return None
    if MAX_TOKENS_PATTERNS.search(body):
        return RetryRule(False, f"maxTokens ({spec.max_tokens}) does not fit this model's context or limit: "
                                "set a lower maxTokens for this provider")
    if CONTEXT_PATTERNS.search(body):
        return RetryRule(False, CONTEXT_HINT, context_too_long=True)
    if TOOL_CHOICE_PATTERNS.search(body):
        return RetryRule(False, TOOL_CHOICE_HINT)
    if NO_TOOLS_PATTERNS.search(body):
        return RetryRule(False, f"the model {spec.model} does not support tool calls: pick a model that does "
                                "(e.g. qwen2.5-coder, llama3.1, qwen3)")
    if status == 404:
        return RetryRule(False, not_found_hint(spec, body))
    return None


def is_ollama(spec: ProviderSpec, body: str = "") -> bool:
    """Ollama's own words, or its usual port."""
    return bool(OLLAMA_BODY.search(body)) or ":11434" in spec.base_url


def not_found_hint(spec: ProviderSpec, body: str) -> str:
    """A 404: the model is named, and how to see the ones the server has."""
    where = f"[[providers]] {spec.name!r}"
    if is_ollama(spec, body):
        how = (f"`ollama list` shows the models this Ollama has: `ollama pull {spec.model}` downloads it, "
               f"or set model in {where} to one of them")
    else:
        models = spec.base_url.rstrip("/") + ("/models" if spec.kind != "anthropic" or
                                              spec.base_url.rstrip("/").endswith("/v1") else "/v1/models")
        how = (f"GET {models} lists the models this server offers (`minicode-lsp readiness` shows them); "
               f"set model in {where} to one of them")
    if MODEL_NOT_FOUND_PATTERNS.search(body):
        return f"the model {spec.model!r} is not available here: {how}"
    return (f"nothing was found at {spec.base_url} for the model {spec.model!r}: check baseUrl (an "
            f"OpenAI-compatible one usually ends in /v1) and the model name; {how}")


_KEYLIKE = re.compile(r"\b(sk|key|ak)-[A-Za-z0-9_\-*.]{6,}")


def redact(text: str, spec: ProviderSpec) -> str:
    """Remove the key (and anything that looks like a key) from text meant for users or logs."""
    if spec.api_key:  # whole, by a prefix of 8+ characters, or masked as vendors echo it
        text = SecretScrubber([spec.api_key]).scrub(text, "***")
    for value in spec.extra_headers.values():
        if len(value) >= 8:
            text = text.replace(value, "***")
    return _KEYLIKE.sub(lambda m: m.group(1) + "-***", text)


def _hint(rule: RetryRule, spec: ProviderSpec) -> str:
    env = f" in env var {spec.api_key_env}" if spec.api_key_env else ""
    return rule.hint.replace("{env}", env)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def error_text(body: str) -> str:
    """The message of a JSON error body (OpenRouter's wrapped upstream error unwrapped), else the body."""
    try:
        d = json.loads(body)
    except ValueError:
        return body
    err = d.get("error", d) if isinstance(d, dict) else None
    if isinstance(err, str):
        return err
    if not isinstance(err, dict) or not isinstance(err.get("message"), str):
        return body
    message: str = err["message"]
    meta = err.get("metadata")
    raw = meta.get("raw") if isinstance(meta, dict) else None
    if raw:
        inner = error_text(raw) if isinstance(raw, str) else json.dumps(raw)
        provider = meta.get("provider_name") if isinstance(meta, dict) else None
        message = f"{message} ({provider or 'upstream'}: {inner})"
    return message


def error_from_status(
    spec: ProviderSpec, status: int, body: str, headers: httpx.Headers | dict[str, str] | None = None
) -> ProviderError:
    """The ProviderError for an HTTP error response, decided by ``STATUS_RULES``."""
    rule = body_rule(status, body, spec) or STATUS_RULES.get(status) or (
        DEFAULT_5XX if status >= 500 else DEFAULT_4XX)
    detail = redact(" ".join(error_text(body).split())[:300], spec)
    retry_after = parse_retry_after((headers or {}).get("retry-after"))
    hint = _hint(rule, spec)
    message = f"{spec.name}: HTTP {status}: {hint}" + (f" ({detail})" if detail else "")
    return ProviderError(
        message,
        status=status,
        retryable=rule.retryable,
        retry_after_s=retry_after,
        hint=hint,
        context_too_long=rule.context_too_long,
        quota=rule.hint == QUOTA_HINT,
    )


def error_from_exception(spec: ProviderSpec, exc: BaseException) -> ProviderError:
    """The ProviderError for a transport exception, decided by ``EXCEPTION_RULES``."""
    rule = next((r for cls, r in EXCEPTION_RULES if isinstance(exc, cls)), RetryRule(False, "unexpected error"))
    hint = _hint(rule, spec)
    detail = redact(str(exc) or type(exc).__name__, spec)[:300]
    return ProviderError(f"{spec.name}: {hint} ({type(exc).__name__}: {detail})", retryable=rule.retryable, hint=hint)


def malformed(spec: ProviderSpec, what: str) -> ProviderError:
    """A broken stream or body: worth another try."""
    hint = "the provider sent a malformed reply"
    return ProviderError(f"{spec.name}: {hint}: {redact(what, spec)[:300]}", retryable=True, hint=hint)


def backoff_delay(attempt: int, *, base: float = BASE_DELAY_S, cap: float = MAX_DELAY_S,
                  rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with full jitter in [d/2, d], d = base * 2**attempt, capped."""
    d = min(cap, base * (2**attempt))
    return d / 2 + rand() * d / 2


async def with_retries(
    fn: Callable[[], Awaitable[T]],
    spec: ProviderSpec,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    *,
    max_delay_s: float = MAX_DELAY_S,
) -> T:
    """Run ``fn`` up to ``spec.max_retries + 1`` times while it raises a retryable ProviderError.

    Transport exceptions from httpx are converted with ``error_from_exception``. A
    ``Retry-After`` above ``max_delay_s`` ends the retries at once (the fallback chain moves on).
    """
    attempt = 0
    while True:
        try:
            return await fn()
        except ProviderError as e:
            err = e
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as e:
            err = error_from_exception(spec, e)
        if not err.retryable or attempt >= spec.max_retries:
            raise err
        if err.retry_after_s is not None:
            if err.retry_after_s > max_delay_s:
                log.info("%s: Retry-After %.1fs is above the %.0fs cap; giving up", spec.name,
                         err.retry_after_s, max_delay_s)
                raise err
            delay = err.retry_after_s
        else:
            delay = backoff_delay(attempt, cap=max_delay_s)
        attempt += 1
        log.info("%s: %s; retry %d/%d in %.2fs", spec.name, err.hint or "error", attempt,
                 spec.max_retries, delay)
        await sleep(delay)


class TextGate:
    """Forwards streamed text to ``on_text`` once, across several attempts of one request.

    Call ``attempt()`` at the start of every attempt and stream into the callback it returns.
    Text the user has already seen is suppressed while the new attempt repeats it; when the
    new attempt diverges, ``RETRY_MARKER`` is emitted and the new attempt streams from its start.
    """

    def __init__(self, on_text: TextCallback | None, *, marker: bool = True) -> None:
        self._on_text = on_text
        self._marker = marker  # False: a divergent attempt streams on without the marker
        self._shown = ""  # text shown since the last marker
        self._current = 0  # id of the live attempt

    def attempt(self) -> TextCallback | None:
        if self._on_text is None:
            return None
        self._current += 1
        my_id = self._current
        buf: list[str] = []
        live = False  # True once this attempt is past what was already shown

        async def on_text(delta: str) -> None:
            nonlocal live
            if my_id != self._current or not delta or self._on_text is None:
                return
            if live:
                self._shown += delta
                await self._on_text(delta)
                return
            buf.append(delta)
            text = "".join(buf)
            if self._shown.startswith(text):
                return  # still repeating what is on screen
            live = True
            if text.startswith(self._shown):
                new, self._shown = text[len(self._shown):], text
                await self._on_text(new)
                return
            self._shown = text
            await self._on_text((RETRY_MARKER if self._marker else "\n\n") + text)

        return on_text
