"""The parsers on corpus feeds and Markdown pages, called directly (no server, no worker, no
warehouse): what test_feeds_corpus, test_feeds_broken, test_tagging, test_untitled_and_empty_entries,
test_markdown_fidelity and test_hostile_sources check end to end through a harvest."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import httpx
import pytest

from pipelines.parse import entry_limits
from pipelines.parse import ParsedDocument, ParseOptions, parse_document
from tests.conftest import CORPUS, content_type_for
from tests.test_fast_fetch import harvest_in_memory
from tests.test_feeds_corpus import ENCODED_FEED_TITLES, entries_by_reference_parser

# One of each format and a few shapes; every corpus feed is harvested end to end in the slow tier.
SAMPLE = ["data_blog_gov_uk_trimmed.atom", "wordpress_manton.rss", "rss10_biorxiv.rdf", "jsonfeed_inessential.json",
          "news_gov_scot_trimmed.rss", "feedburner_braingle_guid_dupes.xml", "jekyll_feedjira_blog.atom",
          "undeclared_latin1_cercle_psy.xml"]
ON_TOPIC = ParseOptions("corpus", (), tagged_only=False)


def parse(path: Path) -> ParsedDocument:
    return parse_document(path.read_bytes(), f"https://corpus.example/feeds/{path.name}", content_type_for(path),
                          ON_TOPIC)


@pytest.mark.parametrize("name", SAMPLE)
def test_each_format_yields_the_entries_its_reference_parser_reads_clean_and_in_utc(name):
    feed = CORPUS / "feeds" / name
    document = parse(feed)
    assert document.error is None, document.error
    assert document.entries_read == entries_by_reference_parser(feed) > 0
    assert document.records and len(document.records) <= document.entries_read
    for record in document.records:
        assert record.source_id == "corpus" and record.entry_key and record.item_id
        assert record.raw_json not in (None, "", "{}")
        assert record.published_at is None or record.published_at.utcoffset().total_seconds() == 0
        assert record.date_missing == (record.published_at is None)
        html = record.content_html.lower()
        assert "<script" not in html and "onerror=" not in html and "javascript:" not in html


@pytest.mark.parametrize("feed, title", ENCODED_FEED_TITLES)
def test_feed_encodings_are_decoded(feed, title):
    titles = [r.title for r in parse(CORPUS / "feeds" / feed).records]
    assert any(t.startswith(title) for t in titles), titles[:3]
    assert not any("Ã" in t or "\ufffd" in t for t in titles)


def test_a_utf8_bom_feed_is_read():
    assert "Skipping Around" in {r.title for r in parse(CORPUS / "feeds" / "bom_donthitsave.xml").records}


def test_relative_links_are_resolved_against_the_feed():
    urls = [r.url for r in parse(CORPUS / "feeds" / "relative_links_neverwinter.xml").records]
    assert urls and all(u.startswith(("http://", "https://")) for u in urls)


def test_relative_urls_inside_content_are_made_absolute():
    # Sam Ruby's Atom feed uses xml:base with relative links inside its xhtml content.
    hrefs = [h for r in parse(CORPUS / "feeds" / "atom_samruby_xhtml.atom").records
             for h in r.content_html.split('href="')[1:]]
    assert hrefs and all(h.startswith(("http://", "https://", "mailto:")) for h in hrefs)


def test_entries_without_dates_are_flagged_not_dated_now():
    records = parse(CORPUS / "feeds" / "rdf_heise_newsticker.xml").records
    assert records and all(r.published_at is None and r.date_missing for r in records)


def test_dates_are_read_in_utc():
    # oren.ru dates carry +0600: "Wed, 22 Jan 2014 20:31:31 +0600" is 14:31:31 UTC
    oren = {r.published_at for r in parse(CORPUS / "feeds" / "windows-1251_oren_ru.xml").records}
    assert datetime(2014, 1, 22, 14, 31, 31, tzinfo=timezone.utc) in oren
    (data_blog,) = {r.published_at.replace(second=0) for r in parse(CORPUS / "feeds" / "data_blog_gov_uk_trimmed.atom").records}
    assert data_blog == datetime(2016, 5, 23, 11, 55, tzinfo=timezone.utc)


@pytest.mark.parametrize("name", ["fp_encoding_bozo_linenoise.xml", "fp_illformed_rss_incomplete_cdata.xml",
                                  "fp_illformed_undeclared_namespace.xml", "w3c_atom_must_entry_title_missing.xml",
                                  "nodefp_saxerror.xml", "rssparser_missing_fields.atom"])
def test_a_broken_feed_is_read_as_far_as_it_goes(name):
    document = parse(CORPUS / "feeds-broken" / name)   # parse_document never raises for bad input
    assert document.error is None and document.entries_read >= len(document.records)


@pytest.mark.parametrize("name, reason", [
    ("miniflux_iso88591_utf8_mismatch.xml", "root element <note>"),
    ("fp_illformed_rss_empty_document.xml", "not an RSS, Atom or JSON feed"),
])
def test_documents_that_are_not_feeds_are_named(name, reason):
    document = parse(CORPUS / "feeds-broken" / name)
    assert document.error and reason in document.error


def test_an_html_page_is_recognised_for_the_feed_kind_to_report_or_follow():
    document = parse(CORPUS / "feeds-broken" / "rssparser_unrecognized.rss")
    assert document.format == "html" and document.discovered_feeds == []


# The tag rule on parsed corpus feeds: which entries a tagged_only source keeps, and why.

def tagged(path: Path, body: bytes | None = None, *tags: str):
    options = ParseOptions("tagged", tags, tagged_only=True)
    records = parse_document(body or path.read_bytes(), f"https://corpus.example/{path.name}", content_type_for(path),
                             options).records
    return [r for r in records if r.matched], [r for r in records if not r.matched]


def test_a_category_naming_a_source_tag_matches_only_its_entries():
    matched, _ = tagged(CORPUS / "feeds" / "data_blog_gov_uk_trimmed.atom", None, "open-data")
    assert [r.match_reasons for r in matched] == [["category 'Open Data'"]]
    matched, _ = tagged(CORPUS / "feeds" / "news_gov_scot_trimmed.rss", None, "communities")
    assert [r.match_reasons for r in matched] == [["category 'Communities'"]]


def test_a_hashtag_in_a_title_matches_and_untagged_entries_are_kept_unmatched():
    # A real WordPress feed whose first post (an untitled micro-post) gets a tagged title.
    manton = CORPUS / "feeds" / "wordpress_manton.rss"
    head, first_item, rest = manton.read_bytes().partition(b"<title></title>")
    assert first_item, "the corpus file changed"
    matched, unmatched = tagged(manton, head + b"<title>Our bins dashboard #OpenGovTech</title>" + rest, "OpenGovTech")
    assert [(r.title, r.match_reasons) for r in matched] == [("Our bins dashboard #OpenGovTech",
                                                              ["hashtag #OpenGovTech in title"])]
    assert "OpenGovTech" in matched[0].tags
    assert len(unmatched) == 9


# Untitled and empty entries.

def test_posts_without_a_title_are_titled_by_their_first_sentence():
    titles = [r.title for r in parse(CORPUS / "feeds" / "scriptingnews.rss").records]
    assert "Good morning students and teachers! 🍏" in titles
    # a paragraph of several sentences: its first one
    assert "From time to time I have to do a podcast to test things out." in titles
    assert "(untitled)" not in titles and all(0 < len(t) <= 100 for t in titles)


def test_untitled_micro_posts_of_a_wordpress_feed_are_titled_from_their_text():
    titles = [r.title for r in parse(CORPUS / "feeds" / "wordpress_manton.rss").records]
    assert len(titles) == 10 and "(untitled)" not in titles and all(titles)


def test_an_empty_entry_is_skipped_with_a_counted_warning():
    # Le Cercle Psy lists an <item> whose title, link and description are all empty.
    document = parse(CORPUS / "feeds" / "undeclared_latin1_cercle_psy.xml")
    assert document.error is None and len(document.records) == 9 == document.entries_read - 1
    assert "1 empty entry (no title, link or text) skipped" in document.warning


# Markdown sources read from a local directory (no request is made: any would fail the test).

OPENGOVTECH = CORPUS / "pages" / "opengovtech"


def harvest_markdown_directory(tmp_path: Path, **source) -> list:
    def no_request(request):
        raise AssertionError(f"a markdown directory needs no network, yet {request.url} was requested")

    outcome = harvest_in_memory(httpx.MockTransport(no_request), tmp_path,
                                {"id": "site", "kind": "markdown", "tagged_only": False, **source})
    assert outcome.status == "ok", outcome.error
    return outcome.records


def test_liquid_tags_and_outputs_of_the_manifesto_are_not_shown_as_text(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    shutil.copy(OPENGOVTECH / "manifesto.md", site / "manifesto.md")
    (record,) = harvest_markdown_directory(tmp_path, directory=str(site))
    for liquid in ("{%", "%}", "{{", "}}"):
        assert liquid not in record.content_text and liquid not in record.content_html
    assert "Please contribute to make this manifesto better!" in " ".join(record.content_text.split())


def test_a_post_with_permalink_false_takes_its_sites_permalink_pattern(tmp_path):
    futuregov = "2019-10-07-futuregov-designing-21st-century-government.md"
    site = tmp_path / "site"
    (site / "_posts").mkdir(parents=True)
    shutil.copy(OPENGOVTECH / "_config.yml", site / "_config.yml")
    post = (OPENGOVTECH / f"post_{futuregov}").read_text(encoding="utf-8")
    (site / "_posts" / futuregov).write_text(post.replace("---\n", "---\npermalink: false\n", 1), encoding="utf-8")
    (record,) = harvest_markdown_directory(tmp_path, directory=str(site), site_url="https://opengovtech.org/")
    assert record.url == "https://opengovtech.org/2019-10-08-futuregov-designing-21st-century-government/"


def test_an_authors_list_is_the_author_and_entities_in_front_matter_are_decoded(tmp_path):
    draft = CORPUS / "pages" / "repo_posts" / "scottlogic_draft_we-need-bold-and-better-govtech-not-big-it.markdown"
    posts = tmp_path / "posts"
    posts.mkdir()
    text = draft.read_text(encoding="utf-8").replace("author: sforeshew-cain", "authors:\n- sforeshew-cain\n- cprice")
    (posts / draft.name).write_text(text.replace("In the past few years, we’ve", "In the past few years&#58; we’ve"),
                                    encoding="utf-8")
    (record,) = harvest_markdown_directory(tmp_path, directory=str(posts))
    assert record.author == "sforeshew-cain, cprice"
    assert record.summary.startswith("In the past few years: we’ve")


def test_local_jekyll_posts_matched_by_a_front_matter_hashtag_and_empty_tags_dropped(tmp_path):
    posts = CORPUS / "pages" / "repo_posts"
    records = harvest_markdown_directory(tmp_path, directory=str(posts), tags=["OpenDataIRL", "GovTech"],
                                         tagged_only=True)
    (matched,) = [r for r in records if r.matched]   # the Scott Logic draft carries neither tag
    assert matched.title == "The Open Data Institute is Integral to the Open Government Partnership"
    assert matched.match_reasons == ["front matter tag '#OpenDataIRL' in okireland_2013-10-23-open-data-institute-"
                                     "is-integral-to-open-government-partnership.md"]
    assert "OpenDataIRL" in matched.tags and matched.published_at.isoformat() == "2013-10-23T08:44:15+00:00"
    assert "‘All About Open Data’" in matched.content_text   # &#8216;…&#8217; decoded
    (draft,) = [r for r in harvest_markdown_directory(tmp_path, directory=str(posts)) if r.title.startswith("We need bold")]
    assert "" not in draft.tags and "government procurement" in draft.tags and "delivery" in draft.tags


def test_seed_documents_front_matter_becomes_details(tmp_path):
    records = {r.title: r for r in harvest_markdown_directory(tmp_path, directory=str(CORPUS.parent / "seeds"))}
    assert "Help us build an open data community" in records
    glasgow = json.loads(records["Glasgow Open Data Group"].details)
    assert glasgow["location"] == "Glasgow" and glasgow["website"] == "https://glasgowopendata.org"
    assert glasgow["social"]["twitter"] == "GlasgowOpenData"


# Hostile entries held to the limits at parse time (test_hostile_sources harvests the same).

def rss(items: str) -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def parse_bytes(body: bytes, content_type: str) -> ParsedDocument:
    return parse_document(body, "https://council.example/feed", content_type, ON_TOPIC)


def test_an_entry_with_thousands_of_categories_is_cut_before_the_parser_reads_it():
    categories = "".join(f"<category>topic {i}</category>" for i in range(40_000))
    document = parse_bytes(rss(f"<item><title>Many topics</title><link>http://council.example/t</link>{categories}"
                               "<category>OpenGovTech</category></item><item><title>Two topics</title>"
                               "<link>http://council.example/u</link><category>OpenGovTech</category>"
                               "<category>bins</category></item>"), "application/rss+xml")
    assert "39,901 categories past the first 100 of an entry were dropped" in document.warning
    tags = {r.title: r.tags for r in document.records}
    assert len(tags["Many topics"]) == entry_limits.TAGS_PER_ENTRY and tags["Two topics"] == ["OpenGovTech", "bins"]


def test_deeply_nested_markup_is_kept_as_its_text():
    nested = "<div>" * 100_000 + "Deep #OpenGovTech text" + "</div>" * 100_000
    (record,) = parse_bytes(rss(f"<item><title>Nested</title><link>http://council.example/n</link>"
                                f"<description>{escape(nested)}</description></item>"), "application/rss+xml").records
    assert record.content_text == "Deep #OpenGovTech text" and record.content_html == "<p>Deep #OpenGovTech text</p>"


def test_a_json_feed_field_of_the_wrong_type_drops_that_field_not_the_feed():
    feed = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [
        {"id": "1", "url": "http://council.example/1", "title": "Object content", "content_html": {"a": 1},
         "summary": ["not", "text"], "tags": [{"x": 1}, "OpenGovTech"], "date_published": 12},
        {"id": "2", "url": {"bad": True}, "title": 42, "content_text": "A post about #OpenGovTech"},
        "not an object",
        {"id": "3", "url": "http://council.example/3", "title": "Plain", "content_text": "Fine"}]}).encode()
    document = parse_bytes(feed, "application/feed+json")
    assert document.error is None and "1 items that are not JSON objects were skipped" in document.warning
    records = {r.entry_key: r for r in document.records}
    assert (records["1"].title, records["1"].content_html, records["1"].tags) == ("Object content", "", ["OpenGovTech"])
    assert records["2"].title == "42" and "OpenGovTech" in records["2"].content_html and records["2"].url is None
    assert records["3"].title == "Plain"


def test_lone_surrogates_and_references_no_text_can_hold_are_dropped_not_the_feed():
    """JSON allows "\\ud800", which no UTF-8 text holds; XML's &#55296; and &#x110000; name no character."""
    json_feed = ('{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1", '
                 '"url": "http://council.example/s", "title": "Bins \\ud800data", "content_text": "x", '
                 '"_extra": "\\udfff"}]}').encode()
    assert [r.title for r in parse_bytes(json_feed, "application/feed+json").records] == ["Bins data"]
    xml_feed = rss("<item><title>Bins &#55296; &#x110000;and data</title><link>http://council.example/1</link></item>"
                   "<item><title>Second</title><link>http://council.example/2</link></item>")
    assert sorted(r.title for r in parse_bytes(xml_feed, "application/rss+xml").records) == ["Bins and data", "Second"]
