"""Checking that the hub's stories and assets still resolve (opengovtech.org kept `date_checked` by hand).

HEAD first, GET when a server refuses HEAD; through the same HTTP layer as the harvest
(robots.txt, per-origin limits, the private-address guard). Results go to `link_checks`:
a broken link is marked (`ok = false`, `broken_since`), never deleted, and its item stays.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa

from pipelines.config import SourceRegistry
from pipelines.store.connection import insert_rows
from pipelines.errors import HarvestError, HubError
from pipelines.net.http import Fetcher, FetchStats, HttpSettings
from pipelines.store.warehouse import Warehouse

CHECKED_KINDS = ("story", "asset")

DUE_SQL = """
SELECT i.url, min(i.source_ids[1]) AS source_id
FROM items i LEFT JOIN link_checks c ON c.url = i.url
WHERE i.kind IN ('story', 'asset') AND i.url IS NOT NULL
  AND (c.checked_at IS NULL OR c.checked_at < now() - to_days(CAST($recheck_days AS INTEGER)))
GROUP BY i.url, c.checked_at
ORDER BY c.checked_at NULLS FIRST, i.url
LIMIT $limit
"""

SCHEMA = pa.schema([
    ("url", pa.string()), ("status", pa.int32()), ("ok", pa.bool_()), ("error", pa.string()),
    ("method", pa.string()), ("final_url", pa.string()), ("checked_at", pa.timestamp("us", tz="UTC")),
    ("broken_since", pa.timestamp("us", tz="UTC")),
])


@dataclass
class LinkCheck:
    url: str
    status: int | None
    ok: bool
    error: str | None
    method: str
    final_url: str | None


@dataclass
class LinkCheckReport:
    checked: int
    broken: int
    requests: int


def check_links(registry: SourceRegistry, warehouse: Warehouse, *, fetcher: Fetcher | None = None) -> LinkCheckReport:
    schedule = registry.schedule
    due = warehouse.con.execute(DUE_SQL, {"recheck_days": int(schedule.link_check_recheck_days),
                                          "limit": schedule.link_check_max_urls}).fetchall()
    stats = FetchStats()
    results = asyncio.run(_check_all(registry, due, stats, fetcher))
    now = datetime.now(timezone.utc)
    previous = dict(warehouse.con.execute(
        "SELECT url, broken_since FROM link_checks WHERE NOT ok AND broken_since IS NOT NULL").fetchall())
    rows = [{"url": r.url, "status": r.status, "ok": r.ok, "error": r.error, "method": r.method,
             "final_url": r.final_url, "checked_at": now,
             "broken_since": None if r.ok else previous.get(r.url, now)} for r in results]
    insert_rows(warehouse.con, "link_checks", pa.Table.from_pylist(rows, schema=SCHEMA), replace=True)
    return LinkCheckReport(checked=len(rows), broken=sum(not r.ok for r in results), requests=stats.requests)


async def _check_all(registry: SourceRegistry, due: list[tuple], stats: FetchStats,
                     fetcher: Fetcher | None) -> list[LinkCheck]:
    sources = {s.id: s for s in registry.sources}
    own = fetcher is None
    fetcher = fetcher or Fetcher(HttpSettings.from_defaults(registry.defaults))
    try:
        async def one(url: str, source_id: str | None) -> LinkCheck:
            source = sources.get(source_id or "")
            # A link may only reach private addresses when the source it came from may.
            allow_private = registry.allow_private_for(source) if source else False
            return await check_link(fetcher, url, allow_private=allow_private, stats=stats)

        return list(await asyncio.gather(*(one(url, source_id) for url, source_id in due)))
    finally:
        if own:
            await fetcher.__aexit__(None, None, None)


async def check_link(fetcher: Fetcher, url: str, *, allow_private, stats: FetchStats) -> LinkCheck:
    """HEAD, then GET if the HEAD answer was an error (many servers refuse or mishandle HEAD)."""
    method = "HEAD"
    try:
        result = await fetcher.fetch(url, allow_private=allow_private, stats=stats, accept="*/*",
                                     raise_for_status=False, method="HEAD")
        if result.status >= 400:
            method = "GET"
            result = await fetcher.fetch(url, allow_private=allow_private, stats=stats, accept="*/*",
                                         raise_for_status=False)
    except HarvestError as exc:   # refused, timed out, blocked by robots.txt, too many redirects
        return LinkCheck(url=url, status=exc.http_status, ok=False, error=exc.reason, method=method, final_url=None)
    except HubError as exc:
        return LinkCheck(url=url, status=None, ok=False, error=str(exc), method=method, final_url=None)
    ok = 200 <= result.status < 400
    return LinkCheck(url=url, status=result.status, ok=ok,
                     error=None if ok else f"HTTP {result.status}", method=method, final_url=result.url)
