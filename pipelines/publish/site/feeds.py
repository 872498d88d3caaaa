"""Feeds out of the hub: Atom 1.0, JSON Feed 1.1, OPML of the sources, and the sitemap.

Built with ElementTree and json so escaping is the libraries' job, never string pasting; every
document is cleaned of the characters XML 1.0 forbids as it is serialised, which neither library does.
"""

from __future__ import annotations

import json
from itertools import islice
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator

from pipelines.sanitize import xml_safe
from pipelines.publish.site.content import ItemCard, SourceStatus

ATOM_NS = "http://www.w3.org/2005/Atom"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
FEED_LENGTH = 50
XML_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"


def _xml_document(root: ET.Element) -> bytes:
    """`root` as a UTF-8 XML document. ElementTree writes a control character as it is, which makes
    the document unreadable, and a lone surrogate as a character reference to one: both are removed."""
    return (XML_DECLARATION + xml_safe(ET.tostring(root, encoding="unicode"))).encode("utf-8")


def _iso(moment: datetime | None) -> str:
    return (moment or datetime.now(timezone.utc)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_feed(*, title: str, feed_url: str, site_url: str, items: Iterable[ItemCard],
              absolute: Callable[[str], str], updated: datetime) -> bytes:
    """An Atom 1.0 feed; each entry links to the original and to its page on the hub."""
    def sub(parent, tag, text=None, **attrs):
        element = ET.SubElement(parent, tag, attrs)
        if text is not None:
            element.text = text
        return element

    # Plain tag names under a literal default namespace: ElementTree would otherwise write "ns0:" prefixes.
    feed = ET.Element("feed", xmlns=ATOM_NS)
    sub(feed, "id", feed_url)
    sub(feed, "title", title)
    sub(feed, "updated", _iso(updated))
    sub(feed, "link", rel="self", href=feed_url, type="application/atom+xml")
    sub(feed, "link", rel="alternate", href=site_url, type="text/html")
    sub(feed, "generator", "OpenGovTech Hub")
    author = sub(feed, "author")
    sub(author, "name", "OpenGovTech Hub")
    for item in islice(items, FEED_LENGTH):
        entry = sub(feed, "entry")
        hub_page = absolute(item.path)
        sub(entry, "id", hub_page)
        sub(entry, "title", item.title)
        sub(entry, "updated", _iso(item.updated_at or item.sort_date))
        if item.published_at:
            sub(entry, "published", _iso(item.published_at))
        sub(entry, "link", rel="alternate", href=item.url or hub_page, type="text/html")
        sub(entry, "link", rel="related", href=hub_page, type="text/html")
        entry_author = sub(entry, "author")
        sub(entry_author, "name", item.author or item.organisation or "Unknown")
        if item.summary:
            sub(entry, "summary", item.summary)
        sub(entry, "category", term=item.kind, label=item.kind.title())
        for tag in item.tags:
            sub(entry, "category", term=tag)
    return _xml_document(feed)


def json_feed(*, title: str, feed_url: str, site_url: str, description: str, items: Iterable[ItemCard],
              absolute: Callable[[str], str]) -> bytes:
    """A JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""
    entries = []
    for item in islice(items, FEED_LENGTH):
        entry = {"id": absolute(item.path), "url": item.url or absolute(item.path),
                 "external_url": absolute(item.path), "title": item.title,
                 "content_text": item.summary or item.title, "tags": [item.kind, *item.tags]}
        if item.summary:
            entry["summary"] = item.summary
        if item.published_at:
            entry["date_published"] = _iso(item.published_at)
        if item.updated_at:
            entry["date_modified"] = _iso(item.updated_at)
        if item.author or item.organisation:
            entry["authors"] = [{"name": item.author or item.organisation}]
        if item.language:
            entry["language"] = item.language
        entries.append(entry)
    document = {"version": "https://jsonfeed.org/version/1.1", "title": title, "home_page_url": site_url,
                "feed_url": feed_url, "description": description, "language": "en", "items": entries}
    # A lone surrogate cannot be written as UTF-8: the JSON Feed is cleaned as the Atom one is.
    return xml_safe(json.dumps(document, ensure_ascii=False, indent=1)).encode("utf-8")


def sources_opml(*, title: str, sources: Iterable[SourceStatus], generated: datetime) -> bytes:
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = generated.strftime("%a, %d %b %Y %H:%M:%S GMT")
    body = ET.SubElement(opml, "body")
    for source in sources:
        if not source.active:
            continue
        feed = source.feed_url or source.url
        attrs = {"text": source.org or source.source_id, "title": source.source_id}
        if source.kind == "feed" and feed:
            attrs.update(type="rss", xmlUrl=feed)
            if source.url and source.url != feed:
                attrs["htmlUrl"] = source.url
        elif feed:
            attrs.update(type="link", url=feed)
        ET.SubElement(body, "outline", attrs)
    return _xml_document(opml)


SITEMAP_URLS = 50_000   # the sitemaps.org limit per file


def sitemaps(urls: Iterable[tuple[str, datetime | None]], absolute: Callable[[str], str]) -> Iterator[tuple[str, bytes]]:
    """(file name, document): `sitemap.xml` alone while the site has at most SITEMAP_URLS pages; beyond
    that sitemap-1.xml, sitemap-2.xml, … of SITEMAP_URLS each and `sitemap.xml` as their index."""
    names = []
    chunks = iter(urls)
    while chunk := list(islice(chunks, SITEMAP_URLS)):
        names.append(f"sitemap-{len(names) + 1}.xml")
        document = _urlset(chunk)
        if len(chunk) < SITEMAP_URLS and len(names) == 1:
            yield "sitemap.xml", document
            return
        yield names[-1], document
    if not names:
        yield "sitemap.xml", _urlset([])
        return
    index = ET.Element("sitemapindex", xmlns=SITEMAP_NS)
    for name in names:
        ET.SubElement(ET.SubElement(index, "sitemap"), "loc").text = absolute(name)
    yield "sitemap.xml", _xml_document(index)


def _urlset(urls: Iterable[tuple[str, datetime | None]]) -> bytes:
    urlset = ET.Element("urlset", xmlns=SITEMAP_NS)
    for loc, modified in urls:
        url = ET.SubElement(urlset, "url")
        ET.SubElement(url, "loc").text = loc
        if modified:
            ET.SubElement(url, "lastmod").text = modified.strftime("%Y-%m-%d")
    return _xml_document(urlset)
