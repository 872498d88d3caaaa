"""The HTTP layer through the real pipeline, against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
import time
import zlib

import pytest

from werkzeug import Request, Response

from pipelines.errors import BodyTooLarge
from pipelines.net.http import Fetcher, HttpSettings
from tests.conftest import CORPUS, serve_bytes, serve_file

ATOM = CORPUS / "feeds" / "data_blog_gov_uk_trimmed.atom"
RSS = CORPUS / "feeds" / "wordpress_manton.rss"
LARGE = CORPUS / "feeds" / "feedburner_blogger.atom"  # 146 KB


def requests_to(server, path: str) -> list[Request]:
    return [request for request, _ in server.log if request.path == path]


def test_second_run_sends_conditional_headers_and_records_not_modified(loopback, hub):
    url = serve_file(loopback, "/feed.rss", RSS)
    hub.write_sources([{"id": "manton", "kind": "feed", "url": url, "tagged_only": False}])
    first = hub.harvest()
    assert first.counts[0].status == "ok" and first.counts[0].new == 10
    (rows_before,) = hub.query("SELECT count(*) FROM raw_entries")[0]

    second = hub.harvest()
    counts = second.counts[0]
    assert (counts.status, counts.new, counts.updated) == ("not_modified", 0, 0)
    last = requests_to(loopback, "/feed.rss")[-1]
    assert last.headers.get("If-None-Match")
    assert hub.health("manton")["status"] == "not_modified"
    assert hub.health("manton")["http_status"] == 304
    assert hub.query("SELECT count(*) FROM raw_entries")[0][0] == rows_before


def test_changed_entries_are_updated_not_duplicated(loopback, hub):
    body = ATOM.read_bytes()
    serve_bytes(loopback, "/feed.atom", body, "application/atom+xml")
    hub.write_sources([{"id": "data-blog", "kind": "feed", "url": loopback.url_for("/feed.atom"), "tagged_only": False}])
    hub.harvest()
    loopback.clear()
    loopback.no_handler_status_code = 404
    changed = body.replace(b"What open government policy can learn from internet culture",
                           b"What open government policy learned from internet culture")
    serve_bytes(loopback, "/feed.atom", changed, "application/atom+xml")
    report = hub.harvest()
    assert (report.counts[0].new, report.counts[0].updated) == (0, 1)
    titles = hub.query("SELECT title FROM hub_items")
    assert titles == [("What open government policy learned from internet culture",)]


def test_503_then_200_is_retried(loopback, hub):
    loopback.expect_oneshot_request("/flaky.rss").respond_with_data("busy", status=503)
    serve_file(loopback, "/flaky.rss", RSS)
    hub.write_sources([{"id": "flaky", "kind": "feed", "url": loopback.url_for("/flaky.rss"), "tagged_only": False}],
                      retries=2)
    report = hub.harvest()
    assert report.counts[0].status == "ok"
    assert report.counts[0].new == 10
    assert len(requests_to(loopback, "/flaky.rss")) == 2


def test_429_with_retry_after_is_honoured(loopback, hub):
    loopback.expect_oneshot_request("/limited.rss").respond_with_data("slow down", status=429,
                                                                      headers={"Retry-After": "1"})
    serve_file(loopback, "/limited.rss", RSS)
    hub.write_sources([{"id": "limited", "kind": "feed", "url": loopback.url_for("/limited.rss"),
                        "tagged_only": False}], retries=2)
    started = time.monotonic()
    report = hub.harvest()
    assert report.counts[0].status == "ok"
    first, second = [r for r, _ in loopback.log if r.path == "/limited.rss"]
    assert second is not first
    assert time.monotonic() - started >= 1.0  # waited as asked before the second request


def test_retry_after_beyond_the_cap_defers_the_source(loopback, hub):
    loopback.expect_request("/later.rss").respond_with_data("later", status=503, headers={"Retry-After": "7200"})
    hub.write_sources([{"id": "later", "kind": "feed", "url": loopback.url_for("/later.rss")}],
                      retries=3, retry_after_cap_s=30)
    report = hub.harvest()
    health = hub.health("later")
    assert report.counts[0].status == "deferred"
    assert health["status"] == "deferred"
    assert "7200s" in health["error"] and "next run" in health["error"]
    assert len(requests_to(loopback, "/later.rss")) == 1


def test_timeout_is_reported(loopback, hub):
    def slow(request: Request) -> Response:
        time.sleep(3)
        return Response(RSS.read_bytes(), content_type="application/rss+xml")

    loopback.expect_request("/slow.rss").respond_with_handler(slow)
    hub.write_sources([{"id": "slow", "kind": "feed", "url": loopback.url_for("/slow.rss")}], timeout_s=1, retries=0)
    report = hub.harvest()
    health = hub.health("slow")
    assert report.counts[0].status == "failed"
    assert "within 1s" in health["error"]


def test_redirect_chain_is_followed(loopback, hub):
    loopback.expect_request("/old").respond_with_data("", status=301, headers={"Location": "/older"})
    loopback.expect_request("/older").respond_with_data("", status=302, headers={"Location": loopback.url_for("/feed")})
    serve_file(loopback, "/feed", ATOM)
    hub.write_sources([{"id": "moved", "kind": "feed", "url": loopback.url_for("/old"), "tagged_only": False}])
    report = hub.harvest()
    assert report.counts[0].status == "ok" and report.counts[0].new == 1


def test_redirect_loop_stops_after_five(loopback, hub):
    loopback.expect_request("/loop").respond_with_data("", status=302, headers={"Location": "/loop"})
    health = hub.harvest_source("loop", loopback.url_for("/loop"))
    assert health["status"] == "failed"
    assert "more than 5 redirects" in health["error"]
    assert len(requests_to(loopback, "/loop")) == 6


def test_redirect_to_a_non_http_url_is_refused(loopback, hub):
    loopback.expect_request("/sneaky").respond_with_data("", status=302, headers={"Location": "file:///etc/passwd"})
    health = hub.harvest_source("sneaky", loopback.url_for("/sneaky"))
    assert health["status"] == "blocked"
    assert "non-http(s)" in health["error"]


def test_robots_txt_disallow_blocks_the_source(loopback, hub):
    loopback.expect_request("/robots.txt").respond_with_data("User-agent: *\nDisallow: /private/\n",
                                                             content_type="text/plain")
    serve_file(loopback, "/private/feed.rss", RSS)
    serve_file(loopback, "/public/feed.rss", RSS)
    hub.write_sources([
        {"id": "private", "kind": "feed", "url": loopback.url_for("/private/feed.rss")},
        {"id": "public", "kind": "feed", "url": loopback.url_for("/public/feed.rss"), "tagged_only": False},
    ])
    report = hub.harvest()
    statuses = {c.source_id: c.status for c in report.counts}
    assert statuses == {"private": "blocked", "public": "ok"}
    assert "robots.txt" in hub.health("private")["error"]
    assert requests_to(loopback, "/private/feed.rss") == []
    assert len(requests_to(loopback, "/robots.txt")) == 1  # cached per origin for the run


def test_body_over_the_cap_is_refused(loopback, hub):
    serve_file(loopback, "/big.atom", LARGE)
    health = hub.harvest_source("big", loopback.url_for("/big.atom"), defaults={"max_body_mb": 0.05})
    assert health["status"] == "failed"
    assert "byte cap" in health["error"]


def test_body_cap_applies_to_decoded_bytes(loopback, hub):
    # 100 KB of gzip that inflates past the 1 MB cap: stopped while decoding.
    bomb = gzip.compress(b"<rss>" + b" " * 5_000_000, compresslevel=9)
    assert len(bomb) < 100_000

    def gzipped(request: Request) -> Response:
        return Response(bomb, content_type="application/rss+xml", headers={"Content-Encoding": "gzip"})

    loopback.expect_request("/bomb.rss").respond_with_handler(gzipped)
    health = hub.harvest_source("bomb", loopback.url_for("/bomb.rss"), defaults={"max_body_mb": 1})
    assert health["status"] == "failed"
    assert "(decoded)" in health["error"]


def test_a_sign_in_answer_is_decoded_in_bounded_steps_too(loopback):
    # POST (the Bluesky sign-in) used httpx's decoder, which inflates the whole body before
    # anything can check its size; it now reads through the same capped decoder as every GET.
    bomb = gzip.compress(b"{" + b" " * 20_000_000, compresslevel=9)
    answer = gzip.compress(json.dumps({"accessJwt": "token"}).encode())

    def gzipped(body: bytes):
        return lambda request: Response(body, content_type="application/json", headers={"Content-Encoding": "gzip"})

    loopback.expect_request("/bomb", method="POST").respond_with_handler(gzipped(bomb))
    loopback.expect_request("/session", method="POST").respond_with_handler(gzipped(answer))

    async def sign_in(path: str):
        async with Fetcher(HttpSettings(user_agent="OpenGovTechHub/test", retries=0)) as fetcher:
            return await fetcher.post_json(loopback.url_for(path), {"identifier": "me"}, allow_private=True)

    assert json.loads(asyncio.run(sign_in("/session")).body) == {"accessJwt": "token"}
    with pytest.raises(BodyTooLarge, match=r"exceeds the 1,000,000 byte cap \(decoded\)"):
        asyncio.run(sign_in("/bomb"))


@pytest.mark.parametrize("encoding", ["gzip", "gzip-two-members", "deflate", "raw-deflate", "gzip, deflate"])
def test_compressed_feeds_are_decoded_whatever_the_framing(loopback, hub, encoding):
    body = ATOM.read_bytes()
    half = len(body) // 2
    encoded = {
        "gzip": lambda: gzip.compress(body),
        "gzip-two-members": lambda: gzip.compress(body[:half]) + gzip.compress(body[half:]),
        "deflate": lambda: zlib.compress(body),
        "raw-deflate": lambda: zlib.compress(body)[2:-4],  # no zlib header: some servers send this as deflate
        "gzip, deflate": lambda: zlib.compress(gzip.compress(body)),
    }[encoding]()
    header = {"gzip-two-members": "gzip", "raw-deflate": "deflate"}.get(encoding, encoding)
    loopback.expect_request("/feed.atom").respond_with_handler(
        lambda request: Response(encoded, content_type="application/atom+xml", headers={"Content-Encoding": header}))
    health = hub.harvest_source("compressed", loopback.url_for("/feed.atom"), tagged_only=False)
    assert health["status"] == "ok", health
    assert hub.query("SELECT count(*) FROM raw_entries")[0][0] == 1


def test_a_feed_in_an_encoding_not_asked_for_is_reported(loopback, hub):
    loopback.expect_request("/feed.atom").respond_with_handler(
        lambda request: Response(ATOM.read_bytes(), content_type="application/atom+xml",
                                 headers={"Content-Encoding": "snappy"}))
    health = hub.harvest_source("snappy", loopback.url_for("/feed.atom"))
    assert health["status"] == "failed"
    assert "could not decode" in health["error"] and "snappy" in health["error"]


def test_html_page_leads_to_its_feed_by_autodiscovery(loopback, hub):
    page = CORPUS / "pages" / "readability_gitlab-blog.html"  # names /atom.xml in <link rel="alternate">
    serve_file(loopback, "/blog/", page)
    serve_file(loopback, "/atom.xml", ATOM)
    hub.write_sources([{"id": "gitlab", "kind": "feed", "url": loopback.url_for("/blog/"), "tagged_only": False}])
    report = hub.harvest()
    assert report.counts[0].status == "ok" and report.counts[0].new == 1
    assert hub.health("gitlab")["feed_url"] == loopback.url_for("/atom.xml")

    # the next run reads the discovered feed directly, conditionally
    second = hub.harvest()
    assert second.counts[0].status == "not_modified"
    assert len(requests_to(loopback, "/blog/")) == 1


def test_html_page_without_a_feed_is_reported(loopback, hub):
    serve_file(loopback, "/article.html", CORPUS / "pages" / "readability_bbc-1.html")
    health = hub.harvest_source("bbc", loopback.url_for("/article.html"))
    assert health["status"] == "failed"
    assert "no <link rel=\"alternate\"> feed" in health["error"]


def test_source_that_goes_404_keeps_its_items(loopback, hub):
    serve_file(loopback, "/gone.rss", RSS)
    hub.write_sources([{"id": "gone", "kind": "feed", "url": loopback.url_for("/gone.rss"), "tagged_only": False}])
    hub.harvest()
    (items_before,) = hub.query("SELECT count(*) FROM hub_items")[0]
    assert items_before == 10

    loopback.clear()
    loopback.no_handler_status_code = 404
    hub.harvest()
    hub.harvest()
    health = hub.health("gone")
    assert (health["status"], health["http_status"], health["consecutive_failures"]) == ("failed", 404, 2)
    assert health["items_seen"] == 10  # the last good count is kept
    assert "HTTP 404" in health["error"]
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == items_before


def test_one_failing_source_never_fails_the_others(loopback, hub):
    serve_file(loopback, "/good.rss", RSS)
    loopback.expect_request("/bad.rss").respond_with_data("oops", status=500)
    hub.write_sources([
        {"id": "good", "kind": "feed", "url": loopback.url_for("/good.rss"), "tagged_only": False},
        {"id": "bad", "kind": "feed", "url": loopback.url_for("/bad.rss")},
    ], retries=0)
    report = hub.harvest()
    assert {c.source_id: c.status for c in report.counts} == {"good": "ok", "bad": "failed"}
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 10


def test_loopback_source_without_allow_private_networks_is_refused_unsent(loopback, hub):
    serve_file(loopback, "/internal.rss", RSS)
    hub.write_sources([{"id": "internal", "kind": "feed", "url": loopback.url_for("/internal.rss"),
                        "allow_private_networks": False}])
    report = hub.harvest()
    health = hub.health("internal")
    assert report.counts[0].status == "blocked"
    assert "non-public address 127.0.0.1" in health["error"]
    assert loopback.log == []  # not even robots.txt was requested


def test_user_agent_names_the_project(loopback, hub):
    serve_file(loopback, "/ua.rss", RSS)
    hub.write_sources([{"id": "ua", "kind": "feed", "url": loopback.url_for("/ua.rss"), "tagged_only": False}])
    hub.harvest()
    agent = requests_to(loopback, "/ua.rss")[0].headers["User-Agent"]
    assert agent.startswith("OpenGovTechHub/") and "+http" in agent


def hanging_handler(answered: threading.Event, release: threading.Event):
    """A handler that answers only once `release` is set (or a minute has passed), then sets `answered`."""
    def hang(request: Request) -> Response:
        release.wait(60)
        answered.set()
        return Response(RSS.read_bytes(), content_type="application/rss+xml")

    return hang


def test_run_deadline_defers_sources_still_hanging(loopback, hub):
    answered, release = threading.Event(), threading.Event()
    loopback.expect_request("/hang.rss").respond_with_handler(hanging_handler(answered, release))
    serve_file(loopback, "/fine.rss", RSS)
    hub.write_sources([
        {"id": "hang", "kind": "feed", "url": loopback.url_for("/hang.rss")},
        {"id": "fine", "kind": "feed", "url": loopback.url_for("/fine.rss"), "tagged_only": False},
    ], timeout_s=60, run_deadline_s=10)   # time for the parse workers to start on a loaded machine
    report = hub.harvest()
    assert not answered.is_set()   # the run ended at its deadline, not when the server answered
    release.set()
    assert {c.source_id: c.status for c in report.counts} == {"hang": "deferred", "fine": "ok"}
    assert "run deadline of 10s" in hub.health("hang")["error"]
    assert hub.query("SELECT count(*) FROM hub_items")[0][0] == 10


def test_run_deadline_defers_sources_never_started_too(loopback, hub):
    # 104 sources, one request at a time, the first hangs: the run holds 102 in flight
    # (2 x global_concurrency + 100) and starts the rest only as slots free, so at the deadline
    # some were never started. Every one is reported, none dropped.
    answered, release = threading.Event(), threading.Event()
    loopback.expect_request("/hang.rss").respond_with_handler(hanging_handler(answered, release))
    hub.write_sources([{"id": f"s{i:03d}", "kind": "feed", "url": loopback.url_for("/hang.rss") + f"?{i}"}
                       for i in range(104)], timeout_s=60, run_deadline_s=1, global_concurrency=1)
    report = hub.harvest()
    assert not answered.is_set()   # the run ended at its deadline, not when the server answered
    release.set()
    assert sorted(c.source_id for c in report.counts) == [f"s{i:03d}" for i in range(104)]
    assert {c.status for c in report.counts} == {"deferred"}
    assert "run deadline of 1s" in hub.health("s103")["error"]


def test_redirect_to_a_loopback_address_outside_the_allowed_network_is_refused(loopback, hub):
    # The source may reach 127.0.0.1 only; its server redirects to another loopback address.
    loopback.expect_request("/feed").respond_with_data(
        "", status=302, headers={"Location": f"http://127.0.0.2:{loopback.port}/internal-admin"})
    health = hub.harvest_source("narrow", loopback.url_for("/feed"), allow_private_networks=["127.0.0.1/32"])
    assert health["status"] == "blocked"
    assert "non-public address 127.0.0.2" in health["error"]
    assert requests_to(loopback, "/internal-admin") == []


def test_private_networks_must_be_networks(hub):
    import pytest

    from pipelines.config import load_registry
    from pipelines.errors import ConfigError

    hub.write_sources([{"id": "x", "kind": "feed", "url": "https://x.example/", "allow_private_networks": ["intranet"]}])
    with pytest.raises(ConfigError, match="'intranet' is not a network"):
        load_registry(hub.sources_path)


def test_gone_or_emptied_feeds_keep_their_items(loopback, hub):
    serve_file(loopback, "/a.rss", RSS)
    serve_file(loopback, "/b.atom", ATOM)
    hub.write_sources([
        {"id": "gone", "kind": "feed", "url": loopback.url_for("/a.rss"), "tagged_only": False},
        {"id": "emptied", "kind": "feed", "url": loopback.url_for("/b.atom"), "tagged_only": False},
    ])
    hub.harvest()
    before = hub.query("SELECT id, title FROM hub_items ORDER BY id")
    assert len(before) == 11

    loopback.clear()
    loopback.no_handler_status_code = 404
    loopback.expect_request("/a.rss").respond_with_data("Gone", status=410)
    empty = ATOM.read_bytes().split(b"<entry")[0] + b"</feed>"
    serve_bytes(loopback, "/b.atom", empty, "application/atom+xml")
    hub.harvest()
    assert hub.query("SELECT id, title FROM hub_items ORDER BY id") == before
    gone, emptied = hub.health("gone"), hub.health("emptied")
    assert (gone["status"], gone["http_status"]) == ("failed", 410)
    assert emptied["status"] == "ok" and emptied["warning"] == "the feed lists no entries"


def test_autodiscovered_feed_on_a_private_address_is_refused(loopback, hub):
    page = b"""<!DOCTYPE html><html><head><title>Blog</title>
