"""The fetcher and the feed kind in memory: `httpx.MockTransport` answers with corpus files, so
no server, socket or parse worker is involved (the loopback versions are in test_http_behaviour)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import zlib
from collections.abc import Callable

import httpx
import pytest

from pipelines.config import load_registry
from pipelines.errors import (
    AddressRefused,
    BlockedByRobots,
    BodyTooLarge,
    HTTPStatusFailure,
    RequestTimeout,
    RetryDeferred,
    TooManyRedirects,
)
from pipelines.sources.harvester import harvest_one
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import Fetcher, FetchStats, HttpSettings
from pipelines.parse import parse_document
from pipelines.store.warehouse import FetchState, SourceOutcome
from tests.conftest import CORPUS, content_type_for

ATOM = CORPUS / "feeds" / "data_blog_gov_uk_trimmed.atom"
RSS = CORPUS / "feeds" / "wordpress_manton.rss"
ORIGIN = "https://blog.example"

Handler = Callable[[httpx.Request], httpx.Response]


class RawBody(httpx.AsyncByteStream):
    """A body sent as given, as a server would: httpx.Response(content=...) reads and decodes
    its body when made, which leaves nothing for the fetcher's own capped decoder to read."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __aiter__(self):
        yield self.body


def respond(code: int = 200, body: bytes | str = b"", **headers: str) -> httpx.Response:
    headers = {name.replace("_", "-"): value for name, value in headers.items()}
    if body:
        headers.setdefault("Content-Length", str(len(body)))
    return httpx.Response(code, headers=headers, stream=RawBody(body.encode() if isinstance(body, str) else body))


class Site:
    """Routes by path answering through httpx.MockTransport; every request is kept in `requests`.
    robots.txt is a 404 (no rules) unless a route is given for it."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler | list[Handler]] = {}
        self.requests: list[httpx.Request] = []

    def route(self, path: str, *answers: Handler) -> None:
        """One answer for every request, or several given in turn (the last one repeats)."""
        self.routes[path] = answers[0] if len(answers) == 1 else list(answers)

    def requests_to(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path == path]

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get(request.url.path)
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if answer is None:
            return respond(404)
        response = answer(request)
        return await response if asyncio.iscoroutine(response) else response

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def file_with_etag(path) -> Handler:
    body = path.read_bytes()
    tag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers.get("If-None-Match") == tag:
            return respond(304, ETag=tag)
        return respond(200, body, Content_Type=content_type_for(path), ETag=tag)

    return answer


def status(code: int, **headers: str) -> Handler:
    return lambda request: respond(code, **headers)


def redirect(location: str, code: int = 302) -> Handler:
    return status(code, Location=location)


class Sleeps(list):
    """Stands in for asyncio.sleep: records each wait the fetcher asks for and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def fetch(site: Site, url: str, *, sleeps: Sleeps | None = None, stats: FetchStats | None = None,
          settings: dict | None = None, **kwargs):
    async def go():
        options = {"user_agent": "OpenGovTechHub/test (+https://hub.example)", "retries": 0, **(settings or {})}
        async with Fetcher(HttpSettings(**options), transport=site.transport(),
                           sleep=sleeps if sleeps is not None else Sleeps()) as fetcher:
            return await fetcher.fetch(url, stats=stats, **kwargs)

    return asyncio.run(go())


def test_a_corpus_feed_is_fetched_with_its_validators_then_answers_not_modified():
    site = Site()
    site.route("/feed.rss", file_with_etag(RSS))
    stats = FetchStats()
    first = fetch(site, ORIGIN + "/feed.rss", stats=stats)
    assert (first.status, first.not_modified, first.body) == (200, False, RSS.read_bytes())
    assert first.etag and first.content_type == "application/xml"
    again = fetch(site, ORIGIN + "/feed.rss", etag=first.etag)
    assert again.not_modified and again.status == 304 and again.body == b""
    assert site.requests_to("/feed.rss")[-1].headers["If-None-Match"] == first.etag
    assert stats.requests == 2   # robots.txt, then the feed
    assert stats.bytes == len(RSS.read_bytes())


