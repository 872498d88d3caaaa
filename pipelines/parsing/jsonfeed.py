"""JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/); feedparser does not read it."""

from __future__ import annotations

import json
from urllib.parse import urljoin

from pipelines.dates import parse_datetime
from pipelines.parsing.entries import EntryFields, FeedFields

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
    version = JSON_FEED_VERSIONS.get(str(doc.get("version", "")).rstrip("/"), "json")
    base = doc.get("home_page_url") or doc.get("feed_url") or url
    feed_authors = _authors(doc)
    entries = [_entry(item, base, feed_authors) for item in doc["items"] if isinstance(item, dict)]
    return FeedFields(
        format=version,
        title=str(doc.get("title") or ""),
        link=doc.get("home_page_url"),
        language=doc.get("language"),
        entries=entries,
    )


def _authors(obj: dict) -> list[str]:
    authors = obj.get("authors")
    if not isinstance(authors, list):
        authors = [obj["author"]] if isinstance(obj.get("author"), dict) else []
    return [a["name"] for a in authors if isinstance(a, dict) and a.get("name")]


def _entry(item: dict, base: str, feed_authors: list[str]) -> EntryFields:
    link = item.get("url") or item.get("external_url")
    content_html = item.get("content_html") or ""
    if not content_html and item.get("content_text"):
        content_html = _text_as_html(str(item["content_text"]))
    authors = _authors(item) or feed_authors
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    return EntryFields(
        guid=str(item["id"]) if item.get("id") is not None else None,
        link=urljoin(base, link) if isinstance(link, str) else None,
        title=str(item.get("title") or ""),
        summary_html=str(item.get("summary") or ""),
        content_html=content_html,
        author=", ".join(authors) or None,
        published_at=parse_datetime(item.get("date_published")),
        updated_at=parse_datetime(item.get("date_modified")),
        categories=[str(t) for t in tags if t],
        raw=item,
        language=item.get("language"),
        content_base=urljoin(base, link) if isinstance(link, str) else base,
    )


def _text_as_html(text: str) -> str:
    from html import escape

    return "".join(f"<p>{escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip())
