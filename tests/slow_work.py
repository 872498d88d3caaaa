"""Functions for the parse workers that take as long as a test needs (importable by a worker)."""

from __future__ import annotations

import time

from pipelines.parse import parse_document


def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def parse_forever(body: bytes, url: str, content_type: str | None, options):
    """parse_document, except that a document whose URL names 'slow' takes an hour."""
    if "slow" in url:
        time.sleep(3600)
    return parse_document(body, url, content_type, options)
