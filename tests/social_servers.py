"""Social platforms' APIs on 127.0.0.1, built from the recordings in ../shared/corpus/social.

Mastodon: VCR cassettes recorded by Mastodon.py against a Mastodon 4 server are replayed as
recorded (bodies and Link/ETag/X-RateLimit headers, with the recorded host swapped for this
server). Scenarios the recordings do not cover (a boost, a post sharing a page, a spent rate
limit) are served by `MastodonTimeline`, whose posts are copies of a recorded status entity
with only ids, text, tags, card and reblog changed, paged the way the recorded timeline is
(newest first, `limit`/`max_id`, `Link: rel="next"/"prev"`).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import yaml
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.conftest import CORPUS

SOCIAL = CORPUS / "social"
RECORDED_HOST = "http://localhost:3000"
HOP_HEADERS = {"content-length", "transfer-encoding", "content-encoding", "connection"}


@dataclass
class Exchange:
    method: str
    path_and_query: str
    status: int
    headers: dict[str, str]
    body: str


def read_vcr(name: str) -> list[Exchange]:
    data = yaml.safe_load((SOCIAL / name).read_text(encoding="utf-8"))
    exchanges = []
    for interaction in data["interactions"]:
        request, response = interaction["request"], interaction["response"]
        parts = urlsplit(request["uri"])
        headers = {k.lower(): v[0] if isinstance(v, list) else v for k, v in response["headers"].items()}
        exchanges.append(Exchange(request["method"], parts.path + (f"?{parts.query}" if parts.query else ""),
                                  response["status"]["code"], headers, response["body"]["string"]))
    return exchanges


def recorded_status() -> dict:
    """The status entity Mastodon returned for a post tagged #hoot (Mastodon.py's hashtag cassette)."""
    for exchange in read_vcr("mastodon_hashtag_timeline_vcr.yaml"):
        if exchange.method == "GET" and "/timelines/tag/" in exchange.path_and_query:
            return json.loads(exchange.body)[0]
    raise AssertionError("no tag timeline in the recording")


def route_key(path_and_query: str) -> str:
    """Recordings are matched without their page size: the recorded client asked for 10 posts a
    page, the hub asks for 40, and the recorded Link headers carry the recorded size onwards."""
    parts = urlsplit(path_and_query)
    query = sorted((k, v) for k, values in parse_qs(parts.query).items() for v in values if k != "limit")
    return parts.path + (f"?{urlencode(query)}" if query else "")


class RecordedAPI:
    """Replays the GET exchanges of cassettes by path and query; anything else is a 404."""

    def __init__(self, server: HTTPServer, *cassettes: str):
        self.server = server
        self.base = server.url_for("").rstrip("/")
        self.routes: dict[str, Exchange] = {}
        self.requests: list[str] = []
        for name in cassettes:
            for exchange in read_vcr(name):
                if exchange.method == "GET":
                    self.routes.setdefault(route_key(exchange.path_and_query), exchange)
        server.expect_request(re.compile(r"^/api/.*")).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        key = request.path + (f"?{request.query_string.decode()}" if request.query_string else "")
        self.requests.append(key)
        exchange = self.routes.get(route_key(key))
        if exchange is None:
            return Response('{"error":"Record not found"}', status=404, content_type="application/json")
        headers = {k: v.replace(RECORDED_HOST, self.base) for k, v in exchange.headers.items()
                   if k not in HOP_HEADERS}
        if request.headers.get("If-None-Match") and request.headers.get("If-None-Match") == headers.get("etag"):
            return Response(status=304, headers=headers)
        return Response(exchange.body.replace(RECORDED_HOST, self.base), status=exchange.status, headers=headers)