def test_requests_name_the_project_and_ask_for_feeds_and_compression():
    site = Site()
    site.route("/feed.rss", file_with_etag(RSS))
    fetch(site, ORIGIN + "/feed.rss")
    sent = site.requests_to("/feed.rss")[0].headers
    assert sent["User-Agent"].startswith("OpenGovTechHub/")
    assert "application/atom+xml" in sent["Accept"] and sent["Accept-Encoding"] == "gzip, deflate"


def test_a_503_is_retried_after_a_backoff():
    site = Site()
    site.route("/flaky.rss", status(503), file_with_etag(RSS))
    sleeps = Sleeps()
    result = fetch(site, ORIGIN + "/flaky.rss", sleeps=sleeps, settings={"retries": 2, "backoff_base_s": 0.5})
    assert result.status == 200 and len(site.requests_to("/flaky.rss")) == 2
    assert len(sleeps) == 1 and 0.25 <= sleeps[0] <= 0.75   # base 0.5 s, jittered by ×0.5–1.5


def test_a_429_waits_exactly_as_long_as_retry_after_asks():
    site = Site()
    site.route("/limited.rss", status(429, **{"Retry-After": "7"}), file_with_etag(RSS))
    sleeps = Sleeps()
    result = fetch(site, ORIGIN + "/limited.rss", sleeps=sleeps, settings={"retries": 2})
    assert result.status == 200 and sleeps == [7.0]


def test_retry_after_beyond_the_cap_defers_without_waiting():
    site = Site()
    site.route("/later.rss", status(503, **{"Retry-After": "3600"}))
    sleeps = Sleeps()
    with pytest.raises(RetryDeferred) as caught:
        fetch(site, ORIGIN + "/later.rss", sleeps=sleeps, settings={"retries": 3, "retry_after_cap_s": 60})
    assert caught.value.retry_after_s == 3600 and "deferred to the next run" in caught.value.reason
    assert sleeps == [] and len(site.requests_to("/later.rss")) == 1


def test_retries_that_all_fail_say_how_many_attempts_were_made():
    site = Site()
    site.route("/down.rss", status(500))
    with pytest.raises(HTTPStatusFailure, match=r"HTTP 500 Internal Server Error .*\(after 3 attempts\)"):
        fetch(site, ORIGIN + "/down.rss", settings={"retries": 2})
    assert len(site.requests_to("/down.rss")) == 3


def test_a_response_slower_than_the_deadline_is_a_timeout():
    site = Site()

    async def never_answers(request):
        await asyncio.sleep(3600)

    site.route("/slow.rss", never_answers)
    with pytest.raises(RequestTimeout, match=r"no complete response from .*/slow.rss within 0.05s"):
        fetch(site, ORIGIN + "/slow.rss", settings={"timeout_s": 0.05})


def test_a_redirect_chain_is_followed_and_credentials_stay_with_their_origin():
    site = Site()
    site.route("/old", redirect("/moved", 301))
    site.route("/moved", redirect("https://elsewhere.example/feed.atom"))
    site.route("/feed.atom", lambda request: respond(200, ATOM.read_bytes()))
    result = fetch(site, ORIGIN + "/old", headers={"Authorization": "Bearer secret"})
    assert result.url == "https://elsewhere.example/feed.atom"
    assert result.redirects == [ORIGIN + "/old", ORIGIN + "/moved"]
    assert site.requests_to("/moved")[0].headers["Authorization"] == "Bearer secret"
    assert "Authorization" not in site.requests_to("/feed.atom")[0].headers


def test_a_redirect_loop_stops_after_the_limit():
    site = Site()
    site.route("/a", redirect("/b"))
    site.route("/b", redirect("/a"))
    with pytest.raises(TooManyRedirects, match="more than 5 redirects"):
        fetch(site, ORIGIN + "/a")
    assert len(site.requests_to("/a")) + len(site.requests_to("/b")) == 6


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://blog.example/feed"])
def test_a_redirect_to_a_non_http_url_is_refused_unsent(location):
    site = Site()
    site.route("/feed", redirect(location))
    with pytest.raises(AddressRefused, match="non-http"):
        fetch(site, ORIGIN + "/feed")
    assert [r.url.path for r in site.requests] == ["/robots.txt", "/feed"]


