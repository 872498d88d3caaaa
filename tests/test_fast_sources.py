"""Source kinds over the in-memory fetcher: the Mastodon kind reading Mastodon.py's recordings
(../shared/corpus/social) through httpx.MockTransport. The loopback versions are in test_mastodon."""

from __future__ import annotations

import httpx

from pipelines.warehouse import FetchState
from tests.social_servers import HOP_HEADERS, RECORDED_HOST, read_vcr, route_key
from tests.test_fast_fetch import RawBody, harvest_in_memory

RECORDED_TAG = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"
INSTANCE = "https://mastodon.example"


class Recording:
    """Answers GETs with the recorded exchange of the same path and query (page size aside), the
    recorded host swapped for INSTANCE, and 304 to a matching If-None-Match; else a 404."""

    def __init__(self, *cassettes: str) -> None:
        self.exchanges = {route_key(e.path_and_query): e for name in cassettes for e in reversed(read_vcr(name))
                          if e.method == "GET"}
        self.requests: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.raw_path.decode()
        self.requests.append(path)
        exchange = self.exchanges.get(route_key(path))
        if exchange is None:
            return httpx.Response(404, stream=RawBody(b'{"error":"Record not found"}'))
        headers = {k: v.replace(RECORDED_HOST, INSTANCE) for k, v in exchange.headers.items() if k not in HOP_HEADERS}
        if request.headers.get("If-None-Match") and request.headers["If-None-Match"] == headers.get("etag"):
            return httpx.Response(304, headers=headers, stream=RawBody(b""))
        return httpx.Response(exchange.status, headers=headers,
                              stream=RawBody(exchange.body.replace(RECORDED_HOST, INSTANCE).encode()))

    def timeline_requests(self) -> list[str]:
        return [r for r in self.requests if "/timelines/tag/" in r]


def test_the_recorded_tag_timeline_is_read_page_by_page_then_only_past_the_last_post_seen(tmp_path):
    """Mastodon.py's recording of a 30-post tag timeline paged by Link rel=next (10 a page)."""
    recording = Recording("mastodon_hashtag_timeline_paginated_vcr.yaml")
    source = {"id": "toots", "kind": "mastodon", "instance": INSTANCE, "hashtag": RECORDED_TAG}
    first = harvest_in_memory(httpx.MockTransport(recording.handle), tmp_path, source)
    assert first.status == "ok" and len(recording.timeline_requests()) == 4   # three pages, then the empty one
    assert len(first.records) == 30
    oldest = min(first.records, key=lambda r: r.published_at)
    assert oldest.title == f"Toot number 0! #{RECORDED_TAG}"
    assert oldest.author == "@mastodonpy_test_2@mastodon.example"
    assert oldest.match_reasons[0].startswith(f"hashtag #{RECORDED_TAG} on the Mastodon post ")
    assert oldest.url.startswith(INSTANCE + "/@mastodonpy_test_2/")
    assert first.state["last_id"] == "117020581413876942"   # the newest recorded post

    recording.requests.clear()
    again = harvest_in_memory(httpx.MockTransport(recording.handle), tmp_path, source,
                              FetchState(validators={}, feed_urls={}, source_state={"toots": first.state}))
    assert recording.timeline_requests() == [f"/api/v1/timelines/tag/{RECORDED_TAG}?limit=40"]
    assert again.status == "not_modified" and again.records == []