@dataclass
class MastodonTimeline:
    """A hashtag timeline (and single statuses) served like the recorded one."""

    server: HTTPServer
    tag: str
    statuses: list[dict] = field(default_factory=list)   # newest first
    remaining: int = 299
    reset: str = "2099-01-01T00:00:00.000Z"
    requests: list[str] = field(default_factory=list)
    next_id: int = 117020600000000000

    def __post_init__(self):
        self.base = self.server.url_for("").rstrip("/")
        self.server.expect_request(re.compile(rf"^/api/v1/timelines/tag/{self.tag}$", re.I)).respond_with_handler(
            self.timeline)
        self.server.expect_request(re.compile(r"^/api/v1/statuses/\d+$")).respond_with_handler(self.one_status)

    def post(self, text_html: str, *, tags: list[str], card_url: str | None = None, acct: str = "councildigital",
             boost_of: dict | None = None) -> dict:
        """Add a post (or a boost of one) on top of the timeline, shaped as the recorded entity."""
        status = copy.deepcopy(recorded_status())
        self.next_id += 1000
        sid = str(self.next_id)
        status["account"].update({"acct": acct, "username": acct, "url": f"{self.base}/@{acct}"})
        status.update({
            "id": sid, "uri": f"{self.base}/ap/users/{acct}/statuses/{sid}", "url": f"{self.base}/@{acct}/{sid}",
            "created_at": f"2026-08-0{1 + len(self.statuses) % 9}T10:00:00.000Z", "language": "en",
            "content": text_html, "reblog": None,
            "tags": [{"name": t, "url": f"{self.base}/tags/{t}"} for t in tags],
            "card": ({"url": card_url, "title": "", "description": "", "type": "link"} if card_url else None),
        })
        if boost_of is not None:
            status.update({"content": "", "tags": [], "card": None, "reblog": boost_of})
        self.statuses.insert(0, status)
        return status

    def timeline(self, request: Request) -> Response:
        self.requests.append(request.full_path)
        query = parse_qs(request.query_string.decode())
        limit = int(query.get("limit", ["20"])[0])
        max_id = query.get("max_id", [None])[0]
        page = [s for s in self.statuses if max_id is None or int(s["id"]) < int(max_id)][:limit]
        headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": str(self.remaining),
                   "X-RateLimit-Reset": self.reset}
        if page:
            path = f"{self.base}/api/v1/timelines/tag/{self.tag}"
            older = urlencode({"limit": limit, "max_id": page[-1]["id"]})
            newer = urlencode({"limit": limit, "min_id": page[0]["id"]})
            headers["Link"] = f'<{path}?{older}>; rel="next", <{path}?{newer}>; rel="prev"'
        self.remaining = max(0, self.remaining - 1)
        return Response(json.dumps(page), content_type="application/json; charset=utf-8", headers=headers)

    def one_status(self, request: Request) -> Response:
        sid = request.path.rsplit("/", 1)[1]
        for status in self.statuses:
            if status["id"] == sid:
                return Response(json.dumps(status), content_type="application/json")
        return Response('{"error":"Record not found"}', status=404, content_type="application/json")


def corpus_page(name: str) -> Path:
    return CORPUS / "pages" / name


def recorded_bluesky_post() -> dict:
    """The post view of MarshalX/atproto's recorded getPostThread response."""
    return json.loads((SOCIAL / "bluesky_getPostThread_recordWithMedia.json").read_text(encoding="utf-8"))["thread"]["post"]