<link rel="alternate" type="application/rss+xml" href="http://127.0.0.2:%d/feed.rss"></head><body></body></html>"""
    serve_bytes(loopback, "/blog/", page % loopback.port, "text/html")
    health = hub.harvest_source("discovers-private", loopback.url_for("/blog/"),
                                allow_private_networks=["127.0.0.1/32"])
    assert health["status"] == "blocked"
    assert "non-public address 127.0.0.2" in health["error"]


def test_a_failing_write_stops_the_run_at_once(loopback, hub, monkeypatch):
    import pytest

    from pipelines.store.warehouse import Warehouse

    # More sources than the run holds in flight (2 x global_concurrency + 100 = 102), so without
    # the writer cancelling them the rest would wait for slots until the run deadline. Each answer
    # takes a little while, so sources are still waiting their turn when the first write fails.
    body = RSS.read_bytes()

    def slow_answer(request: Request) -> Response:
        time.sleep(0.05)
        return Response(body, content_type="application/rss+xml")

    for i in range(110):
        loopback.expect_request(f"/f{i}.rss").respond_with_handler(slow_answer)
    hub.write_sources([{"id": f"f{i}", "kind": "feed", "url": loopback.url_for(f"/f{i}.rss"), "tagged_only": False}
                       for i in range(110)], run_deadline_s=600, global_concurrency=1)

    def broken_write(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Warehouse, "write_outcomes", broken_write)
    with pytest.raises(RuntimeError, match=r"step harvest\.harvest_shard\[shard_0\]: OSError: disk full"):
        hub.harvest()
    # Sources still waiting when the write failed were cancelled, never fetched; without that,
    # all 102 in flight would be fetched and the run would wait out the 600 s deadline.
    fetched = [request for request, _ in loopback.log if request.path.startswith("/f")]
    assert 0 < len(fetched) < 102
