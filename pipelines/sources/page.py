"""`kind: page`: one web page to track. Also how any kind reads a page a post links to."""

from __future__ import annotations

import html
import json

from pipelines.config import PageSource
from pipelines.errors import FeedParseError
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import FetchResult, FetchStats
from pipelines.parse.discovery import looks_like_html
from pipelines.parse.page_metadata import PageMetadata, parse_page_metadata
from pipelines.entry import Entry
from pipelines.sanitize import sanitize_html, summarise
from pipelines.parse.tags import merge_tags
from pipelines.parse.urls import canonical_url, item_id
from pipelines.outcomes import SourceOutcome

PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
PAGE_MAX_BYTES = 5_000_000


async def read_page(ctx: HarvestContext, url: str, stats: FetchStats, *, allow_private,
                    validators: tuple[str | None, str | None] = (None, None)
                    ) -> tuple[FetchResult, PageMetadata | None]:
    """Fetch a page politely (robots.txt, private-address guard) and read its metadata.

    The metadata is None when the page answered 304. Raises FeedParseError when the URL is
    not an HTML page."""
    etag, last_modified = validators
    result = await ctx.fetcher.fetch(url, allow_private=allow_private, etag=etag, last_modified=last_modified,
                                     accept=PAGE_ACCEPT, stats=stats, max_bytes=PAGE_MAX_BYTES)
    if result.not_modified:
        return result, None
    if not looks_like_html(result.body, result.content_type):
        raise FeedParseError(f"{result.url} is not an HTML page ({result.content_type or 'no content type'})",
                             url=result.url, http_status=result.status)
    # BeautifulSoup is slow on a large page: on the worker processes, so pages shared by
    # hundreds of posts parse on every core, not one.
    meta = await ctx.offload(parse_page_metadata, result.body, result.url)
    return result, meta


def page_record(meta: PageMetadata, *, source_id: str, entry_key: str, wanted_tags, tagged_only: bool,
                extra_tags: list[str] = (), extra_reasons: list[str] = (), fallback_date=None,
                mention: str | None = None) -> Entry:
    """A story record from a page's own metadata."""
    url = meta.best_url()
    reasons = list(extra_reasons) + meta.tag_matches(wanted_tags)
    matched = bool(reasons) or not tagged_only
    if not tagged_only and not extra_reasons:
        reasons.append("source is on topic as a whole (tagged_only: false)")
    tags = merge_tags(meta.all_tags(), extra_tags)
    description = meta.description
    content_html = sanitize_html(f"<p>{html.escape(description, quote=False)}</p>") if description else ""
    published = meta.published_at or fallback_date
    facts = {"site_name": meta.site_name, "fetched_from": meta.url, "schema_types": meta.schema_types[:8],
             "image": meta.image}
    raw = {"url": meta.url, "canonical_url": meta.canonical_url, "title": meta.title,
           "description": description[:1000], "tags": meta.tags, "published_at": str(meta.published_at)}
    return Entry(
        source_id=source_id,
        entry_key=entry_key,
        item_id=item_id(url, source_id, entry_key),
        url=url,
        canonical_url=url,
        title=meta.title or url,
        summary=summarise(description),
        content_html=content_html,
        content_text=description,
        author=meta.author,
        published_at=published,
        updated_at=meta.modified_at,
        date_missing=published is None,
        tags=tags,
        match_reasons=reasons,
        matched=matched,
        language=meta.language,
        raw_json=json.dumps(raw, ensure_ascii=False),
        organisation=meta.publisher,
        details=json.dumps({k: v for k, v in facts.items() if v}, ensure_ascii=False),
        mention=mention,
    )


async def harvest_page(source: PageSource, ctx: HarvestContext, stats: FetchStats) -> SourceOutcome:
    outcome = SourceOutcome(source_id=source.id, status="ok")
    validators = ctx.state.validators.get(source.url, (None, None))
    result, meta = await read_page(ctx, source.url, stats, allow_private=ctx.registry.allow_private_for(source),
                                   validators=validators)
    outcome.http_status = result.status
    if meta is None:
        outcome.status = "not_modified"
        return outcome
    outcome.validators.append((source.url, result.etag, result.last_modified))
    record = page_record(meta, source_id=source.id, entry_key=canonical_url(source.url) or source.url,
                         wanted_tags=ctx.registry.tags_for(source), tagged_only=source.tagged_only)
    outcome.entries_read = 1
    outcome.records = [record]
    if not record.matched:
        outcome.warning = (f"the page carries none of the tags {', '.join(ctx.registry.tags_for(source))} "
                           "(looked at article:tag, JSON-LD keywords, meta keywords, rel=tag links and hashtags)")
    return outcome

