"""What a web page says about itself: title, description, canonical URL, dates, author, tags.

Read from the places publishers put it — `<link rel=canonical>`, Open Graph (`og:*`,
`article:*`), JSON-LD (schema.org BlogPosting/Article/NewsArticle…), `<meta name=keywords>`,
`rel=tag` links — so a story shared on social media gets the same title and canonical URL as
the one its blog feed gives, and `opengovtech check` can say where a tag was (or was not).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urljoin

from bs4 import BeautifulSoup

from pipelines.dates import parse_datetime
from pipelines.parse.discovery import FEED_TYPES
from pipelines.sanitize import html_to_text
from pipelines.parse.tags import first_wanted, hashtags, normalise_tag
from pipelines.parse.urls import canonical_url

ARTICLE_TYPES = {"article", "blogposting", "newsarticle", "reportagenewsarticle", "techarticle",
                 "scholarlyarticle", "socialmediaposting", "report", "webpage", "event", "dataset",
                 "softwaresourcecode", "softwareapplication"}
# Where a page's tags can be, in the words `check` uses; the order is the order they are reported.
TAG_PLACES = ("article:tag", "JSON-LD keywords", "meta keywords", "rel=tag link", "hashtag in title",
              "hashtag in description")


@dataclass
class PageMetadata:
    url: str                                   # the URL the page was fetched from (after redirects)
    canonical_url: str | None = None           # rel=canonical, else og:url
    title: str = ""
    description: str = ""
    site_name: str | None = None
    author: str | None = None
    publisher: str | None = None
    published_at: datetime | None = None
    modified_at: datetime | None = None
    language: str | None = None
    image: str | None = None
    generator: str | None = None               # <meta name=generator>: WordPress 6.4, Ghost 5.0, Hugo …
    schema_types: list[str] = field(default_factory=list)   # JSON-LD @type values
    feeds: list[str] = field(default_factory=list)          # <link rel=alternate> feeds
    tags: dict[str, list[str]] = field(default_factory=dict)  # place (TAG_PLACES) -> tags found there

    def all_tags(self) -> list[str]:
        seen: dict[str, str] = {}
        for place in TAG_PLACES:
            for tag in self.tags.get(place, []):
                seen.setdefault(normalise_tag(tag), tag)
        return [t for k, t in seen.items() if k]

    def tag_matches(self, wanted) -> list[str]:
        """Plain-words reasons a wanted tag is on the page ("article:tag 'OpenGovTech'")."""
        return [f"{place} '{tag}'" for place in TAG_PLACES
                if (tag := first_wanted(wanted, self.tags.get(place, [])))]

    def best_url(self) -> str:
        return self.canonical_url or self.url


def parse_page_metadata(body: bytes | str, url: str) -> PageMetadata:
    soup = BeautifulSoup(body, "html.parser")
    meta = PageMetadata(url=url)
    base_tag = soup.find("base", href=True)
    base = urljoin(url, base_tag["href"]) if base_tag else url

    properties: dict[str, list[str]] = {}
    for tag in soup.find_all("meta"):
        key = (tag.get("property") or tag.get("name") or tag.get("itemprop") or "").strip().lower()
        value = tag.get("content")
        if key and isinstance(value, str) and value.strip():
            properties.setdefault(key, []).append(value.strip())

    def first(*keys: str) -> str | None:
        for key in keys:
            if properties.get(key):
                return properties[key][0]
        return None

    links = soup.find_all("link", href=True)
    for link in links:
        rel = {r.lower() for r in (link.get("rel") or [])}
        if "canonical" in rel and meta.canonical_url is None:
            meta.canonical_url = canonical_url(link["href"], base=base)
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rel and kind in FEED_TYPES:
            feed = urljoin(base, link["href"].strip())
            if feed not in meta.feeds:
                meta.feeds.append(feed)
    if meta.canonical_url is None and first("og:url"):
        meta.canonical_url = canonical_url(first("og:url"), base=base)

    ld = _json_ld_objects(soup)
    article = next((o for o in ld if _types(o) & ARTICLE_TYPES), None)
    meta.schema_types = sorted({t for o in ld for t in _types(o, lower=False)})

    title_tag = soup.find("title")
    meta.title = _clean(first("og:title", "twitter:title")
                        or (article and _text(article.get("headline") or article.get("name")))
                        or (title_tag.get_text() if title_tag else ""))
    meta.description = _clean(first("og:description", "description", "twitter:description")
                              or (article and _text(article.get("description"))) or "")
    meta.site_name = first("og:site_name", "application-name") or (article and _name(article.get("publisher")))
    meta.publisher = (article and _name(article.get("publisher"))) or meta.site_name
    meta.author = _clean(first("author", "article:author", "parsely-author")
                         or (article and _name(article.get("author"))) or "") or None
    if meta.author and meta.author.startswith(("http://", "https://")):
        meta.author = (article and _name(article.get("author"))) or None
    meta.published_at = (parse_datetime(first("article:published_time", "datepublished", "date",
                                              "dc.date", "dcterms.created"))
                         or (article and parse_datetime(_text(article.get("datePublished")))))
    meta.modified_at = (parse_datetime(first("article:modified_time", "og:updated_time", "datemodified"))
                        or (article and parse_datetime(_text(article.get("dateModified")))))
    html_tag = soup.find("html")
    meta.language = ((html_tag.get("lang") if html_tag else None) or first("og:locale") or None)
    image = first("og:image", "twitter:image")
    meta.image = urljoin(base, image) if image else None
    meta.generator = " | ".join(properties.get("generator", [])) or None

    places: dict[str, list[str]] = {
        "article:tag": properties.get("article:tag", []),
        "JSON-LD keywords": [k for o in ld for k in _keywords(o.get("keywords"))],
        "meta keywords": [k.strip() for v in properties.get("keywords", []) for k in v.split(",") if k.strip()],
        "rel=tag link": [a.get_text(" ", strip=True) for a in soup.find_all("a", rel=True)
                         if "tag" in {r.lower() for r in a.get("rel") or []} and a.get_text(strip=True)],
        "hashtag in title": hashtags(meta.title),
        "hashtag in description": hashtags(meta.description),
    }
    meta.tags = {place: _unique(values) for place, values in places.items() if values}
    return meta


# Pages written as XHTML wrap a script's JSON in <![CDATA[ … ]]> (often behind // comments).
_CDATA_WRAPPER = re.compile(r"^(?://\s*)?<!\[CDATA\[|(?://\s*)?\]\]>$")


def _json_ld_objects(soup: BeautifulSoup) -> list[dict]:
    """Every JSON-LD object on the page, @graph members included; broken blocks are skipped."""
    # Not extruct: it reads neither CDATA-wrapped form, and one broken block loses all of a page's blocks.
    found: list[dict] = []
    for script in soup.find_all("script", type=re.compile(r"application/ld\+json", re.I)):
        text = (script.string or script.get_text() or "").strip()
        text = _CDATA_WRAPPER.sub("", text).strip() if "CDATA" in text[:40] else text
        try:
            data = json.loads(text.rstrip(";"))
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            obj = stack.pop(0)
            if isinstance(obj, list):
                stack.extend(obj)
            elif isinstance(obj, dict):
                found.append(obj)
                if isinstance(obj.get("@graph"), list):
                    stack.extend(obj["@graph"])
    return found


def _types(obj: dict, lower: bool = True) -> set[str]:
    value = obj.get("@type")
    values = value if isinstance(value, list) else [value]
    return {(v.lower() if lower else v) for v in values if isinstance(v, str)}


def _keywords(value) -> list[str]:
    if isinstance(value, str):
        return [k.strip() for k in value.split(",") if k.strip()]
    if isinstance(value, list):
        return [k.strip() for k in value if isinstance(k, str) and k.strip()]
    return []


def _name(value) -> str | None:
    if isinstance(value, list):
        names = [n for n in (_name(v) for v in value) if n]
        return ", ".join(names) or None
    if isinstance(value, dict):
        return _text(value.get("name")) or None
    return _text(value) or None


def _text(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _clean(text: str) -> str:
    return html_to_text(text).strip()


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for value in values:
        key = normalise_tag(value)
        if key and key not in seen:
            seen.add(key)
            out.append(value.strip())
    return out
