"""Random and adversarial feed documents and API answers through the parsers: each example ends
within hypothesis' deadline and a memory bound, and gives records or a plain error, never an
exception."""

from __future__ import annotations

import json
import tracemalloc
from datetime import timedelta
from html import escape

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import pytest

from pipelines.config import BlueskySource, DevtoSource, DiscourseSource, MastodonSource
from pipelines.parse import ParsedDocument, ParseOptions, parse_document
from pipelines.sources import bluesky, devto, discourse, mastodon
from pipelines.sources.api import each_well_formed

pytestmark = pytest.mark.slow  # end to end: servers, subprocesses, a browser or a database

OPTIONS = ParseOptions("prop", ("opengovtech",), tagged_only=False)
MEMORY_BOUND = 200_000_000   # bytes Python may allocate for one small example
BOUNDED = settings(max_examples=60, deadline=timedelta(seconds=10),
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Text as hostile feeds carry it: control characters, markup, entity and character references.
hostile_text = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["&#55296;", "&#x110000;", "\x01", "\ufffe", "&lol;", "<![CDATA[x]]>", "]]>", "&amp;#0;",
                     "<script>alert(1)</script>", "<div>" * 600, "#OpenGovTech", "&quot;&gt;&lt;img src=x onerror=1&gt;"]),
)


@pytest.fixture(scope="module", autouse=True)
def date_languages_loaded():
    """dateparser loads its language data on first use (seconds under tracemalloc on a busy machine):
    once here, so the first example with a date in another language is not charged for it."""
    from pipelines.dates import FeedDateReader

    assert FeedDateReader(None).read("Seg, 24 Set 2018 19:42:40 -0300") is not None


def bounded(fn, *args):
    """fn(*args), failing the example when it allocated more than MEMORY_BOUND at its peak."""
    tracemalloc.start()
    try:
        result = fn(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, peak
    return result


def xml_text(value: str) -> str:
    # References and markup are sent as they are half the time, escaped the other half.
    return value if len(value) % 2 else escape(value)


@st.composite
def rss_documents(draw) -> bytes:
    items = []
    for _ in range(draw(st.integers(0, 5))):
        categories = "".join(f"<category>{xml_text(draw(hostile_text))}</category>"
                             for _ in range(draw(st.integers(0, 300))))
        items.append(f"<item><title>{xml_text(draw(hostile_text))}</title>"
                     f"<link>{xml_text(draw(hostile_text))}</link><guid>{xml_text(draw(hostile_text))}</guid>"
                     f"<pubDate>{xml_text(draw(hostile_text))}</pubDate>{categories}"
                     f"<description>{xml_text(draw(hostile_text))}</description></item>")
    cut = draw(st.integers(0, 10_000))  # truncated documents too
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{"".join(items)}</channel></rss>'.encode(
        "utf-8", "surrogatepass")[:cut or None]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | hostile_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
JSON_FEED_KEYS = ["id", "url", "external_url", "title", "content_html", "content_text", "summary", "date_published",
                  "date_modified", "authors", "author", "tags", "language"]
json_feed_items = st.dictionaries(st.sampled_from(JSON_FEED_KEYS), json_values, max_size=len(JSON_FEED_KEYS))


@BOUNDED
@given(rss_documents())
def test_any_rss_document_parses_to_records_or_a_plain_error(body):
    document = bounded(parse_document, body, "http://council.example/feed", "application/rss+xml", OPTIONS)
    assert isinstance(document, ParsedDocument)
    assert document.error is None or isinstance(document.error, str)


@BOUNDED
@given(st.lists(json_feed_items, max_size=5), json_values)
def test_any_json_feed_parses_to_records_or_a_plain_error(items, feed_title):
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": feed_title, "items": items}
    body = json.dumps(doc, default=str).encode()
    document = bounded(parse_document, body, "http://council.example/feed.json", "application/feed+json", OPTIONS)
    assert document.error is None
    assert len(document.records) <= len(items)


@BOUNDED
@given(st.binary(max_size=2_000))
def test_any_bytes_parse_to_records_or_a_plain_error(body):
    document = bounded(parse_document, body, "http://council.example/feed", None, OPTIONS)
    assert isinstance(document, ParsedDocument)


API_KEYS = ["id", "url", "uri", "title", "content", "body_html", "description", "tags", "tag_list", "user", "account",
            "created_at", "published_at", "record", "author", "slug", "fancy_title", "excerpt", "reblog", "card",
            "embed", "language", "canonical_url", "organization", "indexedAt"]
api_items = st.dictionaries(st.sampled_from(API_KEYS), json_values, max_size=10)

BUILDERS = {
    "devto": lambda item: devto.article_record(
        DevtoSource(id="d", kind="devto", tag="opengovtech"), item, ["opengovtech"]),
    "mastodon": lambda item: mastodon.post_facts(
        MastodonSource(id="m", kind="mastodon", instance="https://mastodon.example", hashtag="opengovtech"),
        item, ["opengovtech"], []),
    "bluesky": lambda item: bluesky.post_facts(BlueskySource(id="b", kind="bluesky", hashtag="opengovtech"),
                                               item, ["opengovtech"]),
    "discourse": lambda item: discourse.topic_record(
        DiscourseSource(id="c", kind="discourse", base_url="https://forum.example", tag="opengovtech"),
        {"id": 1, **item}, item),
}


@BOUNDED
@given(st.sampled_from(sorted(BUILDERS)), st.lists(api_items, max_size=4))
def test_any_api_answer_gives_entries_or_skips_them_never_fails_the_source(kind, items):
    built, skipped = bounded(each_well_formed, items, BUILDERS[kind])
    assert len(built) + skipped == len(items)
