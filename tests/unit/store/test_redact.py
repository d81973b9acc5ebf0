"""Redactor: exact secrets, common key shapes, credential-named keys, recursion."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from minicode_lsp.store.redact import REDACTED, Redactor


def test_exact_secret_values_anywhere() -> None:
    r = Redactor(["my-very-secret-value", "x", ""])  # too-short values are ignored
    assert r.text("key=my-very-secret-value;") == f"key={REDACTED};"
    assert r.text("x marks the spot") == "x marks the spot"
    r.add_secret("later|secret(value)")
    assert r.text("a later|secret(value) b") == f"a {REDACTED} b"


def test_key_shapes() -> None:
    r = Redactor()
    cases = {
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv-_0123": REDACTED,
        "use sk-proj-abcdefghijklmnop1234 now": f"use {REDACTED} now",
        "Authorization: Bearer eyJhbGciOi.abc.def": f"Authorization: Bearer {REDACTED}",
        "x-api-key: 0123abcd4567": f"x-api-key: {REDACTED}",
        '{"api_key": "zzzz9999"}': f'{{"api_key": "{REDACTED}"}}',
        "token ghp_abcdefghijklmnopqrstuvwxyz0123": f"token {REDACTED}",
        "AKIAABCDEFGHIJKLMNOP": REDACTED,
    }
    for raw, want in cases.items():
        assert r.text(raw) == want, raw


def test_ordinary_text_is_untouched() -> None:
    r = Redactor()
    for text in ("task-management-system-for-teams", "disk-usage-report-generator", "scikit-learn",
                 "Bearer of bad news", "inputTokens: 1200", "the api key is read from OPENAI_API_KEY"):  # fmt: skip
        assert r.text(text) == text, text


def test_recursive_and_credential_keys() -> None:
    r = Redactor(["s3cr3t-value"])
    data = {
        "headers": {"Authorization": "Basic dXNlcjpwYXNz", "X-Api-Key": "short1", "Accept": "json"},
        "args": ["echo s3cr3t-value", ("tuple", "s3cr3t-value")],
        "usage": {"inputTokens": 10, "outputTokens": 2},
        "apiKeyEnv": "OPENAI_API_KEY",
        "n": None,
    }
    out = r(data)
    assert out["headers"] == {"Authorization": REDACTED, "X-Api-Key": REDACTED, "Accept": "json"}
    assert out["args"] == [f"echo {REDACTED}", ["tuple", REDACTED]]
    assert out["usage"] == {"inputTokens": 10, "outputTokens": 2}
    assert out["apiKeyEnv"] == "OPENAI_API_KEY" and out["n"] is None
    assert data["args"][0] == "echo s3cr3t-value"  # the input is not modified


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values,
       secret=st.text(alphabet="abcdefXYZ0123456789-_", min_size=8, max_size=40).filter(
           lambda s: any(c.isalpha() for c in s)))  # keys have letters; digits alone would "match" numbers
def test_an_exact_secret_never_survives(value: object, secret: str) -> None:
    planted = {"a": [value, f"pre{secret}post"], secret: {"k": secret}, "v": value}
    out = Redactor([secret])(planted)
    assert secret not in json.dumps(out)
