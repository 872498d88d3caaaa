"""Turn a fetched body into raw records: detect the format, parse it, adapt it to Entry.

Runs in worker processes (see pipelines.sources.harvester), so everything here is a plain,
picklable function of bytes in and dataclasses out, and never raises for bad input:
problems come back in `ParsedDocument.error`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.parse.entry_limits import hold_records_to_limits
from pipelines.parse.entries import EntryFields, ParseOptions, build_records, is_empty_entry
from pipelines.entry import Entry

__all__ = ["ParseOptions", "ParsedDocument", "parse_document", "EntryFields"]


@dataclass
class ParsedDocument:
    format: str = ""                      # rss20, atom10, rss10, json11, html, …
    title: str = ""
    entries_read: int = 0                 # entries the format parser itself read
    records: list[Entry] = field(default_factory=list)
    discovered_feeds: list[str] = field(default_factory=list)  # when the body was an HTML page
    warning: str | None = None            # recoverable problem (e.g. charset override)
    error: str | None = None              # unusable body, in plain words


def parse_document(body: bytes, url: str, content_type: str | None, options: ParseOptions) -> ParsedDocument:
    # The format parsers (bs4, feedparser, lxml) are imported when a body is first parsed, not with
    # this package: a run whose sources all answer "not modified" never needs them.
    from pipelines.parse.discovery import discover_feed_urls, looks_like_html
    from pipelines.parse.jsonfeed import looks_like_json, parse_json_feed
    from pipelines.parse.xmlfeed import parse_xml_feed

    if not body or not body.strip():
        return ParsedDocument(error="empty response body")
    try:
        if looks_like_json(body, content_type):
            feed = parse_json_feed(body, url)
        elif looks_like_html(body, content_type):
            return ParsedDocument(format="html", discovered_feeds=discover_feed_urls(body, url))
        else:
            feed = parse_xml_feed(body, url, content_type)
    except ValueError as exc:  # the format parsers' one way of saying "this is not a feed"
        return ParsedDocument(error=str(exc))
    entries = [e for e in feed.entries if not is_empty_entry(e)]
    records = build_records(entries, options, base_url=feed.link or url, language=feed.language)
    empty = len(feed.entries) - len(entries)
    skipped = f"{empty} empty {'entry' if empty == 1 else 'entries'} (no title, link or text) skipped" if empty else None
    # Held to the limits here too, so an oversized entry is cut before it travels back from the worker.
    records, limits = hold_records_to_limits(records, len(feed.entries))
    return ParsedDocument(
        format=feed.format,
        title=feed.title,
        entries_read=len(feed.entries),
        records=records,
        warning="; ".join(filter(None, (feed.warning, skipped, str(limits) if limits else None))) or None,
    )
