"""Source kinds over the in-memory fetcher, answered through httpx.MockTransport from the API
recordings in ../shared/corpus (social, github) and corpus pages. The loopback versions are in
test_mastodon, test_social_kinds, test_check and test_github."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timezone

import httpx
import pytest
from werkzeug import Request, Response
from werkzeug.test import EnvironBuilder

from pipelines.store.warehouse import FetchState
from tests.github_api_server import GITHUB, GitHubAPIServer, Scripted, generated_repos, read_replay, recorded_repo
from tests.social_servers import SOCIAL, BlueskySearch, MastodonTimeline, RecordedAPI, bluesky_post, corpus_page
from tests.test_check import tagged_page
from tests.test_fast_fetch import RawBody, Site, Sleeps, file_with_etag, harvest_in_memory, respond

RECORDED_TAG = "fgiztsshwiaqqiztpmmjbtvmescsculuvmgjgopwoeidbcrixp"


class InMemoryServer:
    """What the loopback stand-ins (tests/social_servers.py, tests/github_api_server.py) use of
    pytest_httpserver's HTTPServer: url_for, and expect_request(...).respond_with_handler with a
    werkzeug handler. Here the handlers answer through httpx.MockTransport, so the same stand-ins
    serve the fast tier; a request no handler expects is a 404."""

    def __init__(self, base: str = "https://api.example") -> None:
        self.base = base
        self.handlers: list[tuple[str | re.Pattern, str | None, Callable[[Request], Response]]] = []

    def url_for(self, path: str) -> str:
        return self.base + path

    def expect_request(self, uri: str | re.Pattern, method: str | None = None) -> "InMemoryServer._Expectation":
        return InMemoryServer._Expectation(self, uri, method)

    class _Expectation:
        def __init__(self, server: "InMemoryServer", uri: str | re.Pattern, method: str | None) -> None:
            self.server, self.uri, self.method = server, uri, method

        def respond_with_handler(self, handler: Callable[[Request], Response]) -> None:
            self.server.handlers.append((self.uri, self.method, handler))

    def transport(self) -> httpx.MockTransport:
        def handle(request: httpx.Request) -> httpx.Response:
            path = request.url.path
            for uri, method, handler in self.handlers:
                matches = uri.match(path) if isinstance(uri, re.Pattern) else uri == path
                if matches and method in (None, request.method):
                    environ = EnvironBuilder(method=request.method, path=path,
                                             query_string=request.url.query.decode(),
                                             headers=list(request.headers.items()), data=request.content).get_environ()
                    response = handler(Request(environ))
                    return httpx.Response(response.status_code, headers=list(response.headers.items()),
                                          stream=RawBody(response.get_data()))
            return respond(404)

        return httpx.MockTransport(handle)


def test_the_recorded_tag_timeline_is_read_page_by_page_then_only_past_the_last_post_seen(tmp_path):
    """Mastodon.py's recording of a 30-post tag timeline paged by Link rel=next (10 a page)."""
    server = InMemoryServer("https://mastodon.example")
    api = RecordedAPI(server, "mastodon_hashtag_timeline_paginated_vcr.yaml")
    source = {"id": "toots", "kind": "mastodon", "instance": api.base, "hashtag": RECORDED_TAG}
    first = harvest_in_memory(server.transport(), tmp_path, source)
    assert first.status == "ok"
    assert len([r for r in api.requests if "/timelines/tag/" in r]) == 4   # three pages, then the empty one
    assert len(first.records) == 30
    oldest = min(first.records, key=lambda r: r.published_at)
    assert oldest.title == f"Toot number 0! #{RECORDED_TAG}"
    assert oldest.author == "@mastodonpy_test_2@mastodon.example"
    assert oldest.match_reasons[0].startswith(f"hashtag #{RECORDED_TAG} on the Mastodon post ")
    assert oldest.url.startswith(api.base + "/@mastodonpy_test_2/")
    assert first.state["last_id"] == "117020581413876942"   # the newest recorded post

    api.requests.clear()
    again = harvest_in_memory(server.transport(), tmp_path, source,
                              FetchState(validators={}, feed_urls={}, source_state={"toots": first.state}))
    assert [r for r in api.requests if "/timelines/tag/" in r] == [f"/api/v1/timelines/tag/{RECORDED_TAG}?limit=40"]
    assert again.status == "not_modified" and again.records == []


