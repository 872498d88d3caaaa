"""The lxml fast path (pipelines.parse.fastfeed) against the feedparser path: for every corpus
feed, and for generated RSS and Atom feeds in several encodings, a document the fast path
accepts gives the same records after the adapter as feedparser gives; a document it is not sure
of goes to feedparser."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from html import escape

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pipelines.parse import ParsedDocument, ParseOptions, parse_document, xmlfeed
from pipelines.parse.fastfeed import feedparser_headers, parse_well_formed_feed
from tests.conftest import CORPUS, content_type_for, corpus_files
from tests.property_budget import examples

OPTIONS = ParseOptions("diff", ("opengovtech", "civictech"), tagged_only=True)
URL = "https://corpus.example/feeds/feed.xml"
# Every stored field of a record but raw_json: the fast path keeps its own, smaller raw entry.
COMPARED = ("entry_key", "item_id", "url", "canonical_url", "title", "summary", "content_html", "content_text",
            "author", "published_at", "updated_at", "date_missing", "tags", "match_reasons", "matched", "language")
FEEDS = corpus_files("feeds") + corpus_files("feeds-broken")


def by_feedparser(body: bytes, content_type: str | None) -> ParsedDocument:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(xmlfeed, "parse_well_formed_feed", lambda *args: None)
        return parse_document(body, URL, content_type, OPTIONS)


def takes_fast_path(body: bytes, content_type: str | None) -> bool:
    cut, _ = xmlfeed.within_entry_limits(xmlfeed.without_impossible_characters(body))
    return parse_well_formed_feed(cut, URL, content_type) is not None


def assert_same_document(body: bytes, content_type: str | None, name: str) -> None:
    fast, reference = parse_document(body, URL, content_type, OPTIONS), by_feedparser(body, content_type)
    assert (fast.format, fast.title, fast.entries_read, fast.error, fast.warning) == \
        (reference.format, reference.title, reference.entries_read, reference.error, reference.warning), name
    assert len(fast.records) == len(reference.records), name
    for index, (mine, theirs) in enumerate(zip(fast.records, reference.records)):
        for field in COMPARED:
            assert getattr(mine, field) == getattr(theirs, field), f"{name}, entry {index}: {field}"


def test_every_corpus_feed_the_fast_path_accepts_gives_the_feedparser_records():
    fast = []
    for path in FEEDS:
        if path.suffix == ".json":
            continue
        body, content_type = path.read_bytes(), content_type_for(path)
        if takes_fast_path(body, content_type):
            fast.append(path.name)
            assert_same_document(body, content_type, path.name)
    print(f"\n{len(fast)} of {len(FEEDS)} corpus feeds took the fast path: {', '.join(fast)}")
    # Most well-formed UTF-8 feeds in the corpus are plain RSS 2.0 or Atom: the fast path must take them.
    assert len(fast) >= 10


@pytest.mark.parametrize("name, reason", [
    ("rss10_biorxiv.rdf", "RSS 1.0"),
    ("undeclared_latin1_cercle_psy.xml", "Latin-1 read as UTF-8: feedparser's strict parser fails on it"),
    ("typepad_everything_typepad.xml", "whitespace before the XML declaration: feedparser's loose parser"),
])
def test_feeds_the_fast_path_is_not_sure_of_go_to_feedparser(name, reason):
    path = CORPUS / "feeds" / name
    assert not takes_fast_path(path.read_bytes(), content_type_for(path)), reason


def test_a_broken_corpus_feed_reaches_the_fast_path_only_when_feedparser_reads_it_strictly():
    # feedparser's loose parser (taken after an XML error) reads documents otherwise than lxml.
    import xml.sax

    import feedparser

    for path in corpus_files("feeds-broken"):
        body, content_type = path.read_bytes(), content_type_for(path)
        if takes_fast_path(body, content_type):
            parsed = feedparser.parse(body, response_headers=feedparser_headers(URL, content_type))
            assert not isinstance(parsed.get("bozo_exception"), xml.sax.SAXException), path.name


@pytest.mark.parametrize("item, fast", [
    # feedparser's title: "m" (an image or source resets which title it keeps)
    ("<title>Own</title><image><title>Img</title></image><media:title>m</media:title>", False),
    ('<title>Own</title><source url="https://e.org/f">S</source><media:title>m</media:title>', False),
    ("<image><title>Img</title></image>", False),  # "Img"
    ("<media:title>m</media:title><title> </title>", False),  # "m"
    ("<title>Own</title><media:title>m</media:title>", True),  # "Own", as in every case below
    ("<media:title>m</media:title><title>Own</title>", True),
    ("<image><title>Img</title></image><title>Own</title><media:title>m</media:title>", False),
    ("<title>Own</title><image><title>Img</title><url>https://e.org/i.png</url></image>", True),
])
def test_an_item_title_feedparser_may_take_from_an_image_or_media_title_is_read_alike(item, fast):
    body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
            f"<channel><title>T</title><link>https://e.org/</link><item>{item}</item></channel></rss>").encode()
    assert takes_fast_path(body, "application/xml") == fast
    assert_same_document(body, "application/xml", item)


# Generated feeds ------------------------------------------------------------------------------

text = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60),
    st.sampled_from(["A &amp; B", "<b>bold</b> title", "&lt;i&gt;x&lt;/i&gt;", "#OpenGovTech news", "CivicTech",
                     "  spaced  ", "", "café", "Ã©", "x\u0085y", "&#233;t&#xE9;", "]]"]),
)
links = st.sampled_from(["https://example.org/a", "http://example.org/b?x=1&amp;y=2", "/relative/path", "page.html",
                         "https://example.org/a#frag", "https:///three-slashes", "https://example.org/ü", "",
                         "tag:x,2020:1",
                         "javascript:alert(1)", "https://example.org/&amp;amp;"])
dates = st.datetimes(min_value=datetime(1995, 1, 1), max_value=datetime(2035, 1, 1),
                     timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=-5)),
                                                timezone(timedelta(hours=5, minutes=30))]))
categories = st.lists(st.tuples(st.sampled_from(["opengovtech", "civictech", "News", "news", ""]),
                                st.sampled_from([None, "https://example.org/scheme", ""])), max_size=4)
bases = st.sampled_from([None, "https://base.example/dir/", "sub/", "javascript:x"])


def other_date_forms(date: datetime) -> list[str]:
    """Dates as feeds also write them, which feedparser reads its own way or not at all."""
    return [date.strftime("%a, %d %b %y %H:%M:%S %z"), f"{date.year}/{date.month}/{date.day} {date:%H:%M:%S}",
            date.date().isoformat(), date.strftime("%Y-%m-%dT%H:%M:%S%z"), date.strftime("%a %b %d %H:%M:%S %Y"),
            date.strftime("%d %B %Y"), "Seg, 24 Set 2018 19:18:49 -0300", date.strftime("%Y-%m-%d %H:%M")]


def cdata_or_escaped(value: str, cdata: bool) -> str:
    return f"<![CDATA[{value}]]>" if cdata and "]]>" not in value else escape(value, quote=False)


def attribute(name: str, value: str | None) -> str:
    return f' {name}="{escape(value)}"' if value is not None else ""


@st.composite
def rss_items(draw) -> str:
    parts = []
    if draw(st.booleans()):
        parts.append(f"<title>{cdata_or_escaped(draw(text), draw(st.booleans()))}</title>")
    if draw(st.booleans()):
        parts.append(f"<link>{escape(draw(links))}</link>")
    if draw(st.booleans()):
        permalink = draw(st.sampled_from([None, "true", "false", "True"]))
        parts.append(f"<guid{attribute('isPermaLink', permalink)}>{escape(draw(links))}</guid>")
    if draw(st.booleans()):
        date = draw(dates)
        written = draw(st.sampled_from([format_datetime(date), date.isoformat(), "not a date", "",
                                        format_datetime(date).replace("+0000", "GMT"), *other_date_forms(date)]))
        parts.append(f"<pubDate>{escape(written)}</pubDate>")
    if draw(st.booleans()):
        parts.append(f"<description>{cdata_or_escaped(draw(text), draw(st.booleans()))}</description>")
    if draw(st.booleans()):
        parts.append(f"<content:encoded{attribute('xml:base', draw(bases))}>"
                     f"{cdata_or_escaped(draw(text), True)}</content:encoded>")
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(["<author>a@example.org (A)</author>", "<dc:creator>Ann</dc:creator>",
                                           "<dc:creator>Ann</dc:creator><author>b@example.org</author>"])))
    for term, domain in draw(categories):
        parts.append(f"<category{attribute('domain', domain)}>{escape(term)}</category>")
    if draw(st.booleans()):
        # feedparser may take it for the item's title
        parts.append(draw(st.sampled_from(["<media:title>m</media:title>", "<media:title> </media:title>"])))
    if draw(st.booleans()):
        # an item's own image, as some news feeds write it; feedparser reads its title
        parts.append(draw(st.sampled_from([
            "<image><url>https://e.org/i.png</url><title>Image title</title><link>https://e.org/p</link>"
            "<width>150</width><height>x</height></image>",
            "<image><title><![CDATA[  Image title  ]]></title></image>", "<image>https://e.org/i.png</image>",
            "<image><url>https://e.org/i.png</url><description>An image</description></image>",
            "<image><link>https://e.org/p</link></image>"])))
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(['<enclosure url="https://example.org/a.mp3" type="audio/mpeg" length="1"/>',
                                           "<slash:comments>3</slash:comments>",
                                           "<dc:subject>opengovtech</dc:subject>",
                                           "<comments>https://e.org/c</comments>",
                                           '<source url="https://e.org/feed">The Source</source>',
                                           '<source url="https://e.org/feed"><title>T</title></source>'])))
    draw(st.randoms()).shuffle(parts)
    return f"<item{attribute('xml:base', draw(bases))}>{''.join(parts)}</item>"


@st.composite
def atom_entries(draw) -> str:
    parts = []
    if draw(st.booleans()):
        kind = draw(st.sampled_from([None, "text", "html", "xhtml"]))
        value = draw(text)
        body = f'<div xmlns="http://www.w3.org/1999/xhtml">{escape(value)}</div>' if kind == "xhtml" else \
            cdata_or_escaped(value, draw(st.booleans()))
        parts.append(f"<title{attribute('type', kind)}>{body}</title>")
    for _ in range(draw(st.integers(0, 2))):
        rel = draw(st.sampled_from([None, "alternate", "self", "enclosure"]))
        kind = draw(st.sampled_from([None, "text/html", "application/pdf"]))
        parts.append(f"<link{attribute('rel', rel)}{attribute('type', kind)}{attribute('href', draw(links))}"
                     f"{attribute('xml:base', draw(bases))}/>")
    if draw(st.booleans()):
        parts.append(f"<id>{escape(draw(links))}</id>")
    for name in ("published", "updated"):
        if draw(st.booleans()):
            date = draw(dates)
            written = draw(st.sampled_from([date.isoformat(), date.isoformat().replace("+00:00", "Z"),
                                            format_datetime(date), "2020-02-30T00:00:00Z", "",
                                            *other_date_forms(date)]))
            parts.append(f"<{name}>{escape(written)}</{name}>")
    for name in ("summary", "content"):
        if draw(st.booleans()):
            kind = draw(st.sampled_from([None, "text", "html"]))
            parts.append(f"<{name}{attribute('type', kind)}{attribute('xml:base', draw(bases))}>"
                         f"{cdata_or_escaped(draw(text), draw(st.booleans()))}</{name}>")
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(["<author><name>Ann</name></author>",
                                           "<author><name>Ann</name><email>a@example.org</email></author>",
                                           "<author><email>a@example.org</email></author>",
                                           "<author><name>A</name></author><author><name>B</name></author>"])))
    if draw(st.booleans()):
        parts.append(draw(st.sampled_from(["<media:title>m</media:title>", "<media:title/>"])))
    for term, scheme in draw(categories):
        label = draw(st.sampled_from([None, "Label"]))
        parts.append(f"<category{attribute('term', term)}{attribute('scheme', scheme)}{attribute('label', label)}/>")
    draw(st.randoms()).shuffle(parts)
    return f"<entry{attribute('xml:base', draw(bases))}>{''.join(parts)}</entry>"


@st.composite
def channel_heads(draw) -> str:
    parts = [f"<title>{escape(draw(text))}</title>", f"<link>{escape(draw(links))}</link>"]
    parts += draw(st.lists(st.sampled_from([
        "<image><title>Logo</title><url>https://example.org/l.png</url><link>https://example.org/</link></image>",
        "<language>pt-BR</language>", "<dc:language>en</dc:language>",
        "<atom:link rel=\"self\" href=\"https://e.org/f\"/>",
        "<atom:link href=\"https://e.org/alt\"/>"]), max_size=3))
    draw(st.randoms()).shuffle(parts)
    return "".join(parts)


# (encoding the bytes are in, encoding the declaration names): matching, and mislabelled both ways.
ENCODINGS = [("utf-8", "utf-8"), ("utf-8", None), ("iso-8859-1", "iso-8859-1"), ("windows-1252", "windows-1252"),
             ("windows-1251", "windows-1251"), ("utf-8", "iso-8859-1"), ("windows-1252", "utf-8"),
             ("iso-8859-1", None), ("utf-16", "utf-16")]
CONTENT_TYPES = ["application/xml", "application/rss+xml", "text/xml", "text/xml; charset=utf-8",
                 "application/xml; charset=windows-1252", "text/html", "text/plain; charset=iso-8859-1"]


@st.composite
def feeds(draw) -> tuple[bytes, str]:
    """A generated feed's bytes and the Content-Type it is served with."""
    written_in, declared = draw(st.sampled_from(ENCODINGS))
    declaration = draw(st.sampled_from([f'<?xml version="1.0" encoding="{declared}"?>', "<?xml version='1.0'?>", ""])) \
        if declared else draw(st.sampled_from(['<?xml version="1.0"?>', ""]))
    # feedparser reads a document with anything before its declaration with its loose parser
    leading = draw(st.sampled_from(["", "", "", "\n", "  \r\n"]))
    # feedparser takes the version from an RSS 0.90 or 1.0 namespace declared on the root
    version_namespace = draw(st.sampled_from(["", "", "", ' xmlns:rss="http://purl.org/rss/1.0/"',
                                              ' xmlns:rss09="http://my.netscape.com/rdf/simple/0.9/"']))
    if draw(st.booleans()):
        items = "".join(draw(st.lists(rss_items(), min_size=1, max_size=4)))
        version = attribute("version", draw(st.sampled_from(["2.0", "2.0", "0.91", "0.92", "2.01", "1.0", "", None])))
        document = (f'<rss{version}{version_namespace} xmlns:content="http://purl.org/rss/1.0/modules/content/" '
                    f'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/" '
                    f'xmlns:slash="http://purl.org/rss/1.0/modules/slash/" '
                    f'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
                    f"{draw(channel_heads())}{items}</channel></rss>")
    else:
        entries = "".join(draw(st.lists(atom_entries(), min_size=1, max_size=4)))
        document = (f'<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/"'
                    f'{version_namespace}{attribute("xml:base", draw(bases))}>'
                    f"<title>{escape(draw(text))}</title><link href=\"{escape(draw(links))}\"/>{entries}</feed>")
    # Characters the encoding lacks become character references (literal text inside CDATA).
    body = (leading + declaration + document).encode(written_in, errors="xmlcharrefreplace")
    return body, draw(st.sampled_from(CONTENT_TYPES))


@given(feeds())
@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_generated_feeds_give_the_feedparser_records_or_go_to_feedparser(feed):
    body, content_type = feed
    fast = takes_fast_path(body, content_type)
    event("fast path" if fast else "feedparser")
    if fast:
        assert_same_document(body, content_type, repr(body[:2000]))
