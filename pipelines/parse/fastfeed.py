"""Well-formed RSS (2.0, 0.9x) and Atom 1.0, read with lxml into the fields feedparser would give.

feedparser reads every feed, however broken, and is slow for it; most feeds are plain, valid
documents. This module reads only those, and says "not sure" (None) for anything it cannot
read exactly as feedparser does: the caller then uses feedparser (pipelines.parse.xmlfeed).
Every rule below mirrors a rule of feedparser 6 (its namespaces/_base.py and mixin.py), and its
own decoding (encodings.py) and date parsers are called as they are; the differential tests
(tests/test_fastfeed_differential.py) hold the two paths equal on the corpus and on generated feeds.
"""

from __future__ import annotations

import re
from functools import lru_cache
from datetime import datetime
from urllib.parse import urljoin

from feedparser.api import StrictFeedParser
from feedparser.datetimes import _parse_date as feedparser_date
from feedparser.encodings import convert_to_utf8
from feedparser.urls import make_safe_absolute_uri
from lxml import etree

from pipelines.dates import from_struct_time
from pipelines.parse.entries import EntryFields, FeedFields, summary_unless_content

ATOM = "http://www.w3.org/2005/Atom"
XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
_RSS10 = "http://purl.org/rss/1.0/"
_CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
_DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
_DC_DATE = "{http://purl.org/dc/elements/1.1/}date"
_DC_LANGUAGE = "{http://purl.org/dc/elements/1.1/}language"

# feedparser names an element by its own prefix for a namespace it knows ("dc_creator") and
# reads it with a `_start_<name>` method when it has one; an element it has no method for
# changes none of the fields the adapter reads.
_FEEDPARSER_PREFIXES = {uri.lower(): prefix for uri, prefix in StrictFeedParser.namespaces.items()}
_FEEDPARSER_READS = frozenset(name[len("_start_"):].lower() for name in dir(StrictFeedParser)
                              if name.startswith("_start_"))
# Elements feedparser reads into fields the adapter never looks at (links lists, images, media).
_GEOGRAPHY = {"georss_point", "georss_line", "georss_polygon", "georss_box", "georss_where"}
_IGNORED_IN_ENTRY = frozenset({"enclosure", "media_content", "media_thumbnail", "media_credit", "comments",
                               "dc_publisher", *_GEOGRAPHY})
_IGNORED_IN_FEED = frozenset({
    "description", "subtitle", "tagline", "generator", "lastbuilddate", "pubdate", "updated", "published",
    "copyright", "rights", "managingeditor", "webmaster", "image", "category", "cloud", "id", "author",
    "contributor", "icon", "logo", "itunes_author", "itunes_subtitle", "itunes_summary", "itunes_image",
    "itunes_category", "itunes_owner", "itunes_explicit", "media_thumbnail", "media_content", "dc_date",
    "dc_publisher", "dc_rights", "dc_creator", "feedburner_browserfriendly", "info", "textinput", *_GEOGRAPHY})

_TEXT_TYPES = {None: "text/plain", "text": "text/plain", "html": "text/html"}   # Atom's type attribute
# Text feedparser would rewrite: it re-decodes Latin-1-looking text as UTF-8 and maps C1
# controls to their Windows-1252 characters.
_LATIN1_RANGE = re.compile("[\x80-\xff]")
_C1_CONTROLS = re.compile("[\x80-\x9f]")
# A link whose `&…;` feedparser rewrites (it undoes a double escape of query strings).
_ESCAPED_IN_LINK = re.compile(r"&[A-Za-z0-9_]+;")


class NotSure(Exception):
    """The document has something this reader does not read exactly as feedparser does."""


