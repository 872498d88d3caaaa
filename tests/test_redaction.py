"""Credentials never reach a stored or shown message."""

from __future__ import annotations

from pipelines.net.redaction import REDACTED, redact, remember_secret


def test_configured_and_learnt_secrets_and_credential_shapes_are_redacted(monkeypatch):
    monkeypatch.setenv("BLUESKY_APP_PASSWORD", "abcd-efgh-ijkl-mnop")
    remember_secret("session-token-4f9a7c")
    text = ("sign-in with abcd-efgh-ijkl-mnop failed; used session-token-4f9a7c; "
            "header Authorization: token 0123456789abcdef; Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig; "
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnop")
    redacted = redact(text)
    for secret in ("abcd-efgh-ijkl-mnop", "session-token-4f9a7c", "0123456789abcdef", "eyJhbGci", "github_pat_11"):
        assert secret not in redacted
    assert redacted.count(REDACTED) == 5 and "Authorization: " + REDACTED in redacted


def test_ordinary_messages_are_left_as_they_are():
    for text in ("HTTP 404 from https://api.github.com/repos/x/y; GitHub says: Not Found",
                 "a token is required for this endpoint", "Bad credentials", None, ""):
        assert redact(text) == text
