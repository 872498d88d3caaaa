"""Hostile sources cannot take the run with them: oversized entries and feeds are held to the
limits in pipelines/parse/entry_limits.py, a parse that overruns is stopped, a bad field drops only
itself, a source whose entries cannot be stored fails alone. Every input is made here and served
on loopback."""

from __future__ import annotations

import asyncio
import json

import duckdb
import psutil
import pytest

from pipelines.parse import entry_limits
from pipelines.errors import ParseTimeout
from pipelines.sources.harvester import LazyProcessPool
from pipelines.entry import Entry
from pipelines.outcomes import SourceOutcome
from pipelines.store.warehouse import BackoffPolicy, open_for_reading, open_for_writing
from tests.conftest import CORPUS, run_cli, serve_bytes, serve_file
from tests.slow_work import parse_forever, sleep_for


def rss(items: str) -> bytes:
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def test_hostile_feeds_are_held_to_the_limits_and_the_run_goes_on(loopback, tmp_path):
    """A 9 MB title, 180,000 entries, 500,000 tags on one entry: `opengovtech run` exits 0, builds
    the site, keeps every healthy entry and names each hostile source with what was cut."""
    big_title = rss('<item><title>' + "Civic " * 1_500_000 + '</title><link>http://council.example/big</link>'
                    '<description>#OpenGovTech</description></item>')
    many = rss("".join(f"<item><link>http://c.example/{i}</link></item>" for i in range(180_000)))
    assert len(many) < 10_000_000 and len(big_title) < 10_000_000  # within the body cap: the parser sees them
    tags = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [
        {"id": "1", "url": "http://c.example/tags", "title": "Tagged", "content_text": "x",
         "tags": [f"tag{i}" for i in range(500_000)]}]}).encode()
    healthy = CORPUS / "feeds" / "guardian_us.rss"
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({
        "defaults": {"allow_private_networks": True, "retries": 0, "timeout_s": 20},
        "sources": [
            {"id": "big-title", "kind": "feed", "url": serve_bytes(loopback, "/big.rss", big_title, "application/rss+xml"),
             "tagged_only": False},
            {"id": "many", "kind": "feed", "url": serve_bytes(loopback, "/many.rss", many, "application/rss+xml"),
             "tagged_only": False},
            {"id": "tags", "kind": "feed", "url": serve_bytes(loopback, "/tags.json", tags, "application/feed+json"),
             "tagged_only": False},
            {"id": "healthy", "kind": "feed", "url": serve_file(loopback, "/healthy.rss", healthy),
             "tagged_only": False}]}), encoding="utf-8")
    warehouse = tmp_path / "wh" / "hub.duckdb"
    result = run_cli("run", "--sources", str(sources), "--warehouse", str(warehouse), env={"DAGSTER_HOME": ""})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (warehouse.parent / "site" / "index.html").is_file()

    with open_for_reading(warehouse) as con:
        health = {row[0]: row[1:] for row in con.execute("SELECT source_id, status, warning FROM source_health").fetchall()}
        stored = dict(con.execute("SELECT source_id, count(*) FROM raw_entries GROUP BY 1").fetchall())
        longest_title, most_tags = con.execute("SELECT max(length(title)), max(len(tags)) FROM raw_entries").fetchone()
        items = dict(con.execute("SELECT source_ids[1], count(*) FROM hub_items GROUP BY 1").fetchall())
    import feedparser

    assert stored["healthy"] == len(feedparser.parse(healthy.read_bytes()).entries) and items["healthy"] > 0
    assert {source: status for source, (status, _) in health.items()} == dict.fromkeys(health, "ok")
    assert "title cut on 1 entry" in health["big-title"][1]
    assert stored["many"] == entry_limits.ENTRIES_PER_SOURCE
    assert "180,000 entries; the first 5,000 were read" in health["many"][1]
    assert "499,900 tags past the first 100 of an entry were dropped" in health["tags"][1]
    assert "raw_json cut on 1 entry" in health["tags"][1]
    assert longest_title <= entry_limits.TITLE_CHARS and most_tags <= entry_limits.TAGS_PER_ENTRY
    for source_id in ("big-title", "many", "tags"):
        assert source_id in result.stdout  # named in the run's own summary


