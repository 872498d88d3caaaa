"""Source kinds over the in-memory fetcher, answered through httpx.MockTransport from the API
recordings in ../shared/corpus (social, github) and corpus pages. The loopback versions are in
test_mastodon, test_social_kinds, test_check and test_github."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import httpx
import pytest
from werkzeug import Request
from werkzeug.test import EnvironBuilder

from pipelines.warehouse import FetchState
from tests.github_api_server import GitHubAPIServer, generated_repos
from tests.social_servers import HOP_HEADERS, RECORDED_HOST, SOCIAL, bluesky_post, corpus_page, read_vcr, route_key
from tests.test_check import tagged_page
from tests.test_fast_fetch import RawBody, Site, file_with_etag, harvest_in_memory, respond

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


def test_devto_articles_of_a_user_as_recorded(tmp_path):
    site = Site()
    recorded = (SOCIAL / "devto_api_articles_by_username.json").read_text(encoding="utf-8")
    site.route("/api/articles", lambda request: respond(200, recorded, Content_Type="application/json"))
    outcome = harvest_in_memory(site.transport(), tmp_path, {"id": "devto-user", "kind": "devto", "tagged_only": False,
                                                             "username": "gereltuyamz", "api_url": "https://dev.example"})
    assert outcome.status == "ok" and len(outcome.records) == 6
    assert dict(site.requests_to("/api/articles")[0].url.params) == {"username": "gereltuyamz", "per_page": "100",
                                                                     "page": "1"}
    newest = max(outcome.records, key=lambda r: r.published_at)
    assert newest.title == "When to use dangerouslySetInnerHTML in React?"
    assert newest.url == "https://dev.to/gereltuyamz/when-to-use-dangerouslysetinnerhtml-in-react-3ol"
    assert newest.author == "Gereltuya Munkhzaya" and newest.tags == ["webdev"]


def test_discourse_tag_topics_and_their_first_posts(tmp_path):
    """The recorded topic list served as the tag's list; each topic's /t/<slug>/<id>.json is built
    to Discourse's documented schema."""
    base = "https://forum.example"
    topic_list = json.loads((SOCIAL / "discourse_latest_topic_list.json").read_text(encoding="utf-8"))
    topic_list["topic_list"]["more_topics_url"] = None
    listing = tmp_path / "opengovtech.json"
    listing.write_text(json.dumps(topic_list), encoding="utf-8")
    site = Site()
    site.route("/tag/opengovtech.json", file_with_etag(listing))
    slugs = sorted({(t["slug"], t["id"]) for t in topic_list["topic_list"]["topics"]})
    for slug, topic_id in slugs:
        topic = {"id": topic_id, "slug": slug, "post_stream": {"posts": [{
            "id": 10, "username": "test_user", "name": "Test User", "created_at": "2013-02-04T15:26:25.977-05:00",
            "cooked": f"<p>First post of {slug}, see <a href='/t/other/2'>other</a></p>"}]}}
        site.route(f"/t/{slug}/{topic_id}.json", lambda request, topic=topic: respond(200, json.dumps(topic)))
    source = {"id": "forum", "kind": "discourse", "base_url": base, "tag": "opengovtech"}
    outcome = harvest_in_memory(site.transport(), tmp_path, source)
    assert outcome.status == "ok" and len(outcome.records) == len(slugs)
    first = min(outcome.records, key=lambda r: r.url)
    assert first.url == f"{base}/t/{slugs[0][0]}/{slugs[0][1]}" and first.author == "Test User"
    assert first.published_at == datetime(2013, 2, 4, 20, 26, 25, 977000, tzinfo=timezone.utc)  # -05:00 in UTC
    assert f'href="{base}/t/other/2"' in first.content_html
    assert first.match_reasons == [f"in the Discourse tag 'opengovtech' on {base}"]

    (listing_url, etag, _), = [v for v in outcome.validators if v[0].endswith("/tag/opengovtech.json")]
    again = harvest_in_memory(site.transport(), tmp_path, source,
                              FetchState(validators={listing_url: (etag, None)}, feed_urls={},
                                         source_state={"forum": outcome.state} if outcome.state else {}))
    assert again.status == "not_modified"   # the topic list answered 304: no topic is read again
    assert len(site.requests_to(f"/t/{slugs[0][0]}/{slugs[0][1]}.json")) == 1


