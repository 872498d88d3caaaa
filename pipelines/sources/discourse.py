"""`kind: discourse`: a Discourse forum's topics with a tag (`/tag/<tag>.json`), then the first
post of each topic not read before (`/t/<slug>/<id>.json`)."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote, urlsplit

from pipelines.config import DiscourseSource
from pipelines.dates import parse_datetime
from pipelines.errors import HarvestError, RateLimited, RetryDeferred
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import FetchStats
from pipelines.entry import Entry
from pipelines.sanitize import html_to_text, sanitize_html, summarise
from pipelines.sources.api import MALFORMED, get_json
from pipelines.parse.tags import merge_tags
from pipelines.parse.urls import canonical_url, item_id
from pipelines.outcomes import SourceOutcome


def json_url(base_url: str, path: str) -> str:
    """Discourse's `more_topics_url` is a page path ("/tag/x?page=1"); its JSON is at "/tag/x.json?page=1"."""
    parts = urlsplit(path)
    page_path = parts.path if parts.path.endswith(".json") else parts.path + ".json"
    return base_url + page_path + (f"?{parts.query}" if parts.query else "")


async def harvest_discourse(source: DiscourseSource, ctx: HarvestContext, stats: FetchStats) -> SourceOutcome:
    outcome = SourceOutcome(source_id=source.id, status="ok")
    allow_private = ctx.registry.allow_private_for(source)
    previous = ctx.state.source_state.get(source.id, {})
    read_before: set[str] = set(previous.get("topics", []))
    topics: dict[str, dict] = {}
    url: str | None = json_url(source.base_url, f"/tag/{quote(source.tag)}")
    first_page_unchanged = False

    async def get(page_url: str, **kwargs):
        # A forum is a website: its robots.txt applies, as to any page.
        return await get_json(ctx, page_url, stats, service="Discourse", allow_private=allow_private, robots=True,
                              **kwargs)

    try:
        for number in range(source.max_pages):
            page = await get(url, validators=ctx.state.validators.get(url, (None, None)) if number == 0 else
                             (None, None))
            if page.not_modified:
                first_page_unchanged = True
                break
            if number == 0:
                outcome.validators.append((url, page.etag, page.last_modified))
            topic_list = (page.data or {}).get("topic_list") or {}
            for topic in topic_list.get("topics") or []:
                if isinstance(topic, dict) and topic.get("id") is not None:
                    topics.setdefault(topic_key(topic), topic)
            more = topic_list.get("more_topics_url")
            if not more:
                break
            url = json_url(source.base_url, more)
    except (RateLimited, RetryDeferred) as exc:
        outcome.cut_short(exc, "the rest is read next run")

    new = {key: topic for key, topic in topics.items() if key not in read_before}

    async def first_post(key: str, topic: dict) -> tuple[str, Entry | None, str | None]:
        try:
            data = (await get(json_url(source.base_url, f"/t/{key}"))).data or {}
        except (RateLimited, RetryDeferred):
            return key, None, None  # read next run
        except HarvestError as exc:
            return key, None, f"topic {key}: {exc.reason}"
        try:
            posts = ((data.get("post_stream") or {}).get("posts") or [])
            return key, topic_record(source, topic, posts[0] if posts else {}), None
        except MALFORMED:
            return key, None, f"topic {key}: skipped, with fields of unexpected types"

    results = await asyncio.gather(*(first_post(k, t) for k, t in new.items()))
    outcome.records = [record for _, record, _ in results if record is not None]
    warnings = [w for _, _, w in results if w]
    done_keys = {key for key, record, _ in results if record is not None}
    outcome.state = {"topics": sorted(read_before | done_keys)}
    outcome.entries_read = len(topics)
    outcome.warning = "; ".join(warnings[:5]) or None
    if outcome.status == "ok" and not outcome.records and (first_page_unchanged or not new) and not warnings:
        outcome.status = "not_modified"
    return outcome


def topic_key(topic: dict) -> str:
    return f"{topic.get('slug') or 'topic'}/{topic['id']}"


def topic_tags(topic: dict) -> list[str]:
    """A topic's tags: names, or (newer Discourse) objects with a name."""
    return [t if isinstance(t, str) else (t or {}).get("name", "") for t in topic.get("tags") or []]


def topic_record(source: DiscourseSource, topic: dict, post: dict) -> Entry:
    url = canonical_url(f"{source.base_url}/t/{topic_key(topic)}") or source.base_url
    cooked = sanitize_html(post.get("cooked") or "", base_url=url)
    text = html_to_text(cooked) or html_to_text(topic.get("excerpt") or "")
    tags = topic_tags(topic)
    reasons = [f"in the Discourse tag '{source.tag}' on {source.base_url}"]
    published = parse_datetime(post.get("created_at") or topic.get("created_at"))
    raw = {k: topic.get(k) for k in ("id", "slug", "title", "created_at", "last_posted_at", "posts_count",
                                      "category_id", "tags")}
    raw["first_post_id"] = post.get("id")
    return Entry(
        source_id=source.id,
        entry_key=f"topic:{topic['id']}:{topic.get('slug')}",
        item_id=item_id(url, source.id, str(topic["id"])),
        url=url,
        canonical_url=url,
        title=topic.get("fancy_title") and html_to_text(topic["fancy_title"]) or topic.get("title") or "(untitled)",
        summary=summarise(text),
        content_html=cooked,
        content_text=text,
        author=post.get("name") or post.get("username") or topic.get("last_poster_username"),
        published_at=published,
        updated_at=parse_datetime(post.get("updated_at")),
        date_missing=published is None,
        tags=merge_tags([source.tag], tags),
        match_reasons=reasons,
        matched=True,
        language=None,
        raw_json=json.dumps(raw, ensure_ascii=False, default=str),
    )