def test_an_entry_with_thousands_of_categories_is_cut_before_the_parser_reads_it(loopback, hub):
    categories = "".join(f"<category>topic {i}</category>" for i in range(40_000))
    feed = rss(f"<item><title>Many topics</title><link>http://council.example/t</link>{categories}"
               "<category>OpenGovTech</category></item>"
               "<item><title>Two topics</title><link>http://council.example/u</link>"
               "<category>OpenGovTech</category><category>bins</category></item>")
    health = hub.harvest_source("topics", serve_bytes(loopback, "/topics.rss", feed, "application/rss+xml"))
    assert health["status"] == "ok"
    assert "39,901 categories past the first 100 of an entry were dropped" in health["warning"]
    tags = dict(hub.query("SELECT title, tags FROM raw_entries"))
    assert len(tags["Many topics"]) == entry_limits.TAGS_PER_ENTRY and tags["Two topics"] == ["OpenGovTech", "bins"]


def test_deeply_nested_markup_keeps_its_text_without_the_parser_s_quadratic_time(loopback, hub):
    from html import escape

    nested = "<div>" * 100_000 + "Deep #OpenGovTech text" + "</div>" * 100_000
    feed = rss(f"<item><title>Nested</title><link>http://council.example/n</link>"
               f"<description>{escape(nested)}</description></item>")
    health = hub.harvest_source("nested", serve_bytes(loopback, "/nested.rss", feed, "application/rss+xml"))
    assert health["status"] == "ok"
    (html, text), = hub.query("SELECT content_html, content_text FROM raw_entries")
    # kept as text: nh3 alone spent over a minute on this markup
    assert text == "Deep #OpenGovTech text" and html == "<p>Deep #OpenGovTech text</p>"


def test_a_json_feed_field_of_the_wrong_type_drops_that_field_not_the_feed(loopback, hub):
    feed = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [
        {"id": "1", "url": "http://council.example/1", "title": "Object content", "content_html": {"a": 1},
         "summary": ["not", "text"], "tags": [{"x": 1}, "OpenGovTech"], "date_published": 12},
        {"id": "2", "url": {"bad": True}, "title": 42, "content_text": "A post about #OpenGovTech"},
        "not an object",
        {"id": "3", "url": "http://council.example/3", "title": "Plain", "content_text": "Fine"}]}).encode()
    health = hub.harvest_source("jf", serve_bytes(loopback, "/f.json", feed, "application/feed+json"),
                                tagged_only=False)
    assert health["status"] == "ok" and "1 items that are not JSON objects were skipped" in health["warning"]
    rows = {r[0]: r[1:] for r in hub.query("SELECT entry_key, title, content_html, tags, url FROM raw_entries")}
    assert rows["1"][:3] == ("Object content", "", ["OpenGovTech"])
    assert rows["2"][0] == "42" and "OpenGovTech" in rows["2"][1] and rows["2"][3] is None
    assert rows["3"][0] == "Plain"


def test_lone_surrogates_a_json_feed_may_carry_are_not_stored(loopback, hub):
    """JSON allows "\\ud800", which no UTF-8 text holds: the entry is stored without it."""
    feed = ('{"version": "https://jsonfeed.org/version/1.1", "title": "t", "items": [{"id": "1", '
            '"url": "http://council.example/s", "title": "Bins \\ud800data", "content_text": "x", '
            '"_extra": "\\udfff"}]}').encode()
    health = hub.harvest_source("sur", serve_bytes(loopback, "/s.json", feed, "application/feed+json"),
                                tagged_only=False)
    assert health["status"] == "ok", health["error"]
    assert hub.query("SELECT title FROM raw_entries") == [("Bins data",)]


def test_character_references_no_text_can_hold_are_dropped_not_the_feed(loopback, hub):
    feed = rss("<item><title>Bins &#55296; &#x110000;and data</title><link>http://council.example/1</link></item>"
               "<item><title>Second</title><link>http://council.example/2</link></item>")
    health = hub.harvest_source("refs", serve_bytes(loopback, "/refs.rss", feed, "application/rss+xml"),
                                tagged_only=False)
    assert health["status"] == "ok"
    assert sorted(t for (t,) in hub.query("SELECT title FROM raw_entries")) == ["Bins and data", "Second"]


def record(source_id: str, key: str, published_at=None) -> Entry:
    return Entry(source_id=source_id, entry_key=key, item_id=f"{source_id}:{key}", url=None, canonical_url=None,
                     title="A post", summary="", content_html="", content_text="", author=None,
                     published_at=published_at, updated_at=None, date_missing=True)


