"""Entry dates however a feed writes them."""

from __future__ import annotations

from pipelines.dates import parse_date_in_any_language
from tests.conftest import CORPUS, serve_file


def test_portuguese_dates_of_a_brazilian_feed_are_read(hub, loopback):
    # UOL Notícias writes RFC 822 dates in Portuguese: "Seg, 24 Set 2018 19:42:40 -0300".
    feed = serve_file(loopback, "/uol.rss", CORPUS / "feeds" / "no_prolog_uol_noticias.rss")
    hub.harvest_source("uol", feed, tagged_only=False)
    dates = hub.query("""SELECT strftime(published_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S'), date_missing
                         FROM raw_entries ORDER BY published_at DESC""")
    assert len(dates) == 15 and not any(missing for _, missing in dates)
    assert dates[0][0] == "2018-09-24 22:42:40"
    assert hub.query("SELECT count(*) FROM hub_items WHERE published_at IS NULL")[0][0] == 0


def test_a_relative_or_partial_date_is_not_taken_for_a_publication_date():
    assert parse_date_in_any_language("yesterday") is None
    assert parse_date_in_any_language("Set 2018", "pt") is None
    assert parse_date_in_any_language("Di, 13 Nov 2018 10:00:00 +0100", "de").isoformat() == "2018-11-13T09:00:00+00:00"


def test_a_feed_of_unreadable_dates_stops_being_read_in_its_language_after_a_few():
    from pipelines.dates import FeedDateReader
    reader = FeedDateReader("pt")
    assert all(reader.read(f"not a date {i}") is None for i in range(FeedDateReader.MISSES))
    assert reader.read("Seg, 24 Set 2018 19:42:40 -0300") is None   # given up
    assert FeedDateReader("pt").read("Seg, 24 Set 2018 19:42:40 -0300") is not None


def test_a_feed_in_an_undeclared_language_has_its_language_found_once(monkeypatch):
    import re

    from dateparser.date import DateDataParser

    from pipelines.dates import FeedDateReader

    # UOL declares no language: the first date is searched for in every language, the rest are
    # read in the language that date was found in, by a parser of that locale alone (the
    # any-language parser scans every locale on each call, even with previous locales known).
    searched = []
    real = DateDataParser.get_date_data

    def counting(parser, text, *args, **kwargs):
        searched.append(parser.try_previous_locales)
        return real(parser, text, *args, **kwargs)

    monkeypatch.setattr(DateDataParser, "get_date_data", counting)
    texts = re.findall(r"<pubDate>([^<]*)", (CORPUS / "feeds" / "no_prolog_uol_noticias.rss").read_text("latin-1"))
    reader = FeedDateReader(None)
    assert all(reader.read(text) is not None for text in texts) and len(texts) == 15
    assert sum(searched) == 1


def test_json_ld_dates_inside_a_cdata_wrapped_script_are_read():
    from pipelines.parse.page_metadata import parse_page_metadata
    from tests.conftest import CORPUS

    # Both pages wrap their JSON-LD in <![CDATA[ … ]]> and carry no date in a meta tag.
    aclu = parse_page_metadata((CORPUS / "pages" / "readability_aclu.html").read_bytes(), "https://www.aclu.org/x")
    gitlab = parse_page_metadata((CORPUS / "pages" / "readability_gitlab-blog.html").read_bytes(), "https://about.gitlab.com/x")
    assert aclu.published_at.isoformat() == "2018-04-05T06:00:00+00:00" and "Article" in aclu.schema_types
    assert gitlab.published_at.isoformat() == "2024-06-25T00:00:00+00:00" and "BlogPosting" in gitlab.schema_types


def test_a_broken_json_ld_block_is_skipped_and_the_others_are_read():
    from pipelines.parse.page_metadata import parse_page_metadata

    page = b"""<html><head><script type="application/ld+json">{"@type": "Article", "headline": </script>
    <script type="application/ld+json"><![CDATA[
    {"@type": "BlogPosting", "headline": "Read", "datePublished": "2024-06-25"}
    ]]></script></head><body></body></html>"""
    meta = parse_page_metadata(page, "https://example.org/post")
    assert meta.schema_types == ["BlogPosting"] and meta.title == "Read"
    assert meta.published_at.date().isoformat() == "2024-06-25"