def test_robots_txt_is_read_once_per_origin_and_obeyed():
    site = Site()
    site.route("/robots.txt", lambda request: respond(200, "User-agent: OpenGovTechHub\nDisallow: /private/\n"))
    site.route("/feed.rss", file_with_etag(RSS))

    async def go():
        async with Fetcher(HttpSettings(user_agent="OpenGovTechHub/test", retries=0),
                           transport=site.transport()) as fetcher:
            await fetcher.fetch(ORIGIN + "/feed.rss")
            with pytest.raises(BlockedByRobots, match="disallows .*/private/feed.rss for OpenGovTechHub"):
                await fetcher.fetch(ORIGIN + "/private/feed.rss")

    asyncio.run(go())
    assert len(site.requests_to("/robots.txt")) == 1
    assert not site.requests_to("/private/feed.rss")


def test_robots_txt_answering_5xx_disallows_everything_and_4xx_allows_everything():
    failing = Site()
    failing.route("/robots.txt", status(503))
    with pytest.raises(BlockedByRobots, match="treated as disallow-all"):
        fetch(failing, ORIGIN + "/feed.rss")
    assert not failing.requests_to("/feed.rss")
    missing = Site()
    missing.route("/feed.rss", file_with_etag(RSS))
    assert fetch(missing, ORIGIN + "/feed.rss").status == 200


def test_documented_apis_are_fetched_without_reading_robots_txt():
    site = Site()
    site.route("/robots.txt", lambda request: respond(200, "User-agent: *\nDisallow: /\n"))
    site.route("/api/items", lambda request: respond(200, "[]"))
    assert fetch(site, ORIGIN + "/api/items", robots=False).body == b"[]"
    assert not site.requests_to("/robots.txt")


def test_a_declared_length_over_the_cap_is_refused_before_reading():
    site = Site()
    site.route("/big.atom", lambda request: respond(200, b"x" * 2_000))
    with pytest.raises(BodyTooLarge, match="is 2,000 bytes, over the 1,000 byte cap"):
        fetch(site, ORIGIN + "/big.atom", max_bytes=1_000)


def test_the_cap_applies_to_decoded_bytes():
    site = Site()
    bomb = gzip.compress(b" " * 50_000, compresslevel=9)
    site.route("/bomb.atom", lambda request: respond(200, bomb, Content_Encoding="gzip"))
    assert len(bomb) < 1_000
    with pytest.raises(BodyTooLarge, match=r"exceeds the 10,000 byte cap \(decoded\)"):
        fetch(site, ORIGIN + "/bomb.atom", max_bytes=10_000)


