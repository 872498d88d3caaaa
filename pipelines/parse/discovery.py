"""Feed autodiscovery: an HTML page's <link rel="alternate"> feed URLs."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from bs4 import BeautifulSoup

from pipelines.parse.sniff import first_tag

FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/rdf+xml",
    "application/json",
)
_FEED_ROOT = re.compile(rb"<(rss|feed|rdf:RDF)[\s>]", re.I)
HTML_ROOTS = {"html", "head", "body"}


def looks_like_html(body: bytes, content_type: str | None) -> bool:
    head = body[:8192]
    if _FEED_ROOT.search(head):
        return False  # a feed, whatever the server called it
    if content_type and "html" in content_type.lower() and "xhtml+xml" not in content_type.lower():
        return True
    first = (first_tag(head) or "").lower()
    return first.startswith("!doctype") or first in HTML_ROOTS


def discover_feed_urls(body: bytes, page_url: str) -> list[str]:
    soup = BeautifulSoup(body, "html.parser")
    base_tag = soup.find("base", href=True)
    base = urljoin(page_url, base_tag["href"]) if base_tag else page_url
    found: list[str] = []
    for link in soup.find_all("link", href=True):
        rel = {r.lower() for r in (link.get("rel") or [])}
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rel and kind in FEED_TYPES:
            url = urljoin(base, link["href"].strip())
            if url not in found:
                found.append(url)
    return found
