"""Every malformed or tricky feed in ../shared/corpus/feeds-broken: parsed or reported, never a crash."""

from __future__ import annotations

import pytest

from tests.conftest import Hub, corpus_files, serve_file

BROKEN = corpus_files("feeds-broken")


def source_id(index: int) -> str:
    return f"broken-{index:03d}"


@pytest.fixture(scope="module")
def harvested(tmp_path_factory, http_server):
    http_server.clear()
    http_server.no_handler_status_code = 404
    hub = Hub(tmp_path_factory.mktemp("broken"))
    hub.write_sources([{"id": source_id(i), "kind": "feed", "tagged_only": False,
                        "url": serve_file(http_server, f"/broken/{f.name}", f)} for i, f in enumerate(BROKEN)])
    return hub, hub.harvest()


def test_every_broken_feed_yields_entries_or_a_named_error(harvested):
    hub, report = harvested
    counts = {c.source_id: c for c in report.counts}
    assert len(counts) == len(BROKEN)
    for i, feed in enumerate(BROKEN):
        c = counts[source_id(i)]
        health = hub.health(source_id(i))
        if c.status == "ok":
            assert health["error"] is None, feed.name
            if c.fetched == 0:
                assert "no entries" in health["warning"], feed.name
        else:
            assert c.status == "failed", (feed.name, c.status)
            assert health["error"], feed.name
            assert "unexpected error" not in health["error"], (feed.name, health["error"])


def test_most_broken_feeds_are_still_read(harvested):
    _, report = harvested
    read = [c for c in report.counts if c.status == "ok" and c.fetched > 0]
    failed = [c for c in report.counts if c.status != "ok"]
    # feedparser recovers from bad encodings, undeclared namespaces, bad dates and CDATA;
    # only documents that are not feeds at all (a bare <note>, an HTML page, an empty file) fail.
    # The rest are feed-level test documents with a channel and no items.
    assert len(read) >= 60
    assert len(failed) <= 8


@pytest.mark.parametrize("name, reason", [
    ("miniflux_iso88591_utf8_mismatch.xml", "root element <note>"),
    ("rssparser_unrecognized.rss", "HTML page"),
    ("fp_illformed_rss_empty_document.xml", "not an RSS, Atom or JSON feed"),
])
def test_documents_that_are_not_feeds_are_named(harvested, name, reason):
    hub, _ = harvested
    index = [f.name for f in BROKEN].index(name)
    health = hub.health(source_id(index))
    assert health["status"] == "failed"
    assert reason in health["error"]
