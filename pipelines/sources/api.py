"""JSON APIs of social platforms (Mastodon, Bluesky, dev.to, Discourse) over the hub's HTTP layer.

Each answer's rate-limit headers (`X-RateLimit-Remaining/Reset`, or the IETF draft's
`RateLimit-Remaining/Reset`) are remembered per origin for the run: once an origin says
nothing is left, no further request is sent to it until the reset time, and the source is
deferred with what it read so far.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from pipelines.dates import parse_datetime
from pipelines.errors import APIResponseError, AuthenticationRequired, HTTPStatusFailure, RateLimited
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import FetchStats
from pipelines.parse.urls import origin_of

JSON_ACCEPT = "application/json"
# What a builder raises on a field of another type than the API documents.
MALFORMED = (TypeError, AttributeError, KeyError, ValueError, IndexError)


def each_well_formed(items, build) -> tuple[list, int]:
    """`build(item)` for every item, and how many were skipped because a field was not of the
    type the API documents: a malformed item is left out, never the source."""
    built, skipped = [], 0
    for item in items:
        try:
            built.append(build(item))
        except MALFORMED:
            skipped += 1
    return built, skipped


def malformed_warning(skipped: int, what: str) -> list[str]:
    return [f"skipped {skipped} {what} with fields of unexpected types"] if skipped else []


@dataclass
class RateWindow:
    remaining: int | None = None
    reset_at: datetime | None = None

    def spent_until(self, now: datetime) -> datetime | None:
        if self.remaining is not None and self.remaining <= 0 and self.reset_at and self.reset_at > now:
            return self.reset_at
        return None


@dataclass
class JSONPage:
    url: str
    status: int
    not_modified: bool
    etag: str | None
    last_modified: str | None
    links: dict[str, str] = field(default_factory=dict)
    data: Any = None


def rate_windows(ctx: HarvestContext) -> dict[str, RateWindow]:
    return ctx.shared.setdefault("rate_windows", {})


async def get_json(ctx: HarvestContext, url: str, stats: FetchStats, *, service: str,
                   allow_private, headers: dict[str, str] | None = None,
                   validators: tuple[str | None, str | None] = (None, None), robots: bool = False,
                   missing_ok: bool = False) -> JSONPage | None:
    """GET a JSON API URL. Raises RateLimited (budget spent), AuthenticationRequired (401),
    HTTPStatusFailure with the service's own message, or APIResponseError for a body that is
    not JSON; returns None for a 404 when `missing_ok`."""
    origin = origin_of(url)
    window = rate_windows(ctx).setdefault(origin, RateWindow())

    def check_window() -> None:
        until = window.spent_until(datetime.now(timezone.utc))
        if until is not None:
            raise RateLimited(f"{service} rate limit reached at {origin}; rate limited until {until:%H:%M} UTC",
                              url=url, http_status=429,
                              retry_after_s=(until - datetime.now(timezone.utc)).total_seconds())

    etag, last_modified = validators
    result = await ctx.fetcher.fetch(url, allow_private=allow_private, etag=etag, last_modified=last_modified,
                                     accept=JSON_ACCEPT, stats=stats, headers=headers, robots=robots,
                                     raise_for_status=False, before_send=check_window)
    _remember_window(window, result.headers)
    text = result.body.decode("utf-8", errors="replace")
    if result.status == 404 and missing_ok:
        return None
    if result.status == 401:
        raise AuthenticationRequired(f"{service} at {origin} requires authentication (HTTP 401)"
                                     + _message_suffix(service, text), url=url, http_status=401)
    if not (200 <= result.status < 300 or result.status == 304):
        if result.status == 429 or window.spent_until(datetime.now(timezone.utc)):
            check_window()
        raise HTTPStatusFailure(f"HTTP {result.status} from {result.url}" + _message_suffix(service, text),
                                url=result.url, http_status=result.status)
    page = JSONPage(url=result.url, status=result.status, not_modified=result.not_modified, etag=result.etag,
                    last_modified=result.last_modified, links=result.links)
    if not result.not_modified:
        try:
            page.data = json.loads(text)
        except ValueError as exc:
            raise APIResponseError(f"{service} returned invalid or truncated JSON from {result.url} "
                                   f"({len(text):,} characters: {exc})", url=result.url,
                                   http_status=result.status) from None
    return page


def _remember_window(window: RateWindow, headers: dict[str, str]) -> None:
    remaining = headers.get("x-ratelimit-remaining") or headers.get("ratelimit-remaining")
    reset = headers.get("x-ratelimit-reset") or headers.get("ratelimit-reset")
    if remaining is None or not remaining.strip().lstrip("-").isdigit():
        return
    window.remaining = int(remaining)
    window.reset_at = parse_reset(reset)


def parse_reset(value: str | None, now: datetime | None = None) -> datetime | None:
    """Mastodon sends an ISO time, GitHub and Bluesky epoch seconds, the IETF draft seconds from now."""
    if not value:
        return None
    value = value.strip()
    now = now or datetime.now(timezone.utc)
    if value.isdigit():
        number = int(value)
        # Under ten years of seconds is a delay; anything larger is an epoch time.
        return now + timedelta(seconds=number) if number < 315_360_000 else datetime.fromtimestamp(number, timezone.utc)
    return parse_datetime(value)


def _message_suffix(service: str, text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    message = body.get("error_description") or body.get("error") or body.get("message") or body.get("errors")
    if isinstance(message, list):
        message = "; ".join(str(m) for m in message)
    return f": {service} says: {str(message)[:200]}" if message else ""