def bluesky_post(n: int, text: str, *, tags: list[str] = (), link: str | None = None,
                 external: dict | None = None, handle: str = "council.example") -> dict:
    """A searchPosts post view: the recorded post with its text, facets, embed and ids changed.

    No searchPosts response or hashtag facet was recorded; facets follow the
    app.bsky.richtext.facet lexicon (byte offsets into the UTF-8 text)."""
    post = copy.deepcopy(recorded_bluesky_post())
    encoded = text.encode("utf-8")
    facets = []
    for tag in tags:
        start = encoded.find(f"#{tag}".encode())
        facets.append({"index": {"byteStart": start, "byteEnd": start + len(tag) + 1},
                       "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}]})
    if link:
        start = encoded.find(link.encode())
        facets.append({"index": {"byteStart": start, "byteEnd": start + len(link.encode())},
                       "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}]})
    rkey = f"3kah{n:09d}"
    post["uri"] = f"at://{post['author']['did']}/app.bsky.feed.post/{rkey}"
    post["author"]["handle"] = handle
    post["record"] = {"$type": "app.bsky.feed.post", "createdAt": f"2026-09-{1 + n % 28:02d}T12:00:00.000Z",
                      "langs": ["en"], "text": text, "facets": facets}
    post["indexedAt"] = f"2026-09-{1 + n % 28:02d}T12:00:0{n % 10}.000Z"
    post["embed"] = {"$type": "app.bsky.embed.external#view", "external": external} if external else None
    if post["embed"] is None:
        del post["embed"]
    return post


@dataclass
class BlueskySearch:
    """app.bsky.feed.searchPosts (newest first, cursor paging), createSession, and one post's
    getPostThread (with resolveHandle) on 127.0.0.1; a search for one of `gone_hashtags` answers 404."""

    server: HTTPServer
    posts: list[dict] = field(default_factory=list)   # newest first
    requires_auth: bool = False
    handle: str = "hub.example"
    password: str = "app-pass-word-1234"
    page_size: int = 100
    requests: list[str] = field(default_factory=list)
    sessions: int = 0
    gone_hashtags: tuple[str, ...] = ()

    def __post_init__(self):
        self.base = self.server.url_for("").rstrip("/")
        self.server.expect_request("/xrpc/app.bsky.feed.searchPosts").respond_with_handler(self.search)
        self.server.expect_request("/xrpc/com.atproto.identity.resolveHandle").respond_with_handler(self.resolve)
        self.server.expect_request("/xrpc/app.bsky.feed.getPostThread").respond_with_handler(self.thread)
        self.server.expect_request("/xrpc/com.atproto.server.createSession", method="POST") \
            .respond_with_handler(self.create_session)

    def create_session(self, request: Request) -> Response:
        body = json.loads(request.data)
        if body.get("identifier") != self.handle or body.get("password") != self.password:
            return Response(json.dumps({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}),
                            status=401, content_type="application/json")
        self.sessions += 1
        return Response(json.dumps({"accessJwt": "jwt-token-abc", "refreshJwt": "r", "handle": self.handle,
                                    "did": "did:plc:hub"}), content_type="application/json")

    def resolve(self, request: Request) -> Response:
        handle = parse_qs(request.query_string.decode()).get("handle", [""])[0]
        did = next((p["author"]["did"] for p in self.posts if p["author"]["handle"] == handle), None)
        if did is None:
            return Response(json.dumps({"error": "InvalidRequest", "message": "Unable to resolve handle"}),
                            status=400, content_type="application/json")
        return Response(json.dumps({"did": did}), content_type="application/json")

    def thread(self, request: Request) -> Response:
        """The recorded getPostThread answer, around the post the `uri` names."""
        uri = parse_qs(request.query_string.decode()).get("uri", [""])[0]
        post = next((p for p in self.posts if p["uri"] == uri), None)
        if post is None:
            return Response(json.dumps({"error": "NotFound", "message": f"Post not found: {uri}"}),
                            status=400, content_type="application/json")
        recorded = json.loads((SOCIAL / "bluesky_getPostThread_recordWithMedia.json").read_text(encoding="utf-8"))
        recorded["thread"]["post"] = post
        return Response(json.dumps(recorded), content_type="application/json")

    def search(self, request: Request) -> Response:
        self.requests.append(request.full_path)
        if parse_qs(request.query_string.decode()).get("q", [""])[0].lstrip("#").lower() in self.gone_hashtags:
            return Response(json.dumps({"error": "NotFound", "message": "Not Found"}), status=404,
                            content_type="application/json")
        if self.requires_auth and request.headers.get("Authorization") != "Bearer jwt-token-abc":
            return Response(json.dumps({"error": "AuthMissing", "message": "Authentication Required"}),
                            status=403, content_type="application/json")
        query = parse_qs(request.query_string.decode())
        start = int(query.get("cursor", ["0"])[0])
        limit = min(int(query.get("limit", ["25"])[0]), self.page_size)
        page = self.posts[start:start + limit]
        body = {"posts": page, "hitsTotal": len(self.posts)}
        if start + limit < len(self.posts):
            body["cursor"] = str(start + limit)
        return Response(json.dumps(body), content_type="application/json",
                        headers={"RateLimit-Limit": "3000", "RateLimit-Remaining": "2999"})
