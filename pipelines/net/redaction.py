"""Keeping credentials out of everything the hub stores or shows.

A service's error message can echo the request back, `Authorization` header and all; that
message becomes a source's error, which is stored, printed, logged by Dagster and published on
the sources page. Every message passes through `redact` first.
"""

from __future__ import annotations

import os
import re

# The environment variables that hold credentials (see README: GitHub and Bluesky).
SECRET_ENV_VARS = ("GITHUB_TOKEN", "BLUESKY_APP_PASSWORD")
REDACTED = "[redacted]"
# Credentials of any origin in the forms they are echoed in: a header, a bearer or basic
# token, GitHub's token prefixes, a JWT.
_CREDENTIAL_SHAPES = re.compile(
    r"(?P<header>authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,;}]+"
    r"|(?P<scheme>\b(?:bearer|basic|token)\s+)(?=[\w.~+/=-]*\d)[\w.~+/=-]{8,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}\b|\bgithub_pat_[A-Za-z0-9_]{20,}\b"
    r"|\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",
    re.IGNORECASE,
)
# Secrets learnt during the run (a Bluesky session's access token).
_run_secrets: set[str] = set()


def remember_secret(value: str | None) -> None:
    """Redact `value` too from now on (a token obtained at run time)."""
    if value and len(value) >= 6:
        _run_secrets.add(value)


def redact(text: str | None) -> str | None:
    """`text` with every configured or learnt secret, and anything shaped like a credential, replaced."""
    if not text:
        return text
    secrets = [os.environ.get(name) for name in SECRET_ENV_VARS] + sorted(_run_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret and len(secret) >= 6 and secret in text:
            text = text.replace(secret, REDACTED)
    return _CREDENTIAL_SHAPES.sub(_keep_the_label, text)


def _keep_the_label(match: re.Match) -> str:
    """'Authorization: [redacted]', 'Bearer [redacted]': what was hidden stays readable."""
    return (match.group("header") or match.group("scheme") or "") + REDACTED
