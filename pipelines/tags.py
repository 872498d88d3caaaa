"""Finding the hub's tags (e.g. #OpenGovTech) on an entry, and saying where they were found."""

from __future__ import annotations

import re
from collections.abc import Iterable

# A hashtag starts after whitespace or opening punctuation, so URL fragments (page#x) and
# HTML entities (&#38;) are not taken for tags.
HASHTAG_RE = re.compile(r"(?:^|(?<=[\s(\[{,;:!?\"'“‘]))#([^\W\d_][\w-]*)", re.UNICODE)
_NOT_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


def normalise_tag(tag: str) -> str:
    """'#OpenGovTech', 'open-gov-tech' and 'Open Gov Tech' all become 'opengovtech'."""
    return _NOT_ALNUM.sub("", tag.lower())


def hashtags(text: str | None) -> list[str]:
    return HASHTAG_RE.findall(text or "")


def find_tag_matches(
    wanted: Iterable[str],
    *,
    categories: Iterable[str] = (),
    title: str = "",
    summary: str = "",
    content: str = "",
) -> list[str]:
    """Reasons, in plain words, why an entry carries one of `wanted`; empty when it does not."""
    targets = {normalise_tag(t) for t in wanted}
    reasons: list[str] = []
    for category in categories:
        if normalise_tag(category) in targets:
            reasons.append(f"category '{category}'")
    for place, text in (("title", title), ("summary", summary), ("content", content)):
        for tag in hashtags(text):
            if normalise_tag(tag) in targets:
                reasons.append(f"hashtag #{tag} in {place}")
                break
    return reasons


def merge_tags(*groups: Iterable[str]) -> list[str]:
    """Tags in first-seen order, without case/punctuation duplicates."""
    seen: set[str] = set()
    merged: list[str] = []
    for group in groups:
        for tag in group:
            tag = tag.strip().lstrip("#").strip()
            key = normalise_tag(tag)
            if tag and key and key not in seen:
                seen.add(key)
                merged.append(tag)
    return merged
