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


def first_wanted(wanted: Iterable[str], tags: Iterable[str]) -> str | None:
    """The first of `tags` that is one of `wanted` in any spelling, or None: the one tag rule
    every kind's harvest and check use."""
    targets = {normalise_tag(t) for t in wanted}
    return next((tag for tag in tags if normalise_tag(tag) in targets), None)


def post_tag_reasons(wanted: Iterable[str], *, tags: Iterable[str], text: str, post: str) -> list[str]:
    """Where a social post (`post`: "the Mastodon post <url>") carries one of `wanted`: a tag the
    platform attached to it, else a hashtag in its text."""
    wanted = list(wanted)
    if tag := first_wanted(wanted, tags):
        return [f"hashtag #{tag} on the {post}"]
    if tag := first_wanted(wanted, hashtags(text)):
        return [f"hashtag #{tag} in the text of the {post}"]
    return []


def find_tag_matches(
    wanted: Iterable[str],
    *,
    categories: Iterable[str] = (),
    title: str = "",
    summary: str = "",
    content: str = "",
) -> list[str]:
    """Reasons, in plain words, why an entry carries one of `wanted`; empty when it does not."""
    wanted = list(wanted)
    reasons = [f"category '{category}'" for category in categories if first_wanted(wanted, [category])]
    for place, text in (("title", title), ("summary", summary), ("content", content)):
        if tag := first_wanted(wanted, hashtags(text)):
            reasons.append(f"hashtag #{tag} in {place}")
    return reasons


ON_TOPIC_REASON = "source is on topic as a whole (tagged_only: false)"
# Reasons saying the source itself listed the entry under the hub's tag (a tag feed or page, a
# forum tag, a topic search, a story linking a repository): they stand whatever tags are wanted.
LISTING_REASONS = ("listed in ", "in the Discourse tag ", "GitHub search for topic:", "linked from ")
# The tag a harvest's reason names: 'quoted' (a category, topic, front matter tag) or #hashtag.
_REASON_TAG = re.compile(r"'([^']+)'|(?:^|(?<=\s))#([^\W\d_][\w-]*)")


def match_stored_entry(wanted: Iterable[str], tagged_only: bool, *, tags: Iterable[str],
                       reasons: Iterable[str]) -> tuple[bool, list[str]]:
    """Whether a stored entry belongs in the hub under its source's current `wanted` tags and
    `tagged_only`, and why: from the tags stored with it and where its harvest found them
    (`reasons`), so an edit of sources.yaml holds without fetching the entry again."""
    targets = {normalise_tag(t) for t in wanted}
    reasons = list(reasons)
    listed = [r for r in reasons if r.startswith(LISTING_REASONS)]
    rest = [r for r in reasons if r not in listed and r != ON_TOPIC_REASON]
    named = {r: {normalise_tag(a or b) for a, b in _REASON_TAG.findall(r)} for r in rest}
    placed = [r for r in rest if named[r] & targets]
    # A wanted tag stored with the entry whose place the harvest did not note (it was not wanted then).
    unplaced = [] if placed or listed else [f"tag '{t}'" for t in merge_tags(tags) if normalise_tag(t) in targets]
    tagged = placed + unplaced + listed
    matched = bool(tagged) or not tagged_only
    if not matched:
        return False, []
    context = [r for r in rest if not named[r]]   # boosted by, cross-posted from, …
    return True, tagged + ([] if tagged_only else [ON_TOPIC_REASON]) + context


def repository_tag_matches(wanted: Iterable[str], *, topics: Iterable[str], description: str,
                           readme_excerpt: str) -> list[str]:
    """Where a GitHub repository carries one of `wanted`: a topic, or a hashtag in its description or README."""
    wanted = list(wanted)
    reasons = [f"repo topic '{t}'" for t in topics if first_wanted(wanted, [t])]
    for place, text in (("description", description), ("README", readme_excerpt)):
        if tag := first_wanted(wanted, hashtags(text)):
            reasons.append(f"hashtag #{tag} in {place}")
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