def test_a_spent_mastodon_rate_limit_defers_the_source_keeping_what_was_read(tmp_path):
    server = InMemoryServer("https://mastodon.example")
    timeline = MastodonTimeline(server, "opengovtech", remaining=1, reset="2099-01-01T00:00:00.000Z")
    for n in range(60):
        timeline.post(f"<p>Post {n} #OpenGovTech</p>", tags=["opengovtech"])
    outcome = harvest_in_memory(server.transport(), tmp_path,
                                {"id": "toots", "kind": "mastodon", "instance": timeline.base, "hashtag": "opengovtech"})
    # The first page said one request was left, the second said none: no third is sent.
    assert len(timeline.requests) == 2
    assert outcome.status == "deferred" and outcome.retry_at.year == 2099
    assert "rate limited until 00:00 UTC" in outcome.error and "kept the 60 posts" in outcome.error
    assert len(outcome.records) == 60
    assert outcome.state["last_id"] is None   # not finished: the next run reads from the top again


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


def test_bluesky_posts_tags_from_facets_public_urls_and_cursor_paging(tmp_path):
    server = InMemoryServer("https://bsky.example")
    search = BlueskySearch(server, page_size=2)
    search.posts = [bluesky_post(n, f"Open data day {n} in Leeds #OpenGovTech", tags=["OpenGovTech"])
                    for n in range(5, 0, -1)]
    search.posts.insert(2, bluesky_post(9, "opengovtech is a word here, not a tag"))
    source = {"id": "skeets", "kind": "bluesky", "hashtag": "OpenGovTech", "service": search.base}
    first = harvest_in_memory(server.transport(), tmp_path, source)
    assert len(search.requests) == 3   # 6 posts, two a page, cursor until none
    assert len(first.records) == 5
    newest = max(first.records, key=lambda r: r.published_at)
    assert newest.url == "https://bsky.app/profile/council.example/post/3kah000000005"
    assert newest.author == "@council.example" and newest.tags == ["OpenGovTech"]
    assert newest.match_reasons == [f"hashtag #OpenGovTech on the Bluesky post {newest.url}"]
    assert "skipped 1 posts that match the search but carry no tag" in first.warning

    search.requests.clear()
    search.posts.insert(0, bluesky_post(20, "Newest #OpenGovTech", tags=["OpenGovTech"]))
    again = harvest_in_memory(server.transport(), tmp_path, source,
                              FetchState(validators={}, feed_urls={}, source_state={"skeets": first.state}))
    assert len(search.requests) == 1   # the newest post seen last run is on the first page
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


@pytest.fixture
def github(monkeypatch) -> GitHubAPIServer:
    api = GitHubAPIServer(InMemoryServer("https://github.example")).start()
    monkeypatch.setenv("GITHUB_API_URL", api.api_url)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    return api