def parse_well_formed_feed(body: bytes, url: str, content_type: str | None) -> FeedFields | None:
    """The feed's fields as feedparser would give them, or None when not sure."""
    decoded = _decoded_as_feedparser_does(body, url, content_type)
    if decoded is None:
        return None
    utf8, warning = decoded
    if b"<!DOCTYPE" in utf8 or b"<!ENTITY" in utf8:
        return None
    try:
        root = etree.fromstring(utf8, _strict_parser())
        if _declares_a_version_namespace(root):
            return None
        if root.tag == "rss":
            feed = _rss(root, url)
        elif root.tag == f"{{{ATOM}}}feed":
            feed = _atom(root, url)
        else:
            return None
    except (etree.XMLSyntaxError, NotSure):
        return None
    feed.warning = warning
    return feed


def _declares_a_version_namespace(root) -> bool:
    """Whether the root declares the RSS 0.90 or 1.0 namespace: feedparser then takes the feed's
    version from it (before it sees the root) and reads text constructs otherwise."""
    uris = {(prefix, uri.lower()) for prefix, uri in root.nsmap.items()}
    return (None, _RSS090) in uris or any(uri == _RSS10 for _, uri in uris)


def feedparser_headers(url: str, content_type: str | None) -> dict[str, str]:
    """The response headers feedparser is given for a document (one place, so both paths agree)."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    return headers


def _decoded_as_feedparser_does(body: bytes, url: str, content_type: str | None) -> tuple[bytes, str | None] | None:
    """(`body` as the UTF-8 that feedparser's strict parser reads, feedparser's warning about its
    encoding), or None when feedparser would read it with its loose parser instead.

    feedparser's own decoding is run, so its choice among the Content-Type charset, the
    declaration and the byte order mark, and its re-written declaration, are the same here."""
    result: dict = {}
    utf8 = convert_to_utf8(feedparser_headers(url, content_type), body, result)
    if not result.get("encoding"):
        return None  # no encoding worked: feedparser's loose parser reads it
    problem = result.get("bozo_exception")
    return utf8, f"{type(problem).__name__}: {problem}" if problem is not None else None


def _strict_parser() -> etree.XMLParser:
    # One per document: parse_document also runs in threads (pickup_check), and an lxml parser
    # must not be shared between threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True, remove_pis=True,
                           huge_tree=False, load_dtd=False)


def _key(element) -> str:
    """The name feedparser gives `element` ("dc_creator", "title", "media_content")."""
    if not isinstance(element.tag, str):
        raise NotSure("an entity reference or other non-element node")
    return _feedparser_name(element.tag, element.prefix)


@lru_cache(maxsize=4096)
def _feedparser_name(tag: str, prefix: str | None) -> str:
    # Cached: a feed repeats the same few element names in every entry.
    uri, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    if uri:
        prefix = _FEEDPARSER_PREFIXES.get(uri.lower(), prefix or "")
    else:
        prefix = ""
    return f"{prefix}_{local}".lower() if prefix else local.lower()


def _feed_language(root, language_element) -> str | None:
    """feedparser's feed language: the channel's <language>, else the root's xml:lang."""
    if language_element is not None:
        return _text(language_element) or None
    lang = root.get(f"{{{XML_NAMESPACE}}}lang", root.get("lang"))
    return lang.replace("_", "-") if lang else None


def _text(element) -> str:
    """The text of an element that holds only text, as feedparser keeps it (stripped)."""
    if len(element):
        raise NotSure(f"markup inside <{element.tag}>")
    text = (element.text or "").strip()
    if _LATIN1_RANGE.search(text) and _rewritten_by_feedparser(text):
        raise NotSure("text feedparser would re-decode")
    return text


def _rewritten_by_feedparser(text: str) -> bool:
    """Whether feedparser changes `text`: it maps C1 controls to Windows-1252 characters, and
    decodes as UTF-8 a text that is all Latin-1 and would be valid UTF-8 as bytes."""
    if _C1_CONTROLS.search(text):
        return True
    try:
        return text.encode("iso-8859-1").decode("utf-8") != text
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False