ENCODINGS = {
    "gzip": lambda body: gzip.compress(body),
    "gzip-two-members": lambda body: gzip.compress(body[:len(body) // 2]) + gzip.compress(body[len(body) // 2:]),
    "deflate": lambda body: zlib.compress(body),
    "raw-deflate": lambda body: zlib.compress(body)[2:-4],
    "gzip, deflate": lambda body: zlib.compress(gzip.compress(body)),
}


@pytest.mark.parametrize("framing", sorted(ENCODINGS))
def test_compressed_bodies_are_decoded_whatever_the_framing(framing):
    body = ATOM.read_bytes()
    header = "deflate" if framing == "raw-deflate" else framing.replace("-two-members", "")
    site = Site()
    site.route("/feed.atom", lambda request: respond(200, ENCODINGS[framing](body), Content_Encoding=header))
    assert fetch(site, ORIGIN + "/feed.atom").body == body


def test_a_sign_in_answer_is_read_through_the_capped_decoder():
    site = Site()
    bomb = gzip.compress(b"{" + b" " * 2_000_000, compresslevel=9)
    site.route("/session", lambda request: respond(200, gzip.compress(b'{"accessJwt": "token"}'),
                                                          Content_Encoding="gzip"))
    site.route("/bomb", lambda request: respond(200, bomb, Content_Encoding="gzip"))

    async def sign_in(path: str):
        async with Fetcher(HttpSettings(user_agent="OpenGovTechHub/test"), transport=site.transport()) as fetcher:
            return await fetcher.post_json(ORIGIN + path, {"identifier": "me"})

    assert json.loads(asyncio.run(sign_in("/session")).body) == {"accessJwt": "token"}
    assert json.loads(site.requests_to("/session")[0].content) == {"identifier": "me"}
    with pytest.raises(BodyTooLarge, match=r"exceeds the 1,000,000 byte cap \(decoded\)"):
        asyncio.run(sign_in("/bomb"))


# Source kinds over the in-memory fetcher, parsing in this process instead of a worker.

def harvest_in_memory(transport: httpx.AsyncBaseTransport, tmp_path, source: dict,
                      state: FetchState | None = None, sleep=asyncio.sleep) -> SourceOutcome:
    """One source of any kind harvested as a run harvests it (failures become the outcome's status
    and reason), its requests answered by `transport`."""
    sources = tmp_path / "sources.yaml"
    sources.write_text(json.dumps({"sources": [source]}), encoding="utf-8")
    registry = load_registry(sources)

    async def parse(body, url, content_type, options):
        return parse_document(body, url, content_type, options)

    async def go():
        async with Fetcher(HttpSettings.from_defaults(registry.defaults), transport=transport, sleep=sleep) as fetcher:
            ctx = HarvestContext(registry=registry, fetcher=fetcher, parse=parse,
                                 state=state or FetchState(validators={}, feed_urls={}))
            return await harvest_one(registry.sources[0], ctx)

    return asyncio.run(go())


def harvest_one_feed(site: Site, tmp_path, source: dict, state: FetchState | None = None) -> SourceOutcome:
    return harvest_in_memory(site.transport(), tmp_path, {"id": "blog", "kind": "feed", "tagged_only": False, **source},
                             state)


def test_the_feed_kind_reads_every_entry_of_a_corpus_feed(tmp_path):
    site = Site()
    site.route("/feed.rss", file_with_etag(RSS))
    outcome = harvest_one_feed(site, tmp_path, {"url": ORIGIN + "/feed.rss"})
    assert outcome.status == "ok" and outcome.http_status == 200
    assert len(outcome.records) == outcome.entries_read == 10
    assert outcome.validators == [(ORIGIN + "/feed.rss", file_with_etag(RSS)(httpx.Request("GET", ORIGIN)).headers["ETag"],
                                   None)]


def test_the_feed_kind_answers_not_modified_from_its_stored_validators(tmp_path):
    site = Site()
    site.route("/feed.rss", file_with_etag(RSS))
    etag = file_with_etag(RSS)(httpx.Request("GET", ORIGIN)).headers["ETag"]
    state = FetchState(validators={ORIGIN + "/feed.rss": (etag, None)}, feed_urls={})
    outcome = harvest_one_feed(site, tmp_path, {"url": ORIGIN + "/feed.rss"}, state)
    assert (outcome.status, outcome.http_status, outcome.records) == ("not_modified", 304, [])


def test_the_feed_kind_finds_a_pages_feed_by_autodiscovery(tmp_path):
    site = Site()
    site.route("/", lambda request: respond(200, '<html><head><link rel="alternate" type="application/atom+xml" '
                                                   'href="/feed.atom"></head></html>', Content_Type="text/html"))
    site.route("/feed.atom", file_with_etag(ATOM))
    outcome = harvest_one_feed(site, tmp_path, {"url": ORIGIN + "/"})
    assert outcome.status == "ok" and outcome.feed_url == ORIGIN + "/feed.atom" and outcome.records


def test_the_feed_kind_reports_a_page_without_a_feed(tmp_path):
    site = Site()
    site.route("/", lambda request: respond(200, "<html><head><title>No feed</title></head></html>",
                                                   Content_Type="text/html"))
    outcome = harvest_one_feed(site, tmp_path, {"url": ORIGIN + "/"})
    assert outcome.status == "failed" and 'HTML page with no <link rel="alternate"> feed' in outcome.error
