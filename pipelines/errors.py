"""One exception hierarchy for the hub.

`HubError` is the base. Configuration problems are `ConfigError`; anything that
goes wrong while harvesting one source is a `HarvestError`, whose `status` is the
value written to `source_health.status` and whose `reason` is written to
`source_health.error` unchanged.
"""

from __future__ import annotations


# source_health.status values: a harvest that worked, and the HarvestError statuses.
SUCCEEDED_STATUSES = ("ok", "not_modified")
FAILED_STATUSES = ("failed", "blocked", "deferred")


class HubError(Exception):
    """Base class of every error the hub raises on purpose."""


class ConfigError(HubError):
    """sources.yaml (or another configuration file) is invalid."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class WarehouseLockedError(HubError):
    """Another process holds the warehouse write lock."""


class SiteBuildError(HubError):
    """The hub site could not be built; the last site built is left in place, as it was."""


class GitHubWriteError(HubError):
    """GitHub's API refused a write (a comment, a branch, a file, a pull request); says what it answered."""


class HarvestError(HubError):
    """A source could not be harvested; `reason` says what happened in plain words."""

    status = "failed"

    def __init__(self, reason: str, *, url: str | None = None, source_id: str | None = None,
                 http_status: int | None = None, retry_after_s: float | None = None):
        self.reason = reason
        self.url = url
        self.source_id = source_id
        self.http_status = http_status
        self.retry_after_s = retry_after_s  # when the server named a time to come back
        super().__init__(reason)

    def __str__(self) -> str:
        prefix = f"source '{self.source_id}': " if self.source_id else ""
        return prefix + self.reason


class FetchFailed(HarvestError):
    """The HTTP exchange failed: connection, timeout, status, size or redirect problem."""


class RequestTimeout(FetchFailed):
    pass


class HTTPStatusFailure(FetchFailed):
    pass


class BodyTooLarge(FetchFailed):
    pass


class TooManyRedirects(FetchFailed):
    pass


class BlockedByRobots(HarvestError):
    status = "blocked"


class AddressRefused(HarvestError):
    """The URL resolves to a private, loopback or link-local address, or is not http(s)."""

    status = "blocked"


class RetryDeferred(HarvestError):
    """The server asked us to come back later than we are willing to wait in this run."""

    status = "deferred"


class FeedParseError(HarvestError):
    """The body is not a feed we can read (and names no feed we could follow)."""


class RateLimited(HarvestError):
    """An API's request budget is spent until a known time; the rest waits for the next run."""

    status = "deferred"


class ParseTimeout(HarvestError):
    """Parsing one document overran its time limit (or killed its worker) and was stopped."""


class APIResponseError(HarvestError):
    """An API answered with something that is not the JSON its documentation promises."""


class AuthenticationRequired(HarvestError):
    """The service answers only signed-in clients and the credentials it needs are not set."""


class FileRefused(HubError):
    """A local file a source would read is not read: a link out of its directory, not a regular
    file, or too large. `reason` says which; the source goes on without it."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)