def _base(element, url: str) -> str:
    """The xml:base in effect at `element`, resolved as feedparser resolves it (from the document
    URL down, on every element whether it has an xml:base or not)."""
    chain = []
    while element is not None:
        chain.append(element.get(f"{{{XML_NAMESPACE}}}base", element.get("base")))
        element = element.getparent()
    base = url
    for value in reversed(chain):
        base = _next_base(base, value)
    return base


@lru_cache(maxsize=4096)
def _next_base(base: str, value: str | None) -> str:
    # Cached: every element of a feed repeats the same few (base, xml:base) pairs.
    return make_safe_absolute_uri(base, value or base) or base


# feedparser's URI join (feedparser.urls._urljoin): extra slashes after "scheme://" dropped first.
_EXTRA_SLASHES = re.compile(r"^([A-Za-z][A-Za-z0-9+-.]*://)(/*)(.*?)")


def _resolved(uri: str, element, url: str) -> str:
    """`uri` resolved against the xml:base in effect at `element`, as feedparser resolves links
    and ids; NotSure for a link feedparser rewrites further (it undoes escaped query strings)."""
    if _ESCAPED_IN_LINK.search(uri):
        raise NotSure("a link with an escaped character reference")
    try:
        return urljoin(_base(element, url), _EXTRA_SLASHES.sub(r"\1\3", uri))
    except ValueError:
        raise NotSure("an unparseable link") from None


def _date(text: str) -> datetime | None:
    """The date feedparser reads in `text`, with its own date parsers (quirks included)."""
    if not text:
        return None
    parsed = feedparser_date(text)
    if not parsed:
        # The feedparser path then reads it in the feed's language (FeedDateReader)
        raise NotSure("a date feedparser cannot read")
    return from_struct_time(parsed)


def _one(found: dict[str, list], key: str):
    elements = found.get(key, [])
    if len(elements) > 1:
        raise NotSure(f"more than one <{key}>")
    return elements[0] if elements else None


class _Tags:
    """Categories as feedparser collects them: (term, scheme, label), repeats dropped."""

    def __init__(self) -> None:
        self.tags: list[list[str | None]] = []

    def add(self, term, scheme, label) -> None:
        if not term and not scheme and not label:
            return
        if [term, scheme, label] not in self.tags:
            self.tags.append([term, scheme, label])

    def category(self, element) -> None:
        attributes = {name.lower(): value for name, value in element.attrib.items()}
        self.add(attributes.get("term"), attributes.get("scheme", attributes.get("domain")), attributes.get("label"))
        value = _text(element)
        if not value:
            return
        if self.tags and not self.tags[-1][0]:
            self.tags[-1][0] = value
        else:
            self.add(value, None, None)

    def categories(self) -> list[str]:
        return [c for c in (term or label for term, _, label in self.tags) if c]

    def raw(self) -> list[dict]:
        return [{"term": t, "scheme": s, "label": la} for t, s, la in self.tags]


def _children_by_key(parent, expected: dict[str, str], ignored: frozenset[str]) -> dict[str, list]:
    """`parent`'s child elements by feedparser name, for the names in `expected` (each must be the
    element expected under that name); NotSure for any other element feedparser would read."""
    found: dict[str, list] = {}
    for child in parent:
        key = _key(child)
        if key in expected:
            if child.tag.lower() != expected[key].lower():
                if _is_atom_link_to_elsewhere(child):
                    continue  # feedparser lists it in `links` only
                raise NotSure(f"<{child.tag}> read by feedparser as <{key}>")
            found.setdefault(key, []).append(child)
        elif key in _FEEDPARSER_READS and key not in ignored:
            raise NotSure(f"<{child.tag}>, which feedparser reads")
    return found


def _is_atom_link_to_elsewhere(element) -> bool:
    """An Atom link (in RSS) that is not the alternate page: rel="self", "hub", "replies"…"""
    return (element.tag == f"{{{ATOM}}}link" and bool(element.get("href"))
            and (element.get("rel") or "alternate").lower() != "alternate")