def bluesky_search(posts: list[dict], page_size: int, requests: list[httpx.Request]) -> httpx.MockTransport:
    """app.bsky.feed.searchPosts over `posts` (newest first), `page_size` a page with a cursor."""
    def search(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        start = int(request.url.params.get("cursor", "0"))
        page = posts[start:start + min(int(request.url.params.get("limit", "25")), page_size)]
        body = {"posts": page, "hitsTotal": len(posts)}
        if start + len(page) < len(posts):
            body["cursor"] = str(start + len(page))
        return respond(200, json.dumps(body), Content_Type="application/json")

    return httpx.MockTransport(search)


def test_bluesky_posts_tags_from_facets_public_urls_and_cursor_paging(tmp_path):
    posts = [bluesky_post(n, f"Open data day {n} in Leeds #OpenGovTech", tags=["OpenGovTech"]) for n in range(5, 0, -1)]
    posts.insert(2, bluesky_post(9, "opengovtech is a word here, not a tag"))
    requests: list[httpx.Request] = []
    source = {"id": "skeets", "kind": "bluesky", "hashtag": "OpenGovTech", "service": "https://bsky.example"}
    first = harvest_in_memory(bluesky_search(posts, 2, requests), tmp_path, source)
    assert len(requests) == 3   # 6 posts, two a page, cursor until none
    assert len(first.records) == 5
    newest = max(first.records, key=lambda r: r.published_at)
    assert newest.url == "https://bsky.app/profile/council.example/post/3kah000000005"
    assert newest.author == "@council.example" and newest.tags == ["OpenGovTech"]
    assert newest.match_reasons == [f"hashtag #OpenGovTech on the Bluesky post {newest.url}"]
    assert "skipped 1 posts that match the search but carry no tag" in first.warning

    requests.clear()
    posts.insert(0, bluesky_post(20, "Newest #OpenGovTech", tags=["OpenGovTech"]))
    again = harvest_in_memory(bluesky_search(posts, 2, requests), tmp_path, source,
                              FetchState(validators={}, feed_urls={}, source_state={"skeets": first.state}))
    assert len(requests) == 1   # the newest post seen last run is on the first page
    assert [r.title for r in again.records] == ["Newest #OpenGovTech"]


def test_a_tracked_page_is_read_for_its_tags_canonical_address_and_validators(tmp_path):
    def changelog_post(request: httpx.Request) -> httpx.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return respond(304, ETag='"v1"')
        return respond(200, tagged_page(), Content_Type="text/html; charset=utf-8", ETag='"v1"')

    site = Site()
    site.route("/blog/zwischenbilanz", changelog_post)
    site.route("/blog/spiceland", lambda request: respond(200, corpus_page("traf_github.blog.spiceland.html").read_bytes(),
                                                          Content_Type="text/html; charset=utf-8"))
    url = "https://changelog.example/blog/zwischenbilanz"
    tagged = harvest_in_memory(site.transport(), tmp_path, {"id": "changelog", "kind": "page", "url": url})
    assert tagged.status == "ok" and tagged.validators == [(url, '"v1"', None)]
    (record,) = tagged.records
    assert record.matched and record.match_reasons == ["article:tag 'OpenGovTech'"]
    assert record.url.startswith("https://www.changelog.blog/zwischenbilanz-")   # the page's own canonical address
    assert {"Insight", "OpenGovTech"} <= set(record.tags)

    untagged = harvest_in_memory(site.transport(), tmp_path, {"id": "spice", "kind": "page",
                                                              "url": "https://github.example/blog/spiceland"})
    assert not any(r.matched for r in untagged.records)
    assert "the page carries none of the tags opengovtech (looked at article:tag" in untagged.warning

    again = harvest_in_memory(site.transport(), tmp_path, {"id": "changelog", "kind": "page", "url": url},
                              FetchState(validators={url: ('"v1"', None)}, feed_urls={}))
    assert again.status == "not_modified" and again.records == []


def werkzeug_transport(handler) -> httpx.MockTransport:
    """A loopback stand-in's werkzeug handler (tests/github_api_server.py) answering in memory."""
    def handle(request: httpx.Request) -> httpx.Response:
        environ = EnvironBuilder(method=request.method, path=request.url.path, query_string=request.url.query.decode(),
                                 headers=list(request.headers.items()), data=request.content).get_environ()
        response = handler(Request(environ))
        return httpx.Response(response.status_code, headers=list(response.headers.items()),
                              stream=RawBody(response.get_data()))

    return httpx.MockTransport(handle)


class InMemoryAddress:
    """Where GitHubAPIServer believes it is served (it asks its server only for URLs)."""

    def url_for(self, path: str) -> str:
        return "https://github.example" + path


@pytest.fixture
def github(monkeypatch) -> GitHubAPIServer:
    api = GitHubAPIServer(InMemoryAddress())
    monkeypatch.setenv("GITHUB_API_URL", api.api_url)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    return api


def test_github_forks_archived_and_untagged_repos_are_left_out_by_default(tmp_path, github):
    repos = generated_repos("leedsdatamill", 6, topics_every=2)
    repos[2]["fork"] = True
    repos[4]["archived"] = True
    repos[1]["description"] = "Open data tools #OpenGovTech"
    github.add_owner("leedsdatamill", repos)
    outcome = harvest_in_memory(werkzeug_transport(github.handle), tmp_path,
                                {"id": "gh", "kind": "github", "org": "leedsdatamill"})
    assert outcome.status == "ok"
    reasons = {r.title: r.match_reasons for r in outcome.records if r.matched}
    assert reasons == {"leedsdatamill/service-0000": ["repo topic 'opengovtech'"],
                       "leedsdatamill/service-0001": ["hashtag #OpenGovTech in description"]}
    assert {r.kind_hint for r in outcome.records} == {"asset"}
    assert "1 archived" in outcome.warning and "1 forks" in outcome.warning and "2 untagged" in outcome.warning
    assert any("per_page=100" in r["query"] for r in github.requests if r["path"] == "/orgs/leedsdatamill/repos")


def test_github_org_pages_follow_the_link_header(tmp_path, github):
    """A 250-repository org, generated from a recorded repository (GitHub's schema, 3 pages)."""
    github.add_owner("bigcouncil", generated_repos("bigcouncil", 250))
    outcome = harvest_in_memory(werkzeug_transport(github.handle), tmp_path,
                                {"id": "gh", "kind": "github", "org": "bigcouncil", "readme": False, "publiccode": False})
    assert outcome.status == "ok" and len(outcome.records) == 250 and all(r.asset_type == "repo" for r in outcome.records)
    pages = [r["query"] for r in github.requests if r["path"] == "/orgs/bigcouncil/repos"]
    assert len(pages) == 3 and "page=3" in pages[-1]
    assert len(github.requests) == 3   # nothing but the listing: no README or publiccode.yml asked for