def test_a_source_whose_entries_cannot_be_stored_fails_alone(tmp_path):
    """A value its column cannot hold fails the batch's write: that source fails, with the reason
    in its health, and the other sources of the same batch are written."""
    path = tmp_path / "hub.duckdb"
    outcomes = [SourceOutcome("good", "ok", records=[record("good", "1")]),
                SourceOutcome("bad", "ok", records=[record("bad", "1", published_at="the day before yesterday")]),
                SourceOutcome("also-good", "ok", records=[record("also-good", "1")])]
    with open_for_writing(path, "run-1") as warehouse:
        counts = warehouse.write_outcomes("run-1", outcomes)
    assert {c.source_id: c.status for c in counts} == {"good": "ok", "bad": "failed", "also-good": "ok"}
    with open_for_reading(path) as con:
        assert sorted(con.execute("SELECT source_id FROM raw_entries").fetchall()) == [("also-good",), ("good",)]
        status, error = con.execute("SELECT status, error FROM source_health WHERE source_id = 'bad'").fetchone()
    assert status == "failed" and error.startswith("its 1 entries could not be stored: ")


def test_a_source_too_large_for_one_transaction_is_stored_in_parts(tmp_path):
    """A Markdown site of thousands of posts outgrew DuckDB's memory limit in one transaction and failed
    whole: its entries are written in parts, then its bookkeeping, and every entry lands."""
    path = tmp_path / "hub.duckdb"
    body = "council open data " * 1_100
    records = [Entry(source_id="big", entry_key=str(n), item_id=f"big:{n}", url=f"https://council.example/{n}",
                     canonical_url=None, title=f"Post {n}", summary="", content_html=f"<p>{body}</p>",
                     content_text=body, author=None, published_at=None, updated_at=None, date_missing=True)
               for n in range(500)]
    with open_for_writing(path, "run-1") as warehouse:
        warehouse.con.execute("SET memory_limit = '32MB'")
        with pytest.raises(duckdb.OutOfMemoryException):   # the limit is what the test says it is
            warehouse._write_together("run-1", [SourceOutcome("big", "ok", records=records)], BackoffPolicy())
        (counts,) = warehouse.write_outcomes("run-1", [SourceOutcome("big", "ok", records=records)])
    assert (counts.status, counts.new) == ("ok", 500)
    with open_for_reading(path) as con:
        assert con.execute("SELECT count(*) FROM raw_entries").fetchone() == (500,)
        assert con.execute("SELECT status, items_seen FROM source_health").fetchone() == ("ok", 500)


def test_a_task_that_overruns_its_time_is_stopped_and_its_worker_replaced():
    async def run() -> tuple[str, float]:
        with LazyProcessPool(1) as pool:
            try:
                await pool.run(sleep_for, 600, seconds=1)
            except ParseTimeout as exc:
                problem = str(exc)
            return problem, await pool.run(sleep_for, 0)

    problem, after = asyncio.run(run())
    assert problem == "sleep_for took longer than 1s (the limit for one document) and was stopped"
    assert after == 0


def test_the_run_deadline_stops_a_parse_in_progress(loopback, hub, monkeypatch):
    """A parse still running at the run deadline is stopped with its worker: the run ends, the source
    is reported as deferred and the healthy source is written."""
    import pipelines.sources.harvester

    monkeypatch.setattr(pipelines.sources.harvester, "parse_document", parse_forever)
    quick = rss("<item><title>Quick</title><link>http://council.example/q</link></item>")
    hub.write_sources([{"id": "slow", "kind": "feed", "url": serve_bytes(loopback, "/slow.rss", rss(""), "application/rss+xml")},
                       {"id": "quick", "kind": "feed", "url": serve_bytes(loopback, "/quick.rss", quick, "application/rss+xml"),
                        "tagged_only": False}],
                      run_deadline_s=5)
    report = hub.harvest()  # the parse alone would run for an hour
    slow, = [c for c in report.counts if c.source_id == "slow"]
    assert slow.status == "deferred" and "run deadline of 5s" in slow.error
    assert hub.query("SELECT title FROM raw_entries") == [("Quick",)]
    # the parse workers are spawned children of this process; none is left running the parse
    assert live_spawned_workers() == []


def live_spawned_workers() -> list[psutil.Process]:
    live = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                live.append(child)
        except psutil.Error:   # exited while being looked at
            continue
    return live