def test_github_forks_archived_and_untagged_repos_are_left_out_by_default(tmp_path, github):
    repos = generated_repos("leedsdatamill", 6, topics_every=2)
    repos[2]["fork"] = True
    repos[4]["archived"] = True
    repos[1]["description"] = "Open data tools #OpenGovTech"
    github.add_owner("leedsdatamill", repos)
    outcome = harvest_in_memory(github.server.transport(), tmp_path,
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
    outcome = harvest_in_memory(github.server.transport(), tmp_path,
                                {"id": "gh", "kind": "github", "org": "bigcouncil", "readme": False, "publiccode": False})
    assert outcome.status == "ok" and len(outcome.records) == 250 and all(r.asset_type == "repo" for r in outcome.records)
    pages = [r["query"] for r in github.requests if r["path"] == "/orgs/bigcouncil/repos"]
    assert len(pages) == 3 and "page=3" in pages[-1]
    assert len(github.requests) == 3   # nothing but the listing: no README or publiccode.yml asked for


def test_a_recorded_github_rate_limit_defers_the_source(tmp_path, github):
    limit = read_replay(GITHUB / "pygithub_403_rate_limit_exceeded.replay.txt")[1]
    github.add_owner("leedsdatamill", generated_repos("leedsdatamill", 1))
    github.script("/orgs/leedsdatamill/repos", Scripted(limit["status"], limit["headers"], limit["body"]))
    outcome = harvest_in_memory(github.server.transport(), tmp_path, {"id": "gh", "kind": "github", "org": "leedsdatamill"})
    assert (outcome.status, outcome.http_status) == ("deferred", 403)
    assert outcome.error.startswith("GitHub API rate limit reached")


def test_recorded_github_502s_are_retried_until_the_repository_answers(tmp_path, github):
    github.add_owner("PyGithub", [recorded_repo()])
    for e in read_replay(GITHUB / "pygithub_502_then_repo.replay.txt")[:3]:
        github.script("/repos/PyGithub/PyGithub", Scripted(e["status"], e["headers"], e["body"]))
    sources = {"id": "gh", "kind": "github", "repo": "PyGithub/PyGithub", "readme": False, "publiccode": False,
               "tagged_only": False}
    sleeps = Sleeps()
    outcome = harvest_in_memory(github.server.transport(), tmp_path, sources, sleep=sleeps)
    assert outcome.status == "ok" and [r.title for r in outcome.records] == ["PyGithub/PyGithub"]
    assert sum(r["path"] == "/repos/PyGithub/PyGithub" for r in github.requests) == 4
    assert len(sleeps) == 3   # a backoff before each retry


def test_unknown_blocked_and_truncated_github_repositories_are_each_reported(tmp_path, github):
    missing = read_replay(GITHUB / "pygithub_404_unknown_repo.replay.txt")[1]
    github.add_owner("PyGithub", [recorded_repo()])
    github.script("/repos/jacquev6/Xxx", Scripted(404, missing["headers"], missing["body"]))
    # 451 as GitHub documents it (no recording exists): a DMCA-blocked repository.
    github.script("/repos/someone/blocked", Scripted(451, {}, json.dumps(
        {"message": "Repository access blocked", "block": {"reason": "dmca"}})))
    github.script("/repos/PyGithub/PyGithub", Scripted(200, {"ETag": '"t"'}, json.dumps(recorded_repo())[:700]))

    def error(repo: str) -> str:
        return harvest_in_memory(github.server.transport(), tmp_path, {"id": "gh", "kind": "github", "repo": repo}).error

    gone, blocked, cut = error("jacquev6/Xxx"), error("someone/blocked"), error("PyGithub/PyGithub")
    assert "HTTP 404" in gone and "GitHub says: Not Found" in gone
    assert "HTTP 451" in blocked and "legal reasons" in blocked
    assert "invalid or truncated JSON" in cut


def test_a_renamed_github_repository_is_followed_through_the_api_redirect(tmp_path, github):
    """GitHub answers a renamed repository with 301 to /repositories/<id> (documented; no recording)."""
    repo = recorded_repo()
    github.add_owner("PyGithub", [repo])
    github.script("/repos/jacquev6/PyGithub", Scripted(301, {"Location": f"{github.api_url}/repositories/{repo['id']}"},
                                                       json.dumps({"message": "Moved Permanently"})))
    outcome = harvest_in_memory(github.server.transport(), tmp_path,
                                {"id": "gh", "kind": "github", "repo": "jacquev6/PyGithub", "readme": False,
                                 "publiccode": False, "tagged_only": False})
    assert [r.title for r in outcome.records] == ["PyGithub/PyGithub"]
