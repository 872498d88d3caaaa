"""Every real feed in ../shared/corpus/feeds, served over loopback, through the real pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest

from tests.conftest import content_type_for, corpus_files, serve_file

FEEDS = corpus_files("feeds")


def source_id(path: Path) -> str:
    return path.name.lower().replace("_", "-").replace(".", "-")


def entries_by_reference_parser(path: Path) -> int:
    """What feedparser (or, for JSON Feed, the spec's `items` list) itself reads from the file."""
    body = path.read_bytes()
    if path.suffix == ".json":
        return len(json.loads(body.decode("utf-8-sig"))["items"])
    return len(feedparser.parse(body, response_headers={"content-type": content_type_for(path)}).entries)


@pytest.fixture(scope="module")
def harvested(tmp_path_factory, http_server):
    """One harvest of the whole corpus, shared by the tests below (it is the slow part)."""
    from tests.conftest import Hub

    http_server.clear()
    http_server.no_handler_status_code = 404
    hub = Hub(tmp_path_factory.mktemp("corpus"))
    sources = [{"id": source_id(f), "kind": "feed", "url": serve_file(http_server, f"/feeds/{f.name}", f),
                "tagged_only": False, "org": "Corpus"} for f in FEEDS]
    hub.write_sources(sources)
    report = hub.harvest()
    return hub, report


def test_every_corpus_feed_yields_the_entries_its_reference_parser_reads(harvested):
    hub, report = harvested
    counts = {c.source_id: c for c in report.counts}
    assert len(counts) == len(FEEDS)
    for feed in FEEDS:
        c = counts[source_id(feed)]
        assert c.status == "ok", f"{feed.name}: {c.error}"
        assert c.fetched == entries_by_reference_parser(feed), feed.name
        assert c.fetched > 0, feed.name


def test_every_entry_is_stored_once_per_source(harvested):
    hub, report = harvested
    stored = dict(hub.query("SELECT source_id, count(*) FROM raw_entries GROUP BY source_id"))
    for c in report.counts:
        assert stored[c.source_id] == c.new
        # only entries repeated verbatim inside one feed may collapse
        assert 0 < c.new <= c.fetched


# A title each of these feeds must decode to, in its own script (the fast tier checks them parsed too).
ENCODED_FEED_TITLES = [
    ("gb2312_kc0011_dvbbs.rss", "建国35周年纪念，华表，和平鸽"),
    ("windows-1251_ibash.xml", "Цитата #17703"),
    ("windows-1251_oren_ru.xml", "В Бузулуке главные стройплощадки – детсад и Ледовый дворец"),
    ("iso8859-1_golem_de.xml", "Machine Learning: Von KI erstelltes Porträt für 432.500 US.D"),
    ("iso8859-1_jn_pt.rss", "Mãe de utente é a nova presidente da Raríssimas"),
    ("bbc_urdu_rtl.xml", "امریکی عسکری امداد کی بندش کی وجوہات"),
]


@pytest.mark.parametrize("feed, title", ENCODED_FEED_TITLES)
def test_feed_encodings_are_decoded(harvested, feed, title):
    hub, _ = harvested
    titles = [t for (t,) in hub.query("SELECT title FROM raw_entries WHERE source_id = ?", [source_id(Path(feed))])]
    assert any(t.startswith(title) for t in titles), titles[:3]
    assert not any("Ã" in t or "\ufffd" in t for t in titles)


def test_utf8_bom_feed_is_read(harvested):
    hub, _ = harvested
    titles = {t for (t,) in hub.query("SELECT title FROM raw_entries WHERE source_id = 'bom-donthitsave-xml'")}
    assert "Skipping Around" in titles


def test_relative_links_are_resolved_against_the_feed(harvested):
    hub, _ = harvested
    urls = [u for (u,) in hub.query("SELECT url FROM raw_entries WHERE source_id = 'relative-links-neverwinter-xml'")]
    assert urls and all(u.startswith(("http://", "https://")) for u in urls)


def test_entries_without_dates_are_flagged_not_dated_now(harvested):
    hub, _ = harvested
    rows = hub.query("""SELECT published_at, date_missing, first_seen_at FROM raw_entries
                        WHERE source_id = 'rdf-heise-newsticker-xml'""")
    assert rows
    assert all(published is None and missing and seen is not None for published, missing, seen in rows)
    item_dates = hub.query("SELECT published_at FROM hub_items WHERE list_contains(source_ids, 'rdf-heise-newsticker-xml')")
    assert all(published is None for (published,) in item_dates)


def test_dates_are_stored_in_utc(harvested):
    hub, _ = harvested
    # oren.ru dates carry +0600: "Wed, 22 Jan 2014 20:31:31 +0600" is 14:31:31 UTC
    dates = {d for (d,) in hub.query("""SELECT strftime(published_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S')
                                         FROM raw_entries WHERE source_id = 'windows-1251-oren-ru-xml'""")}
    assert "2014-01-22 14:31:31" in dates
    (published,) = hub.query("""SELECT strftime(published_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') FROM raw_entries
                                WHERE source_id = 'data-blog-gov-uk-trimmed-atom'""")[0]
    assert published == "2016-05-23 11:55"


def test_content_is_sanitised_before_it_is_stored(harvested):
    hub, _ = harvested
    (scripts,) = hub.query("""SELECT count(*) FROM raw_entries
                              WHERE content_html ILIKE '%<script%' OR content_html ILIKE '%onerror=%'
                                 OR content_html ILIKE '%javascript:%'""")[0]
    assert scripts == 0
    (kept_raw,) = hub.query("SELECT count(*) FROM raw_entries WHERE raw_json IS NULL OR raw_json = '{}'")[0]
    assert kept_raw == 0


def test_hub_items_has_the_public_columns(harvested):
    hub, _ = harvested
    columns = [c for (c,) in hub.query("SELECT column_name FROM (DESCRIBE hub_items)")]
    for expected in ("id", "kind", "title", "url", "summary", "content_text", "author", "organisation",
                     "published_at", "updated_at", "tags", "source_ids", "match_reasons", "first_seen_at",
                     "last_seen_at"):
        assert expected in columns
    (orphans,) = hub.query("SELECT count(*) FROM hub_items WHERE title IS NULL OR len(source_ids) = 0")[0]
    assert orphans == 0
    (with_org,) = hub.query("SELECT count(*) FROM hub_items WHERE organisation = 'Corpus'")[0]
    assert with_org > 1000


def test_relative_urls_inside_content_are_made_absolute(harvested):
    hub, _ = harvested
    # Sam Ruby's Atom feed uses xml:base with relative links inside its xhtml content.
    rows = hub.query("SELECT content_html FROM raw_entries WHERE source_id = 'atom-samruby-xhtml-atom'")
    hrefs = [h for (html,) in rows for h in html.split('href="')[1:]]
    assert hrefs
    assert all(h.startswith(("http://", "https://", "mailto:")) for h in hrefs), [h[:40] for h in hrefs if not h.startswith("http")][:5]


def reference_entries(path: Path) -> list[dict]:
    """The entries the reference parser reads that carry something (a title, link or text), each
    repeated verbatim entry once: the posts a reader of the feed would count."""
    body = path.read_bytes()
    if path.suffix == ".json":
        entries = [{"id": i.get("id"), "title": i.get("title"), "link": i.get("url"),
                    "text": i.get("content_html") or i.get("content_text") or i.get("summary"),
                    "date": i.get("date_published") or i.get("date_modified")}
                   for i in json.loads(body.decode("utf-8-sig"))["items"]]
    else:
        parsed = feedparser.parse(body, response_headers={"content-type": content_type_for(path)})
        entries = [{"id": e.get("id"), "title": e.get("title"), "link": e.get("link"),
                    "text": e.get("summary") or "".join(c.get("value", "") for c in e.get("content", [])),
                    "date": e.get("published") or e.get("created") or e.get("updated")}
                   for e in parsed.entries]
    distinct = {json.dumps(e, sort_keys=True, default=str): e for e in entries
                if any((e[k] or "").strip() for k in ("title", "link", "text"))}
    return list(distinct.values())


@pytest.mark.parametrize("feed", FEEDS, ids=[f.name for f in FEEDS])
def test_every_corpus_feed_becomes_one_titled_linked_dated_item_per_distinct_entry(harvested, feed):
    hub, _ = harvested
    entries = reference_entries(feed)
    rows = hub.query("SELECT title, url, published_at, merge_reasons FROM hub_items WHERE list_contains(source_ids, ?)",
                     [source_id(feed)])
    merged = [reasons for *_, reasons in rows if reasons]
    # Fewer items than entries only where an item says why entries were merged into it.
    assert len(rows) == len(entries) or (len(rows) < len(entries) and merged), (len(rows), len(entries))
    assert not [t for t, *_ in rows if not t or t == "(untitled)"]
    assert not [t for t, url, *_ in rows if not url]
    dated = sum(1 for e in entries if (e["date"] or "").strip())
    assert sum(1 for _, _, published, _ in rows if published is not None) >= dated
