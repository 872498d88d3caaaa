"""A post that shares a link ("our new blog post #OpenGovTech https://council.example/blog/x") is a
mention of the story at that link: the story becomes the item, the post is attached to it.

The story's record takes the page's canonical URL, so the same page read later from its blog
feed (or shared again elsewhere) is the same item.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from pipelines.errors import HarvestError
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import FetchStats
from pipelines.entry import Mention, Entry
from pipelines.sanitize import summarise, title_from_text
from pipelines.sources.page import page_record, read_page
from pipelines.parse.tags import merge_tags
from pipelines.parse.urls import canonical_url, item_id



@dataclass
class SharedLink:
    """A link in a post, with what the platform's own preview (card, embed) said about it."""

    url: str
    title: str = ""
    description: str = ""


@dataclass
class PostFacts:
    """What a social post tells us, whatever the platform."""

    source_id: str
    mention: Mention
    text: str
    tags: list[str]
    reasons: list[str]             # why the post itself counts (its hashtag)
    matched: bool
    link: SharedLink | None
    language: str | None = None


async def story_from_post(ctx: HarvestContext, post: PostFacts, stats: FetchStats, *, allow_private,
                          wanted_tags, follow: bool = True) -> tuple[Entry, str | None]:
    """The story record a post points at, and a warning when its page could not be read.

    When the page cannot be fetched (robots.txt, private address, 404, not HTML) the story
    is built from the platform's preview of the link instead, so the mention is never lost."""
    assert post.link is not None
    link_url = canonical_url(post.link.url) or post.link.url
    entry_key = f"mention:{post.mention.url}"
    if follow:
        try:
            _, meta = await read_page(ctx, link_url, stats, allow_private=allow_private)
        except HarvestError as exc:
            warning = f"could not read {link_url} shared by {post.mention.url}: {exc.reason}"
        else:
            if meta is not None:
                record = page_record(meta, source_id=post.source_id, entry_key=entry_key, wanted_tags=wanted_tags,
                                     tagged_only=True, extra_tags=post.tags, extra_reasons=post.reasons,
                                     fallback_date=post.mention.posted_at, mention=post.mention.to_json())
                record.matched = post.matched or bool(record.match_reasons)
                return record, None
            warning = None
    else:
        warning = None
    return preview_record(post, link_url, entry_key), warning


async def posts_to_records(ctx: HarvestContext, posts: list[tuple[PostFacts, dict]], stats: FetchStats, *,
                           allow_private, wanted_tags, follow: bool,
                           own_record: Callable[[PostFacts, dict], Entry]) -> tuple[list[Entry], list[str]]:
    """Records for the tagged posts, and warnings: a post sharing a link becomes that page's
    story with the post as its mention; any other post is an item itself (`own_record`, given
    the post and the platform's own JSON for it)."""
    async def one(post: PostFacts, raw: dict) -> tuple[Entry, str | None]:
        if post.link is not None:
            return await story_from_post(ctx, post, stats, allow_private=allow_private, wanted_tags=wanted_tags,
                                         follow=follow)
        return own_record(post, raw), None

    results = await asyncio.gather(*(one(post, raw) for post, raw in posts if post.matched))
    return [record for record, _ in results], [warning for _, warning in results if warning]


def preview_record(post: PostFacts, link_url: str, entry_key: str) -> Entry:
    link = post.link
    title = (link.title if link else "") or title_from_text(post.text) or link_url
    description = (link.description if link else "") or post.text
    raw = {"link": link_url, "preview_title": link.title if link else "", "post": post.mention.url}
    return Entry(
        source_id=post.source_id,
        entry_key=entry_key,
        item_id=item_id(link_url, post.source_id, entry_key),
        url=link_url,
        canonical_url=link_url,
        title=title,
        summary=summarise(description),
        content_html="",
        content_text=description,
        author=None,
        published_at=post.mention.posted_at,
        updated_at=None,
        date_missing=post.mention.posted_at is None,
        tags=merge_tags(post.tags),
        match_reasons=list(post.reasons),
        matched=post.matched,
        language=post.language,
        raw_json=json.dumps(raw, ensure_ascii=False),
        organisation=urlsplit(link_url).hostname,
        mention=post.mention.to_json(),
    )


def post_title(text: str, fallback: str) -> str:
    return title_from_text(text) or fallback


def post_record(post: PostFacts, *, entry_key: str, url: str, content_html: str,
                updated_at: datetime | None = None, raw: dict | None = None) -> Entry:
    """A post with no link is itself the item (a short story told on social media)."""
    raw_json = json.dumps(raw or {}, ensure_ascii=False, default=str)
    return Entry(
        source_id=post.source_id,
        entry_key=entry_key,
        item_id=item_id(canonical_url(url), post.source_id, entry_key),
        url=canonical_url(url),
        canonical_url=canonical_url(url),
        title=post_title(post.text, f"Post by {post.mention.author}"),
        summary=summarise(post.text),
        content_html=content_html,
        content_text=post.text,
        author=post.mention.author,
        published_at=post.mention.posted_at,
        updated_at=updated_at,
        date_missing=post.mention.posted_at is None,
        tags=merge_tags(post.tags),
        match_reasons=list(post.reasons),
        matched=post.matched,
        language=post.language,
        raw_json=raw_json,
    )
