"""JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/); feedparser does not read it."""

from __future__ import annotations

import json
from urllib.parse import urljoin

from pipelines.dates import parse_datetime
from pipelines.parse.entry_limits import ENTRIES_PER_SOURCE, TAGS_PER_ENTRY
from pipelines.parse.entries import EntryFields, FeedFields

JSON_FEED_VERSIONS = {
    "https://jsonfeed.org/version/1": "json10",
    "https://jsonfeed.org/version/1.1": "json11",
}


def looks_like_json(body: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def parse_json_feed(body: bytes, url: str) -> FeedFields:
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"invalid JSON Feed: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ValueError("JSON document is not a JSON Feed (no 'items' list)")
    version = JSON_FEED_VERSIONS.get(_text(doc.get("version")).rstrip("/"), "json")
    home = _text(doc.get("home_page_url")) or None
    base = home or _text(doc.get("feed_url")) or url
    feed_authors = _authors(doc)
    items = doc["items"]
    warnings = []
    if len(items) > ENTRIES_PER_SOURCE:
        warnings.append(f"the feed lists {len(items):,} entries; the first {ENTRIES_PER_SOURCE:,} were read")
        items = items[:ENTRIES_PER_SOURCE]
    entries = [_entry(item, base, feed_authors) for item in items if isinstance(item, dict)]
    if len(entries) < len(items):
        warnings.append(f"{len(items) - len(entries):,} items that are not JSON objects were skipped")
    extra_tags = sum(max(0, len(e.raw["tags"]) - TAGS_PER_ENTRY) for e in entries if isinstance(e.raw.get("tags"), list))
    if extra_tags:
        warnings.append(f"{extra_tags:,} tags past the first {TAGS_PER_ENTRY} of an entry were dropped")
    return FeedFields(
        format=version,
        title=_text(doc.get("title")),
        link=home,
        language=_text(doc.get("language")) or None,
        entries=entries,
        warning="; ".join(warnings) or None,
    )


def _text(value) -> str:
    """A field that should be a string: numbers are written out, any other value is no value."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def _authors(obj: dict) -> list[str]:
    authors = obj.get("authors")
    if not isinstance(authors, list):
        authors = [obj["author"]] if isinstance(obj.get("author"), dict) else []
    return [_text(a.get("name")) for a in authors if isinstance(a, dict) and _text(a.get("name"))]


def _entry(item: dict, base: str, feed_authors: list[str]) -> EntryFields:
    """One item; a field of the wrong type is left out, never the item or the feed."""
    link = _text(item.get("url")) or _text(item.get("external_url")) or None
    content_html = _text(item.get("content_html"))
    if not content_html and _text(item.get("content_text")):
        content_html = _text_as_html(_text(item["content_text"]))
    authors = _authors(item) or feed_authors
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    return EntryFields(
        guid=_text(item.get("id")) or None,
        link=_joined(base, link),
        title=_text(item.get("title")),
        summary_html=_text(item.get("summary")),
        content_html=content_html,
        author=", ".join(authors) or None,
        published_at=parse_datetime(item.get("date_published")),
        updated_at=parse_datetime(item.get("date_modified")),
        categories=[_text(t) for t in tags[:TAGS_PER_ENTRY] if _text(t)],
        raw=item,
        language=_text(item.get("language")) or None,
        content_base=_joined(base, link) or base,
    )


def _joined(base: str, link: str | None) -> str | None:
    try:
        return urljoin(base, link) if link else None
    except ValueError:  # e.g. an invalid IPv6 host
        return None


def _text_as_html(text: str) -> str:
    from html import escape

    return "".join(f"<p>{escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())