def _check_below(child, ignored: frozenset[str]) -> None:
    """Nothing inside `child` that feedparser would read into the entry."""
    for below in child.iterdescendants():
        key = _key(below)
        if key in _FEEDPARSER_READS and key not in ignored:
            raise NotSure(f"<{below.tag}> inside <{child.tag}>")


def _optional_text(element) -> str | None:
    return _text(element) if element is not None else None


# RSS 2.0 --------------------------------------------------------------------------------------

_RSS_CHANNEL = {"title": "title", "link": "link", "language": "language", "dc_language": _DC_LANGUAGE,
                "item": "item"}
_RSS_ITEM = {"title": "title", "link": "link", "guid": "guid", "pubdate": "pubDate", "description": "description",
             "content_encoded": _CONTENT_ENCODED, "author": "author", "dc_creator": _DC_CREATOR,
             "category": "category", "dc_date": _DC_DATE, "updated": f"{{{ATOM}}}updated"}


def _rss(root, url: str) -> FeedFields:
    channels = list(root)
    if len(channels) != 1 or channels[0].tag != "channel":
        raise NotSure("not one <channel>")
    channel = channels[0]
    items = channel.findall("item")
    if sum(1 for _ in root.iter("item", "entry", f"{{{ATOM}}}entry")) != len(items):
        raise NotSure("entries outside the channel")
    found = _children_by_key(channel, _RSS_CHANNEL, _IGNORED_IN_FEED)
    title, link = _one(found, "title"), _one(found, "link")
    _check_title_not_after_nested_title(channel, title)
    # In the channel feedparser keeps the last language it read, from either element.
    languages = found.get("language", []) + found.get("dc_language", [])
    language = max(languages, key=lambda e: channel.index(e)) if languages else None
    link_text = _optional_text(link)
    return FeedFields(
        format=_rss_version(root.get("version") or ""),
        title=_optional_text(title) or "",
        link=_resolved(link_text, link, url) if link_text else None,
        language=_feed_language(root, language),
        entries=[_rss_item(item, url) for item in items],
    )


def _rss_version(version: str) -> str:
    """feedparser's name for the RSS version an <rss> root declares (its _start_rss): it reads
    every RSS version alike and only names them apart."""
    named = {"0.91": "rss091u", "0.92": "rss092", "0.93": "rss093", "0.94": "rss094"}
    if version in named:
        return named[version]
    return "rss20" if version.startswith("2.") else "rss"


# What feedparser reads inside an item's <image>: the url, size and link into fields the adapter
# never looks at (it keeps an image's link out of the entry's), the title as below.
_ITEM_IMAGE_PARTS = frozenset({"url", "title", "link", "width", "height"})


def _check_item_image(image, item_has_title: bool) -> None:
    """Nothing in an item's <image> that changes the entry: feedparser keeps the item's own
    <title> (the shallower one) over the image's, but takes the image's when the item has none."""
    for part in image.iterdescendants():
        key = _key(part)
        if key not in _FEEDPARSER_READS:
            continue
        if key not in _ITEM_IMAGE_PARTS or part.getparent() is not image or len(part):
            raise NotSure(f"<{part.tag}> inside an item's <image>")
        if key == "title" and not item_has_title:
            raise NotSure("an item without a title of its own but with an image title")


def _check_media_titles(entry, own_title: str | None) -> None:
    """feedparser reads a <media:title> directly in an entry as the entry's title, unless the
    entry's own title is not empty and no <image> or <source> resets which title it keeps."""
    media_titles = [child for child in entry if _key(child) == "media_title"]
    if media_titles and (not own_title or any(len(m) for m in media_titles)
                         or any(_key(child) in ("image", "source") for child in entry)):
        raise NotSure("a <media:title> feedparser may read as the title")


