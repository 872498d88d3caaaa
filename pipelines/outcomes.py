"""What a source kind's harvest hands over, and what it is given from the last run: the types the
sources share with the store, kept apart from the store so that sources never import it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipelines.dates import utc_now
from pipelines.errors import SUCCEEDED_STATUSES, HarvestError
from pipelines.entry import Entry


@dataclass
class SourceOutcome:
    """What harvesting one source produced, ready to be written."""

    source_id: str
    status: str                      # ok | not_modified | failed | blocked | deferred
    http_status: int | None = None
    error: str | None = None
    records: list[Entry] = field(default_factory=list)
    entries_read: int = 0
    feed_url: str | None = None
    validators: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # url, etag, last-modified
    requests: int = 0
    bytes: int = 0
    duration_s: float = 0.0
    warning: str | None = None
    retry_at: datetime | None = None   # the server's own Retry-After, when it named a time
    state: dict | None = None          # carried to the source's next run (source_state), when set

    def cut_short(self, exc: HarvestError, kept: str | None = None) -> None:
        """A source stopped by a spent rate limit or a long Retry-After: what it read is kept
        (`kept` says how much), the rest waits for the server's time."""
        self.status, self.http_status = exc.status, exc.http_status
        self.error = exc.reason + (f"; {kept}" if kept else "")
        if exc.retry_after_s:
            self.retry_at = utc_now() + timedelta(seconds=exc.retry_after_s)

    def text_bytes(self) -> int:
        """Roughly what writing this outcome puts in memory (its records' text)."""
        return sum(r.text_bytes() for r in self.records)

    @property
    def succeeded(self) -> bool:
        return self.status in SUCCEEDED_STATUSES


@dataclass
class FetchState:
    validators: dict[str, tuple[str | None, str | None]]
    feed_urls: dict[str, str]
    next_attempts: dict[str, datetime] = field(default_factory=dict)  # sources backing off
    source_state: dict[str, dict] = field(default_factory=dict)  # what each source's last run left for this one
    # source id -> entry key -> the `details` JSON stored for it, for kinds that reuse what
    # they fetched before (a repository's README is read again only when it was pushed to).
    previous_details: dict[str, dict[str, str]] = field(default_factory=dict)
    # owner/name of GitHub repositories harvested stories link to, not read by a listed source.
    linked_repos: dict[str, str] = field(default_factory=dict)   # owner/name -> a page linking it
