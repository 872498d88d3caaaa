"""80 sources, 20% of them faulty in every way tests/fault_server.py knows, through the real pipeline."""

from __future__ import annotations

import feedparser
import pytest

from tests.conftest import CORPUS, Hub
from pipelines.parse import entry_limits
from tests.fault_server import CANARY, FAULTS, HOSTILE_CONTENT, fault_sources, start_fault_server

pytestmark = pytest.mark.slow  # end to end: servers, subprocesses, a browser or a database

FEEDS = [p.read_bytes() for p in sorted((CORPUS / "feeds").iterdir()) if p.suffix != ".json"][:20]
REASONS = {
    "hang-after-headers": "within 3s",
    "hang-mid-body": "within 3s",
    "503-retry-after-long": "next run",
    "redirect-loop": "more than 5 redirects",
    "redirect-to-private": "non-public address 127.0.0.2",
    "huge-body": "byte cap",
    "gzip-bomb": "byte cap",
    "truncated": "connection",
    "html-not-feed": "HTML page",
    "empty-200": "empty response body",
}


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    server = start_fault_server(FEEDS, root / "canary.txt")
    try:
        hub = Hub(root)
        sources = fault_sources(server, healthy=64, faulty=len(FAULTS))
        hub.write_sources(sources, timeout_s=3, retries=2, retry_after_cap_s=30, run_deadline_s=90)
        report = hub.harvest()
        yield hub, report, server
    finally:
        server.stop()


def test_every_healthy_source_is_ingested_in_full(faulty_run):
    hub, report, _ = faulty_run
    stored = dict(hub.query("SELECT source_id, count(*) FROM raw_entries GROUP BY 1"))
    healthy = [c for c in report.counts if c.source_id.startswith("healthy-")]
    assert len(healthy) == 64
    for c in healthy:
        index = int(c.source_id.split("-")[1])
        expected = len(feedparser.parse(FEEDS[index % len(FEEDS)]).entries)
        assert c.status == "ok", (c.source_id, c.error)
        assert c.fetched == expected and stored[c.source_id] <= expected and stored[c.source_id] > 0


def test_every_faulty_source_is_named_with_what_happened(faulty_run):
    hub, report, _ = faulty_run
    faulty = {c.source_id: c for c in report.counts if c.source_id.startswith("fault-")}
    assert len(faulty) == len(FAULTS)
    for source_id, counts in faulty.items():
        route = source_id.split("-", 2)[2]
        health = hub.health(source_id)
        assert counts.status == FAULTS[route], (route, counts.status, counts.error)
        if route in REASONS:
            assert REASONS[route] in health["error"], (route, health["error"])


def test_the_run_ends_within_its_deadline(faulty_run):
    # Every source ended on its own limits (request timeouts, caps, retries), so none was still
    # running when the 90 s run deadline came, and every one of them is reported.
    _, report, _ = faulty_run
    assert len(report.counts) == 64 + len(FAULTS)
    cut_off = [c.source_id for c in report.counts if "run deadline" in (c.error or "")]
    assert cut_off == []


def test_no_private_address_and_no_local_file_was_read(faulty_run):
    hub, _, server = faulty_run
    assert server.requested["/secret"] == 0
    for path in (hub.warehouse_path, hub.warehouse_path.with_name("hub.search.sqlite")):
        assert CANARY.encode() not in path.read_bytes()
    assert hub.query(f"SELECT count(*) FROM raw_entries WHERE raw_json LIKE '%{CANARY}%'") == [(0,)]


def test_recovering_faults_really_recovered(faulty_run):
    hub, _, server = faulty_run
    for route in ("429-then-ok", "fail-twice-then-ok"):
        (rows,) = hub.query(f"SELECT count(*) FROM raw_entries WHERE source_id LIKE 'fault-%-{route}'")[0]
        assert rows > 0, route
    assert server.requested[f"/fail-twice-then-ok/{list(FAULTS).index('fail-twice-then-ok')}"] == 3
    # The bytes are windows-1251 but declared UTF-8: feedparser falls back to windows-1252 and
    # the warning says so, for the publisher to fix. (Charset detection was tried and rejected:
    # it misreads the corpus's real Latin-1 feeds.)
    (warning,) = hub.query("SELECT warning FROM source_health WHERE source_id LIKE 'fault-%-wrong-charset'")[0]
    assert warning == "CharacterEncodingOverride: document declared as utf-8, but parsed as windows-1252"


def test_hostile_content_is_read_within_the_limits_and_says_what_was_cut(faulty_run):
    hub, _, _ = faulty_run

    def by_route(rows):
        return {source_id.split("-", 2)[2]: value for source_id, value in rows if source_id.startswith("fault-")}

    stored = by_route(hub.query("SELECT source_id, count(*) FROM raw_entries GROUP BY 1"))
    assert all(stored.get(route, 0) > 0 for route in HOSTILE_CONTENT), stored
    assert stored["many-entries"] == entry_limits.ENTRIES_PER_SOURCE
    longest_title, most_tags = hub.query("SELECT max(length(title)), max(len(tags)) FROM raw_entries")[0]
    assert longest_title <= entry_limits.TITLE_CHARS and most_tags <= entry_limits.TAGS_PER_ENTRY
    warnings = by_route(hub.query("SELECT source_id, warning FROM source_health"))
    assert "title cut on 1 entry" in warnings["huge-title"]
    assert "180,000 entries; the first 5,000 were read" in warnings["many-entries"]
    assert "499,900 tags past the first 100" in warnings["many-tags"]
    assert "39,900 categories past the first 100" in warnings["many-categories"]