def _check_title_not_after_nested_title(channel, title) -> None:
    """feedparser ignores a <title> that follows an <image> or <textInput> with a title of its own
    at the same depth: not sure of such a channel."""
    if title is None:
        return
    for child in channel:
        if child is title:
            return
        if _key(child) in ("image", "textinput") and any((t.text or "").strip() for t in child.iter("title")):
            raise NotSure("a channel title after an image or text input title")


def _rss_item(item, url: str) -> EntryFields:
    found = _children_by_key(item, _RSS_ITEM, _IGNORED_IN_ENTRY | {"image", "source", "media_title"})
    for child in item:
        key = _key(child)
        if key == "image":
            _check_item_image(child, item_has_title="title" in found)
        elif key == "source" and len(child):
            # RSS's <source url>name</source> feedparser keeps in `source` only; markup inside
            # is Atom's feed metadata, which it reads otherwise.
            raise NotSure("markup inside an item's <source>")
        else:
            _check_below(child, _IGNORED_IN_ENTRY)
    title, link, guid, pubdate, description, content, author, creator, dc_date, atom_updated = (
        _one(found, k) for k in ("title", "link", "guid", "pubdate", "description", "content_encoded",
                                 "author", "dc_creator", "dc_date", "updated"))
    _check_media_titles(item, _optional_text(title))
    if dc_date is not None and atom_updated is not None:
        raise NotSure("two updated dates")
    dc_date = atom_updated if dc_date is None else dc_date
    if author is not None and creator is not None:
        raise NotSure("two authors")
    guid_text, guid_is_link = None, False
    if guid is not None:
        guid_is_link = {k.lower(): v for k, v in guid.attrib.items()}.get("ispermalink", "true") == "true"
        guid_text = _text(guid)
        if guid_is_link and guid_text:
            guid_text = _resolved(guid_text, guid, url)
    link_text = None
    if link is not None:
        link_text = _text(link)
        if not link_text:
            raise NotSure("an empty <link>")
        link_text = _resolved(link_text, link, url)
    elif guid_is_link:
        link_text = guid_text  # feedparser: a permalink guid stands in for a missing link
    content_html = _optional_text(content) or ""
    # feedparser copies the content into `summary` when there is no description
    summary = _text(description) if description is not None else content_html
    published = _date(_text(pubdate)) if pubdate is not None else None
    # dc:date (or atom:updated) is feedparser's `updated`; without it `updated` falls back to `published`
    updated = _date(_text(dc_date)) if dc_date is not None else published
    tags = _Tags()
    for category in found.get("category", []):
        tags.category(category)
    author_text = _optional_text(author if author is not None else creator)
    textual = content if content is not None else description
    return _entry_fields(
        guid=guid_text, link=link_text, title=_optional_text(title), summary=summary,
        content=(content_html, "text/html") if content is not None else None, author=author_text,
        published=published, updated=updated, tags=tags,
        content_base=_base(textual, url) if textual is not None else None)


# Atom 1.0 -------------------------------------------------------------------------------------

def _atom_names(*names: str) -> dict[str, str]:
    return {name: f"{{{ATOM}}}{name}" for name in names}


_ATOM_FEED = _atom_names("title", "link", "entry")
_ATOM_ENTRY = _atom_names("title", "link", "id", "published", "updated", "summary", "content", "author",
                          "category")
_ATOM_PERSON = _atom_names("name", "email", "uri")


def _atom(root, url: str) -> FeedFields:
    entries = root.findall(f"{{{ATOM}}}entry")
    if sum(1 for _ in root.iter("item", "entry", f"{{{ATOM}}}entry")) != len(entries):
        raise NotSure("entries outside the feed")
    found = _children_by_key(root, _ATOM_FEED, _IGNORED_IN_FEED)
    title = _one(found, "title")
    return FeedFields(
        format="atom10",
        title=_atom_text(title)[0] if title is not None else "",
        link=_atom_link(found.get("link", []), url),
        language=_feed_language(root, None),
        entries=[_atom_entry(entry, url) for entry in entries],
    )


