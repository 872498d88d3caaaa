"""What a body starts with: the first tag after comments and processing instructions."""

from __future__ import annotations

import re

_COMMENT_OR_PI = re.compile(rb"<!--.*?-->|<\?.*?\?>", re.S)
_FIRST_TAG = re.compile(rb"<(!doctype\s+html|[A-Za-z][\w:.-]*)", re.I)


def first_tag(body: bytes) -> str | None:
    """The first element name (as written), or '!doctype html'; None when there is no tag."""
    match = _FIRST_TAG.search(_COMMENT_OR_PI.sub(b"", body[:8192]))
    return match.group(1).decode("ascii", "replace") if match else None
