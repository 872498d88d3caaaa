"""The adapter step: format-specific entries become RawRecords (sanitised, tagged, dated)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from pipelines.entry import Entry
from pipelines.sanitize import UNTITLED, html_to_text, sanitize_html, summarise, title_from_text
from pipelines.parse.tags import ON_TOPIC_REASON, find_tag_matches, hashtags, merge_tags
from pipelines.parse.urls import canonical_url, item_id


@dataclass(frozen=True)
class ParseOptions:
    source_id: str
    tags: tuple[str, ...]
    tagged_only: bool


@dataclass
class EntryFields:
    """What every feed format can tell us about one entry, before cleaning."""

    guid: str | None
    link: str | None
    title: str
    summary_html: str
    content_html: str
    author: str | None
    published_at: datetime | None
    updated_at: datetime | None
    categories: list[str]
    raw: dict
    language: str | None = None
    content_base: str | None = None   # xml:base of the content, for its relative URLs


@dataclass
class FeedFields:
    format: str
    title: str
    link: str | None
    language: str | None
    entries: list[EntryFields] = field(default_factory=list)
    warning: str | None = None


def summary_unless_content(summary: str, content: str) -> str:
    """The summary, or "" when it only repeats the content (feeds that copy one into the other)."""
    return "" if content and content.strip() == summary.strip() else summary


def is_empty_entry(entry: EntryFields) -> bool:
    """An entry with no title, link or text: nothing a reader could be shown or sent to."""
    return not ((entry.link or "").strip() or html_to_text(entry.title)
                or html_to_text(entry.content_html) or html_to_text(entry.summary_html))


def build_records(entries: list[EntryFields], options: ParseOptions, *, base_url: str,
                  language: str | None) -> list[Entry]:
    records: list[Entry] = []
    keys: dict[str, str] = {}
    for entry in entries:
        record, digest = build_record(entry, options, base_url=base_url, language=language)
        previous_digest = keys.get(record.entry_key)
        if previous_digest == digest:
            continue  # the feed repeats an entry verbatim
        if previous_digest is not None:
            # Same guid, different entry (seen in real FeedBurner feeds): keep both apart.
            record.entry_key = f"{record.entry_key}#{digest[:12]}"
            if not record.canonical_url:
                record.item_id = item_id(None, options.source_id, record.entry_key)
        keys[record.entry_key] = digest
        records.append(record)
    return records


def build_record(entry: EntryFields, options: ParseOptions, *, base_url: str,
                 language: str | None) -> tuple[Entry, str]:
    """The entry's record, and the digest that tells entries sharing a guid apart (part of the
    entry keys already stored for them, so its recipe is identity, not the record's content_hash)."""
    link = canonical_url(entry.link, base=base_url) if entry.link else None
    if link is None and entry.guid and entry.guid.startswith(("http://", "https://")):
        link = canonical_url(entry.guid)
    content_source = entry.content_html or entry.summary_html
    content_html = sanitize_html(content_source, base_url=entry.content_base or link or base_url)
    content_text = html_to_text(content_html)
    summary_text = html_to_text(entry.summary_html) if entry.summary_html else ""
    title = html_to_text(entry.title) or title_from_text(summary_text or content_text) or UNTITLED
    summary = summarise(summary_text or content_text)

    reasons = find_tag_matches(options.tags, categories=entry.categories, title=title,
                               summary=summary_text, content=content_text)
    tags = merge_tags(entry.categories, hashtags(title), hashtags(summary_text), hashtags(content_text))
    matched = bool(reasons) or not options.tagged_only
    if not options.tagged_only:
        reasons = reasons + [ON_TOPIC_REASON]

    published = entry.published_at or entry.updated_at
    guid = (entry.guid or "").strip() or None
    entry_key = guid or link or _digest(title, content_text)[:24]
    digest = _digest(title, link or "", summary, content_html, entry.author or "",
                     str(published), str(entry.updated_at), "|".join(tags))
    record = Entry(
        source_id=options.source_id,
        entry_key=entry_key,
        item_id=item_id(link, options.source_id, entry_key),
        url=link,
        canonical_url=link,
        title=title,
        summary=summary,
        content_html=content_html,
        content_text=content_text,
        author=(entry.author or "").strip() or None,
        published_at=published,
        updated_at=entry.updated_at,
        date_missing=published is None,
        tags=tags,
        match_reasons=reasons,
        matched=matched,
        language=(entry.language or language or None),
        raw_json=json.dumps(entry.raw, default=str, ensure_ascii=False),
    )
    return record, digest


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