def _atom_text(element) -> tuple[str, str]:
    """(value, media type) of an Atom text construct of type text or html."""
    kind = element.get("type")
    if kind not in _TEXT_TYPES or element.get("src") is not None or element.get("mode") is not None:
        raise NotSure("an Atom text construct that is not text or html")
    return _text(element), _TEXT_TYPES[kind]


_MEDIA_TYPE_NAMES = {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": "application/xhtml+xml"}
_PAGE_TYPES = {"text/html", "application/xhtml+xml"}


def _atom_link(links: list, url: str) -> str | None:
    """feedparser's `link`: the last alternate link to an HTML page (of that type or of none)."""
    chosen = None
    for link in links:
        if len(link) or (link.text or "").strip():
            raise NotSure("a link with content")
        if (link.get("rel") or "alternate").lower() != "alternate":
            continue
        kind = (link.get("type") or "text/html").lower()
        if not link.get("href"):
            raise NotSure("an alternate link without href")
        if _MEDIA_TYPE_NAMES.get(kind, kind) in _PAGE_TYPES:
            chosen = _resolved(link.get("href"), link, url)
    return chosen


def _atom_entry(entry, url: str) -> EntryFields:
    found = _children_by_key(entry, _ATOM_ENTRY, _IGNORED_IN_ENTRY | {"media_title"})
    for child in entry:
        if _key(child) != "author":
            _check_below(child, _IGNORED_IN_ENTRY)
    title, id_, published, updated, summary, content, author = (
        _one(found, k) for k in ("title", "id", "published", "updated", "summary", "content", "author"))
    _check_media_titles(entry, _atom_text(title)[0] if title is not None else None)
    guid = _optional_text(id_)
    if guid:
        guid = _resolved(guid, id_, url)
    # feedparser: the id stands in for a missing alternate link
    link = _atom_link(found.get("link", []), url) or (guid if id_ is not None else None)
    content_value = _atom_text(content) if content is not None else None
    summary_html = _atom_text(summary)[0] if summary is not None else (content_value or ("",))[0]
    published_at = _date(_text(published)) if published is not None else None
    updated_at = _date(_text(updated)) if updated is not None else published_at
    tags = _Tags()
    for category in found.get("category", []):
        tags.category(category)
    textual = content if content is not None else summary
    return _entry_fields(
        guid=guid, link=link, title=_atom_text(title)[0] if title is not None else None, summary=summary_html,
        content=content_value, author=_atom_person(author) if author is not None else None,
        published=published_at, updated=updated_at, tags=tags,
        content_base=_base(textual, url) if textual is not None else None)


def _atom_person(author) -> str:
    """feedparser's `author`: "name (email)", the name, or the email."""
    if (author.text or "").strip():
        raise NotSure("text directly in <author>")
    found = _children_by_key(author, _ATOM_PERSON, frozenset())
    name = _optional_text(_one(found, "name")) or ""
    email = _optional_text(_one(found, "email")) or ""
    if name and email:
        return f"{name} ({email})"
    return name or email


def _entry_fields(*, guid: str | None, link: str | None, title: str | None, summary: str,
                  content: tuple[str, str] | None, author: str | None, published: datetime | None,
                  updated: datetime | None, tags: _Tags, content_base: str | None) -> EntryFields:
    """The entry as EntryFields, and its raw record in the shape of feedparser's keys."""
    content_html = content[0] if content else ""
    raw = {"id": guid, "title": title, "link": link, "summary": summary, "author": author,
           "published": published, "updated": updated, "tags": tags.raw(),
           "content": [{"type": content[1], "value": content[0]}] if content else None}
    return EntryFields(
        guid=guid,
        link=link,
        title=title or "",
        summary_html=summary_unless_content(summary, content_html),
        content_html=content_html,
        author=author,
        published_at=published,
        updated_at=updated,
        categories=tags.categories(),
        raw={key: value for key, value in raw.items() if value not in (None, [])},
        language=None,
        content_base=content_base,
    )
