"""The one raw-record shape every source kind produces."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from pipelines.sanitize import xml_safe


@dataclass(frozen=True)
class Mention:
    """A social post that shared a story: who, where, when. Stored as JSON on the story's record."""

    platform: str            # mastodon | bluesky
    url: str                 # the post's public URL
    author: str              # @user@instance, or a Bluesky handle
    posted_at: datetime | None
    text: str = ""

    def to_json(self) -> str:
        return json.dumps({"platform": self.platform, "url": self.url, "author": self.author,
                           "posted_at": self.posted_at.isoformat() if self.posted_at else None,
                           "text": self.text[:500]}, ensure_ascii=False)


@dataclass
class RawRecord:
    """One entry of one source, parsed, sanitised and matched against the hub's tags."""

    source_id: str
    entry_key: str          # unique within the source (guid, else link, else content hash)
    item_id: str            # stable hub id (canonical URL, else guid + source)
    url: str | None
    canonical_url: str | None
    title: str
    summary: str
    content_html: str       # sanitised
    content_text: str
    author: str | None
    published_at: datetime | None
    updated_at: datetime | None
    date_missing: bool      # no usable date in the entry: first_seen_at stands in for it
    tags: list[str] = field(default_factory=list)
    match_reasons: list[str] = field(default_factory=list)
    matched: bool = False   # carries a hub tag, or the source is on topic as a whole
    language: str | None = None
    raw_json: str = "{}"    # the entry as the source gave it, for re-normalising without refetching
    content_hash: str = ""
    kind_hint: str | None = None     # what the source kind knows the record is (a repository: asset)
    asset_type: str | None = None    # repo | dataset | tool | standard | other, for assets
    organisation: str | None = None  # who the record itself says published it (a repository's owner)
    details: str | None = None       # JSON object of typed facts (a repository's licence, stars, …)
    mention: str | None = None       # JSON: the social post that shared this story (see Mention)

    def __post_init__(self) -> None:
        # Every kind's records are made here: nothing XML forbids is stored, so nothing reaches the site.
        for name in CLEANED_FIELDS:
            if value := getattr(self, name):
                setattr(self, name, xml_safe(value))
        self.tags = [tag for tag in map(xml_safe, self.tags or []) if tag]
        self.match_reasons = list(map(xml_safe, self.match_reasons or []))

    def row(self) -> tuple:
        return (
            self.source_id, self.entry_key, self.item_id, self.url, self.canonical_url, self.title,
            self.summary, self.content_html, self.content_text, self.author, self.published_at,
            self.updated_at, self.date_missing, self.tags, self.match_reasons, self.matched,
            self.language, self.raw_json, self.content_hash, self.kind_hint, self.asset_type,
            self.organisation, self.details, self.mention,
        )


# The text fields shown, written out or stored as UTF-8 (keys and hashes are kept as they came).
CLEANED_FIELDS = ("url", "canonical_url", "title", "summary", "content_html", "content_text", "author", "language",
                  "organisation", "details", "mention", "raw_json")

RAW_COLUMNS = (
    "source_id", "entry_key", "item_id", "url", "canonical_url", "title", "summary", "content_html",
    "content_text", "author", "published_at", "updated_at", "date_missing", "tags", "match_reasons",
    "matched", "language", "raw_json", "content_hash", "kind_hint", "asset_type", "organisation", "details",
    "mention",
)


def json_object(text: str | None) -> dict:
    """A JSON text stored in a record field (details, raw_json, mention) as a dict; {} if it is none."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
