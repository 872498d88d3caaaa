"""The only module that talks to the network: polite, cached, guarded HTTP GETs.

Every source kind fetches through `Fetcher.fetch`, which adds: per-origin and global
concurrency limits, a total deadline per request, a cap on decoded body size, manual
redirects (at most N, http(s) only), retries with backoff and jitter honouring
Retry-After, robots.txt (cached per origin per run), conditional GET validators, and
the private-address guard of `pipelines.net.address_guard`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from protego import Protego

from pipelines.dates import parse_retry_after
from pipelines.errors import (
    AddressRefused,
    BlockedByRobots,
    BodyTooLarge,
    FetchFailed,
    HTTPStatusFailure,
    RequestTimeout,
    RetryDeferred,
    TooManyRedirects,
)
from pipelines.net.inflate import BodyDecoder
from pipelines.net.address_guard import GuardedNetworkBackend, PrivateAccess, Resolver, system_resolver
from pipelines.tuning import GLOBAL_CONCURRENCY, PER_ORIGIN_CONCURRENCY
from pipelines.parse.urls import origin_of

FEED_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, text/html;q=0.7, */*;q=0.5"
)
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
ROBOTS_MAX_BYTES = 512_000
ERROR_BODY_MAX_BYTES = 64_000
# A sign-in answer is a few hundred bytes of JSON; anything past this is not one.
POST_RESPONSE_MAX_BYTES = 1_000_000
CREDENTIAL_HEADERS = {"authorization", "cookie", "proxy-authorization"}


@dataclass(frozen=True)
class HttpSettings:
    user_agent: str
    timeout_s: float = 20.0            # total deadline for one request, body included
    connect_timeout_s: float = 10.0
    max_body_bytes: int = 10_000_000   # on decoded bytes, so a gzip bomb stops early
    max_redirects: int = 5
    per_origin_concurrency: int = PER_ORIGIN_CONCURRENCY
    global_concurrency: int = GLOBAL_CONCURRENCY
    retries: int = 3
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0
    retry_after_cap_s: float = 60.0
    obey_robots: bool = True

    @classmethod
    def from_defaults(cls, defaults) -> "HttpSettings":
        return cls(
            user_agent=defaults.user_agent,
            timeout_s=defaults.timeout_s,
            connect_timeout_s=min(defaults.connect_timeout_s, defaults.timeout_s),
            max_body_bytes=int(defaults.max_body_mb * 1_000_000),
            max_redirects=defaults.max_redirects,
            per_origin_concurrency=defaults.per_origin_concurrency,
            global_concurrency=defaults.global_concurrency,
            retries=defaults.retries,
            retry_after_cap_s=defaults.retry_after_cap_s,
            obey_robots=defaults.obey_robots,
        )

    @property
    def robots_token(self) -> str:
        return self.user_agent.split("/", 1)[0].strip()


@dataclass
class FetchStats:
    requests: int = 0
    bytes: int = 0


@dataclass
class FetchResult:
    url: str                      # after redirects
    status: int
    headers: dict[str, str]
    body: bytes = b""
    not_modified: bool = False
    redirects: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)  # the Link header's URLs by rel (pagination)

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


class Fetcher:
    """One per run: holds the connection pools, the robots.txt cache and the concurrency limits."""

    def __init__(self, settings: HttpSettings, *, resolver: Resolver = system_resolver,
                 network_backend: httpcore.AsyncNetworkBackend | None = None, sleep=asyncio.sleep,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.settings = settings
        self._resolver = resolver
        self._inner_backend = network_backend
        # Tests answer requests in memory (httpx.MockTransport): no socket is opened, so the
        # address guard, which works on connections, is tested on its own (test_netguard).
        self._transport = transport
        self._sleep = sleep
        self._clients: dict[PrivateAccess, httpx.AsyncClient] = {}
        self._global = asyncio.Semaphore(settings.global_concurrency)
        self._origins: dict[str, asyncio.Semaphore] = {}
        self._robots: dict[tuple[str, PrivateAccess], Protego | None] = {}
        self._robots_locks: dict[tuple[str, PrivateAccess], asyncio.Lock] = {}

    async def __aenter__(self) -> "Fetcher":
        return self

    async def __aexit__(self, *exc) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def _client(self, allow_private: PrivateAccess) -> httpx.AsyncClient:
        # One pool per private-address policy, so a connection opened for a source allowed
        # to reach private addresses is never reused by one that is not.
        if allow_private not in self._clients:
            transport = self._transport or self._guarded_transport(allow_private)
            self._clients[allow_private] = httpx.AsyncClient(
                transport=transport,
                follow_redirects=False,
                trust_env=False,
                timeout=httpx.Timeout(self.settings.timeout_s, connect=self.settings.connect_timeout_s),
                headers={"User-Agent": self.settings.user_agent, "Accept-Encoding": "gzip, deflate"},
            )
        return self._clients[allow_private]

    def _guarded_transport(self, allow_private: PrivateAccess) -> httpx.AsyncHTTPTransport:
        # One TLS context (loading the CA bundle) for the transport and the pool that replaces its own.
        ssl_context = httpx.create_ssl_context()
        transport = httpx.AsyncHTTPTransport(verify=ssl_context, retries=0)
        # httpx has no public hook for the network backend: swap in a pool that uses ours.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=self.settings.global_concurrency * 2,
            max_keepalive_connections=self.settings.global_concurrency,
            network_backend=GuardedNetworkBackend(allow_private=allow_private, resolver=self._resolver,
                                                  inner=self._inner_backend),
        )
        return transport

    async def fetch(self, url: str, *, allow_private: PrivateAccess = False, etag: str | None = None,
                    last_modified: str | None = None, accept: str = FEED_ACCEPT,
                    stats: FetchStats | None = None, max_bytes: int | None = None,
                    headers: dict[str, str] | None = None, robots: bool = True,
                    raise_for_status: bool = True, before_send: Callable[[], None] | None = None,
                    method: str = "GET") -> FetchResult:
        """GET `url`, following redirects; a 304 comes back as `not_modified`, other non-2xx raise
        unless `raise_for_status` is false (an API client reading its own error responses).

        `headers` may carry credentials: they are sent to `url`'s origin only, never to another
        origin a redirect points at. `robots=False` is for documented APIs, whose robots.txt
        addresses crawlers (api.github.com's disallows everything). `before_send` runs just before
        each request goes out, once a connection slot is held, and may raise to stop it (an API
        budget spent while the request waited for its slot)."""
        stats = stats if stats is not None else FetchStats()
        request_headers = {"Accept": accept, **(headers or {})}
        if etag:
            request_headers["If-None-Match"] = etag
        if last_modified:
            request_headers["If-Modified-Since"] = last_modified
        result = await self._follow(url, request_headers, allow_private, stats,
                                    max_bytes or self.settings.max_body_bytes,
                                    check_robots=self.settings.obey_robots and robots,
                                    error_body=not raise_for_status, before_send=before_send, method=method)
        if result.status == 304:
            result.not_modified = True
        elif raise_for_status and not 200 <= result.status < 300:
            raise HTTPStatusFailure(f"HTTP {result.status}{_reason(result.status)} from {result.url}",
                                    url=result.url, http_status=result.status)
        return result

    async def post_json(self, url: str, payload: dict, *, allow_private: PrivateAccess = False,
                        stats: FetchStats | None = None, headers: dict[str, str] | None = None) -> FetchResult:
        """POST a JSON body once (signing in to an API): no redirects followed, no retries, an
        error status comes back with its body for the caller to explain. Same address guard
        and connection slots as every GET."""
        return await self.send_json("POST", url, payload, allow_private=allow_private, stats=stats, headers=headers)

    async def send_json(self, method: str, url: str, payload: dict, *, allow_private: PrivateAccess = False,
                        stats: FetchStats | None = None, headers: dict[str, str] | None = None) -> FetchResult:
        """Send a JSON body once with `method` (POST, PUT, PATCH: writing through an API), as post_json."""
        stats = stats if stats is not None else FetchStats()
        origin = origin_of(url)
        origin_slots = self._origins.setdefault(origin, asyncio.Semaphore(self.settings.per_origin_concurrency))
        client = self._client(allow_private)
        try:
            async with origin_slots, self._global, asyncio.timeout(self.settings.timeout_s):
                stats.requests += 1
                async with client.stream(method, url, json=payload,
                                         headers={"Accept": "application/json", **(headers or {})}) as response:
                    # Read like every GET body, through the bounded decoder: httpx's own would
                    # inflate a gzip bomb whole before any cap could be checked.
                    body = await _read_capped(response, url, POST_RESPONSE_MAX_BYTES)
        except (TimeoutError, httpx.TimeoutException):
            raise RequestTimeout(f"no complete response from {url} within {self.settings.timeout_s:g}s",
                                 url=url) from None
        except httpx.DecodingError as exc:
            raise FetchFailed(f"could not decode the response body from {url}: {exc}", url=url) from None
        except httpx.TransportError as exc:
            raise FetchFailed(f"connection to {origin} failed: {_describe_transport_error(exc)}", url=url) from None
        stats.bytes += response.num_bytes_downloaded
        return FetchResult(url=url, status=response.status_code,
                           headers={k.lower(): v for k, v in response.headers.items()}, body=body,
                           links=_links_by_rel(response))

    async def _follow(self, url, headers, allow_private, stats, max_bytes, *, check_robots,
                      error_body: bool = False, before_send=None, method: str = "GET") -> FetchResult:
        current = url
        chain: list[str] = []
        for _ in range(self.settings.max_redirects + 1):
            scheme = urlsplit(current).scheme.lower()
            if scheme not in ("http", "https"):
                raise AddressRefused(f"refused to fetch non-http(s) URL {current}", url=current)
            if check_robots and not await self._robots_allow(current, allow_private, stats):
                raise BlockedByRobots(f"robots.txt of {origin_of(current)} disallows {current} for "
                                      f"{self.settings.robots_token}", url=current)
            result = await self._get_with_retries(current, headers, allow_private, stats, max_bytes, error_body,
                                                  before_send, method)
            if result.status not in REDIRECT_STATUSES:
                result.redirects = chain
                return result
            location = result.headers.get("location")
            if not location:
                raise FetchFailed(f"HTTP {result.status} redirect without a Location header from {current}",
                                  url=current, http_status=result.status)
            chain.append(current)
            following = urljoin(current, location.strip())
            if origin_of(following) != origin_of(current):
                headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
            current = following
        raise TooManyRedirects(f"more than {self.settings.max_redirects} redirects (last to {current})", url=url)

    async def _get_with_retries(self, url, headers, allow_private, stats, max_bytes, error_body,
                                before_send=None, method: str = "GET") -> FetchResult:
        origin = origin_of(url)
        origin_slots = self._origins.setdefault(origin, asyncio.Semaphore(self.settings.per_origin_concurrency))
        for attempt in range(self.settings.retries + 1):
            delay = None
            try:
                # Origin first, then a global slot: waiting on a busy origin never holds a global slot.
                async with origin_slots, self._global:
                    if before_send is not None:
                        before_send()
                    async with asyncio.timeout(self.settings.timeout_s):
                        result = await self._get_once(url, headers, allow_private, stats, max_bytes, error_body,
                                                      method)
            except (TimeoutError, httpx.TimeoutException):
                error: FetchFailed = RequestTimeout(
                    f"no complete response from {url} within {self.settings.timeout_s:g}s", url=url)
            except httpx.DecodingError as exc:
                raise FetchFailed(f"could not decode the response body from {url}: {exc}", url=url) from None
            except httpx.TransportError as exc:
                error = FetchFailed(f"connection to {origin} failed: {_describe_transport_error(exc)}", url=url)
            else:
                if result.status != 429 and result.status < 500:
                    return result
                wait = parse_retry_after(result.headers.get("retry-after"))
                if wait is not None and wait > self.settings.retry_after_cap_s:
                    raise RetryDeferred(
                        f"HTTP {result.status}{_reason(result.status)}: server asked to retry after {wait:.0f}s, "
                        f"more than the {self.settings.retry_after_cap_s:.0f}s cap; deferred to the next run",
                        url=url, http_status=result.status, retry_after_s=wait)
                error = HTTPStatusFailure(f"HTTP {result.status}{_reason(result.status)} from {url}",
                                          url=url, http_status=result.status)
                delay = wait
            if attempt == self.settings.retries:
                if self.settings.retries:
                    error.reason += f" (after {attempt + 1} attempts)"
                raise error
            if delay is None:
                delay = min(self.settings.backoff_max_s, self.settings.backoff_base_s * 2 ** attempt)
                delay *= random.uniform(0.5, 1.5)
            await self._sleep(delay)
        raise AssertionError("unreachable")

    async def _get_once(self, url, headers, allow_private, stats, max_bytes, error_body=False,
                        method: str = "GET") -> FetchResult:
        client = self._client(allow_private)
        stats.requests += 1
        async with client.stream(method, url, headers=headers) as response:
            result = FetchResult(url=url, status=response.status_code,
                                 headers={k.lower(): v for k, v in response.headers.items()},
                                 links=_links_by_rel(response))
            if response.status_code >= 400 and error_body:
                # An API explains its errors in the body; a short one is enough to report.
                max_bytes = min(max_bytes, ERROR_BODY_MAX_BYTES)
            elif response.status_code in REDIRECT_STATUSES or response.status_code == 304 \
                    or response.status_code >= 400:
                stats.bytes += response.num_bytes_downloaded
                return result
            result.body = await _read_capped(response, url, max_bytes)
            stats.bytes += response.num_bytes_downloaded
            return result

    async def _robots_allow(self, url: str, allow_private: PrivateAccess, stats: FetchStats) -> bool:
        key = (origin_of(url), allow_private)
        lock = self._robots_locks.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._robots:
                self._robots[key] = await self._load_robots(key[0], allow_private, stats)
        rules = self._robots[key]
        return rules is None or rules.can_fetch(url, self.settings.robots_token)

    async def _load_robots(self, origin: str, allow_private: PrivateAccess, stats: FetchStats) -> Protego | None:
        """RFC 9309: 4xx means no rules; a 5xx answer means everything is disallowed."""
        robots_url = origin + "/robots.txt"
        try:
            result = await self._follow(robots_url, {"Accept": "text/plain, */*;q=0.5"}, allow_private, stats,
                                        ROBOTS_MAX_BYTES, check_robots=False)
        except BodyTooLarge:
            return None
        except HTTPStatusFailure as exc:
            if exc.http_status and exc.http_status >= 500:
                raise BlockedByRobots(f"robots.txt of {origin} answered HTTP {exc.http_status}; "
                                      "treated as disallow-all (RFC 9309)", url=robots_url) from None
            raise
        if 200 <= result.status < 300:
            return Protego.parse(result.body.decode("utf-8", errors="replace"))
        return None


async def _read_capped(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    """The body of a streamed response, decoded a bounded step at a time and refused past `max_bytes`."""
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"body of {url} is {int(declared):,} bytes, over the {max_bytes:,} byte cap",
                           url=url, http_status=response.status_code)
    chunks: list[bytes] = []
    received = 0
    decoder = BodyDecoder(response.headers.get("content-encoding"))
    async for raw in response.aiter_raw():
        for chunk in decoder.decode(raw):
            received += len(chunk)
            if received > max_bytes:
                raise BodyTooLarge(f"body of {url} exceeds the {max_bytes:,} byte cap (decoded)",
                                   url=url, http_status=response.status_code)
            chunks.append(chunk)
    return b"".join(chunks)


def _links_by_rel(response: httpx.Response) -> dict[str, str]:
    # httpx parses the Link header; it keys a link that has no rel by its URL, which is no relation.
    return {link["rel"]: link["url"] for link in response.links.values() if "rel" in link}


def _reason(status: int) -> str:
    try:
        from http import HTTPStatus

        return f" {HTTPStatus(status).phrase}"
    except ValueError:
        return ""


def _describe_transport_error(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]
