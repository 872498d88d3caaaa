"""The one raw-record shape every source kind produces."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any

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


@dataclass(frozen=True)
class Column:
    """One stored field of an entry: its name and DuckDB type (the store derives the Arrow type)."""

    name: str
    sql_type: str


def _column(sql_type: str, *, cleaned: bool = False, **default) -> Any:
    """A Entry field declared with how it is stored; `cleaned`: a text shown, written out or
    stored as UTF-8, so nothing XML forbids may be in it (keys and hashes are kept as they came)."""
    return field(metadata={"sql_type": sql_type, "cleaned": cleaned}, **default)


@dataclass
class Entry:
    """One entry of one source, parsed, sanitised and matched against the hub's tags.

    Its fields are the stored columns of raw_entries (each declares its DuckDB type), in
    ENTRY_COLUMNS with content_hash, which is computed from them, never given."""

    source_id: str = _column("VARCHAR")
    entry_key: str = _column("VARCHAR")       # unique within the source (guid, else link, else content digest)
    item_id: str = _column("VARCHAR")         # stable hub id (canonical URL, else guid + source)
    url: str | None = _column("VARCHAR", cleaned=True)
    canonical_url: str | None = _column("VARCHAR", cleaned=True)
    title: str = _column("VARCHAR", cleaned=True)
    summary: str = _column("VARCHAR", cleaned=True)
    content_html: str = _column("VARCHAR", cleaned=True)   # sanitised
    content_text: str = _column("VARCHAR", cleaned=True)
    author: str | None = _column("VARCHAR", cleaned=True)
    published_at: datetime | None = _column("TIMESTAMPTZ")
    updated_at: datetime | None = _column("TIMESTAMPTZ")
    date_missing: bool = _column("BOOLEAN")   # no usable date in the entry: first_seen_at stands in for it
    tags: list[str] = _column("VARCHAR[]", default_factory=list)
    match_reasons: list[str] = _column("VARCHAR[]", default_factory=list)
    matched: bool = _column("BOOLEAN", default=False)   # carries a hub tag, or the source is on topic as a whole
    language: str | None = _column("VARCHAR", cleaned=True, default=None)
    # the entry as the source gave it, for re-normalising without refetching
    raw_json: str = _column("VARCHAR", cleaned=True, default="{}")
    # what the source kind knows the record is (a repository: asset)
    kind_hint: str | None = _column("VARCHAR", default=None)
    asset_type: str | None = _column("VARCHAR", default=None)   # repo | dataset | tool | standard | other, for assets
    # who the record itself says published it (a repository's owner)
    organisation: str | None = _column("VARCHAR", cleaned=True, default=None)
    # JSON object of typed facts (a repository's licence, stars, …)
    details: str | None = _column("VARCHAR", cleaned=True, default=None)
    # JSON: the social post that shared this story (see Mention)
    mention: str | None = _column("VARCHAR", cleaned=True, default=None)

    def __post_init__(self) -> None:
        # Every kind's records are made here: nothing XML forbids is stored, so nothing reaches the site.
        for name in CLEANED_FIELDS:
            if value := getattr(self, name):
                setattr(self, name, xml_safe(value))
        self.tags = [tag for tag in map(xml_safe, self.tags or []) if tag]
        self.match_reasons = list(map(xml_safe, self.match_reasons or []))

    @property
    def content_hash(self) -> str:
        """The one recipe for every kind: a digest of everything stored about the entry but its
        identity, so a change to any stored field marks the entry changed (and its facts stale).
        Read when the entry is handed to the store, after every adjustment made to it."""
        digest = hashlib.sha1()
        for name in CONTENT_FIELDS:
            digest.update(_hash_part(getattr(self, name)))
        return digest.hexdigest()

    def text_bytes(self) -> int:
        """Roughly what writing this entry puts in memory (its text)."""
        return (len(self.content_html) + len(self.content_text) + len(self.raw_json) + len(self.summary)
                + len(self.details or "") + len(self.mention or ""))

    def row(self) -> tuple:
        """The entry's values in ENTRY_COLUMNS order, as the store writes them."""
        return tuple(getattr(self, column.name) for column in ENTRY_COLUMNS)

    @classmethod
    def from_row(cls, row: dict) -> "Entry":
        """The record a stored row (a dict by column name) was written from."""
        return cls(**{f.name: row[f.name] for f in fields(cls)})


def _hash_part(value: object) -> bytes:
    """One field's value as unambiguous bytes (length-prefixed) for content_hash."""
    if isinstance(value, list):
        return b"[" + b"".join(map(_hash_part, value)) + b"]"
    if isinstance(value, datetime):
        # The same instant hashes the same whatever offset it came with: a record read back from
        # a landing file (UTC) keeps the hash it had when the shard made it.
        value = (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).astimezone(timezone.utc).isoformat()
    elif value is None or isinstance(value, bool):
        return repr(value).encode()
    data = str(value).encode("utf-8", "surrogatepass")
    return b"%d:" % len(data) + data


# Which entry a record is: not part of its content_hash, so a new recipe never changes identity.
IDENTITY_FIELDS = ("source_id", "entry_key", "item_id")
CLEANED_FIELDS = tuple(f.name for f in fields(Entry) if f.metadata["cleaned"])
CONTENT_FIELDS = tuple(f.name for f in fields(Entry) if f.name not in IDENTITY_FIELDS)
# Every stored column of an entry, declared once: the store's Arrow schema, insert and columns follow.
ENTRY_COLUMNS = tuple(Column(f.name, f.metadata["sql_type"]) for f in fields(Entry)) + (
    Column("content_hash", "VARCHAR"),)


def json_object(text: str | None) -> dict:
    """A JSON text stored in a record field (details, raw_json, mention) as a dict; {} if it is none."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
