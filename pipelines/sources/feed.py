"""`kind: feed`: an RSS/Atom/JSON feed URL, or a page whose <link rel=alternate> names one."""

from __future__ import annotations

from pipelines.config import FeedSource
from pipelines.errors import FeedParseError, HTTPStatusFailure
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import FetchStats
from pipelines.parse import ParsedDocument, ParseOptions
from pipelines.outcomes import SourceOutcome


async def harvest_feed(source: FeedSource, ctx: HarvestContext, stats: FetchStats) -> SourceOutcome:
    allow_private = ctx.registry.allow_private_for(source)
    options = ParseOptions(source.id, tuple(ctx.registry.tags_for(source)), source.tagged_only)
    outcome = SourceOutcome(source_id=source.id, status="ok")

    async def read(url: str) -> ParsedDocument | None:
        etag, last_modified = ctx.state.validators.get(url, (None, None))
        result = await ctx.fetcher.fetch(url, allow_private=allow_private, etag=etag,
                                         last_modified=last_modified, stats=stats)
        outcome.http_status = result.status
        if result.not_modified:
            return None
        outcome.validators.append((url, result.etag, result.last_modified))
        return await ctx.parse(result.body, result.url, result.content_type, options)

    # A feed found by autodiscovery on an earlier run is read directly; if it has gone,
    # the page is read again to find the new one.
    start = ctx.state.feed_urls.get(source.id) or source.url
    try:
        document = await read(start)
    except HTTPStatusFailure as exc:
        if start == source.url or exc.http_status not in (404, 410):
            raise
        start = source.url
        document = await read(start)
    feed_url = start
    if document is not None and document.format == "html":
        if not document.discovered_feeds:
            raise FeedParseError(f"{start} is an HTML page with no <link rel=\"alternate\"> feed",
                                 url=start, http_status=outcome.http_status)
        feed_url = document.discovered_feeds[0]
        document = await read(feed_url)
        if document is not None and document.format == "html":
            raise FeedParseError(f"the feed {feed_url} named by {start} is an HTML page, not a feed",
                                 url=feed_url, http_status=outcome.http_status)
    outcome.feed_url = feed_url if feed_url != source.url else None
    if document is None:
        outcome.status = "not_modified"
    elif document.error:
        raise FeedParseError(f"{feed_url}: {document.error}", url=feed_url, http_status=outcome.http_status)
    else:
        outcome.records = document.records
        outcome.entries_read = document.entries_read
        outcome.warning = document.warning
        if not document.records:
            outcome.warning = "the feed lists no entries" + (f"; {document.warning}" if document.warning else "")
    return outcome
