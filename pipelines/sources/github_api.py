"""A small client for GitHub's REST API over the hub's HTTP layer: conditional requests,
`Link` pagination, and one rate-limit budget per run that every GitHub source shares.

The token (`$GITHUB_TOKEN`) lives only in the request headers: it is never part of a URL,
an error, a log line or this object's repr.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from pipelines.dates import parse_retry_after
from pipelines.errors import APIResponseError, HTTPStatusFailure, RateLimited, RetryDeferred
from pipelines.net.http import Fetcher, FetchResult, FetchStats
from pipelines.net.address_guard import PrivateAccess

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
JSON_ACCEPT = "application/vnd.github+json"
RAW_ACCEPT = "application/vnd.github.raw+json"
SECONDARY_LIMIT_RETRIES = 2


def api_url_from_env() -> str:
    return (os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")


@dataclass
class RateBudget:
    """What GitHub said is left of one rate-limit resource (core, search, …)."""

    remaining: int | None = None
    reset_at: datetime | None = None

    def exhausted(self, now: datetime) -> bool:
        return self.remaining == 0 and self.reset_at is not None and self.reset_at > now


@dataclass
class APIResponse:
    url: str
    status: int
    not_modified: bool
    etag: str | None
    last_modified: str | None
    links: dict[str, str]
    text: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError as exc:
            raise APIResponseError(f"GitHub API returned invalid or truncated JSON from {self.url} "
                                   f"({len(self.text):,} characters: {exc})", url=self.url,
                                   http_status=self.status) from None


@dataclass
class GitHubAPI:
    """One per harvest run; shared by every GitHub source, so they share the rate-limit budget."""

    fetcher: Fetcher
    base_url: str
    token: str | None = field(default=None, repr=False)
    allow_private: PrivateAccess = False
    sleep: Any = asyncio.sleep
    budgets: dict[str, RateBudget] = field(default_factory=dict)

    def url(self, path: str, **params: Any) -> str:
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return f"{self.base_url}{path}" + (f"?{query}" if query else "")

    def exhausted_until(self, resource: str) -> datetime | None:
        budget = self.budgets.get(resource)
        now = datetime.now(timezone.utc)
        return budget.reset_at if budget and budget.exhausted(now) else None

    async def get(self, url: str, *, stats: FetchStats, validators: tuple[str | None, str | None] = (None, None),
                  accept: str = JSON_ACCEPT, missing_ok: bool = False) -> APIResponse | None:
        """GET one API URL. Returns None for a 404 when `missing_ok` (a file that is not there).

        Raises RateLimited when the budget is spent (before sending, if already known),
        RetryDeferred for a secondary limit longer than the fetcher's Retry-After cap, and
        HTTPStatusFailure for other error statuses, with GitHub's own message."""
        resource = "search" if url.startswith(self.base_url + "/search/") else "core"
        headers = {"X-GitHub-Api-Version": API_VERSION}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        etag, last_modified = validators

        def check_budget() -> None:
            until = self.exhausted_until(resource)
            if until is not None:
                raise RateLimited(f"GitHub API rate limit reached; rate limited until {until:%H:%M} UTC "
                                  f"({until:%Y-%m-%d})", url=url, http_status=403,
                                  retry_after_s=(until - datetime.now(timezone.utc)).total_seconds())

        for attempt in range(SECONDARY_LIMIT_RETRIES + 1):
            # The budget is checked once the request holds its connection slot, not before: many
            # may be waiting for one, and the budget can run out meanwhile.
            result = await self.fetcher.fetch(url, allow_private=self.allow_private, etag=etag,
                                              last_modified=last_modified, accept=accept, stats=stats,
                                              headers=headers, robots=False, raise_for_status=False,
                                              before_send=check_budget)
            self._record_budget(result, resource)
            if result.status in (403, 429):
                wait = parse_retry_after(result.headers.get("retry-after"))
                if wait is not None:  # a secondary ("abuse") limit: wait as asked, if not too long
                    cap = self.fetcher.settings.retry_after_cap_s
                    if wait > cap or attempt == SECONDARY_LIMIT_RETRIES:
                        raise RetryDeferred(f"GitHub secondary rate limit: asked to wait {wait:.0f}s "
                                            f"(cap {cap:.0f}s); deferred to the next run", url=url,
                                            http_status=result.status, retry_after_s=wait)
                    await self.sleep(wait)
                    continue
                if self.exhausted_until(resource) is not None:
                    check_budget()  # raises RateLimited
                if (result.headers.get("x-ratelimit-remaining") or "").strip() == "0":
                    raise RateLimited("GitHub API rate limit reached (GitHub sent no reset time; "
                                      "it resets within the hour)", url=url, http_status=result.status)
            return self._response(result, missing_ok)
        raise AssertionError("unreachable")

    def _record_budget(self, result: FetchResult, resource: str) -> None:
        remaining = result.headers.get("x-ratelimit-remaining")
        reset = result.headers.get("x-ratelimit-reset")
        if remaining is None or not remaining.strip().isdigit():
            return
        budget = self.budgets.setdefault(result.headers.get("x-ratelimit-resource") or resource, RateBudget())
        budget.remaining = int(remaining)
        if reset and reset.strip().isdigit():
            budget.reset_at = datetime.fromtimestamp(int(reset), tz=timezone.utc)

    def _response(self, result: FetchResult, missing_ok: bool) -> APIResponse | None:
        text = result.body.decode("utf-8", errors="replace")
        if result.status == 404 and missing_ok:
            return None
        if not (200 <= result.status < 300 or result.status == 304):
            message = _github_message(text)
            what = {404: "not found (deleted, renamed without a redirect, or private)",
                    410: "gone", 451: "unavailable for legal reasons"}.get(result.status, "")
            detail = "; ".join(part for part in (what, message and f"GitHub says: {message}") if part)
            raise HTTPStatusFailure(f"HTTP {result.status} from {result.url}" + (f": {detail}" if detail else ""),
                                    url=result.url, http_status=result.status)
        return APIResponse(url=result.url, status=result.status, not_modified=result.not_modified,
                           etag=result.etag, last_modified=result.last_modified,
                           links=result.links, text=text)


def _github_message(text: str) -> str:
    try:
        body = json.loads(text)
    except ValueError:
        return ""
    return str(body.get("message", ""))[:200] if isinstance(body, dict) else ""
