"""`kind: devto`: dev.to (Forem) articles by tag and/or username, from `/api/articles`.

An article cross-posted from a blog names the original in `canonical_url`: the record takes
that URL, so the cross-post and the blog's own feed entry are one item.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from pipelines.config import DevtoSource
from pipelines.dates import parse_datetime
from pipelines.errors import RateLimited, RetryDeferred
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import FetchStats
from pipelines.entry import Entry
from pipelines.sanitize import html_to_text, sanitize_html, summarise
from pipelines.sources.api import each_well_formed, get_json, malformed_warning
from pipelines.parse.tags import first_wanted, merge_tags
from pipelines.parse.urls import canonical_url, item_id
from pipelines.outcomes import SourceOutcome

PER_PAGE = 100


async def harvest_devto(source: DevtoSource, ctx: HarvestContext, stats: FetchStats) -> SourceOutcome:
    outcome = SourceOutcome(source_id=source.id, status="ok")
    allow_private = ctx.registry.allow_private_for(source)
    wanted = ctx.registry.wanted_tags(source)
    articles: dict[str, dict] = {}
    unchanged_pages = 0
    try:
        for page_number in range(1, source.max_pages + 1):
            params = {"tag": source.tag, "username": source.username, "per_page": PER_PAGE, "page": page_number}
            url = f"{source.api_url}/api/articles?" + urlencode({k: v for k, v in params.items() if v})
            page = await get_json(ctx, url, stats, service="dev.to", allow_private=allow_private,
                                  validators=ctx.state.validators.get(url, (None, None)))
            if page.not_modified:
                # Pages are newest first: an unchanged first page means nothing new was published.
                unchanged_pages += 1
                break
            outcome.validators.append((url, page.etag, page.last_modified))
            batch = [a for a in page.data if isinstance(a, dict)] if isinstance(page.data, list) else []
            for article in batch:
                articles.setdefault(str(article.get("id") or article.get("url")), article)
            if len(batch) < PER_PAGE:
                break
    except (RateLimited, RetryDeferred) as exc:
        outcome.cut_short(exc, f"kept the {len(articles)} articles read before it")
    records, malformed = each_well_formed(articles.values(), lambda article: article_record(source, article, wanted))
    outcome.records = [r for r in records if r.matched]
    outcome.entries_read = len(articles)
    warnings = malformed_warning(malformed, "articles")
    if len(records) > len(outcome.records):
        warnings.append(f"skipped {len(records) - len(outcome.records)} articles without the tags {', '.join(wanted)}")
    outcome.warning = "; ".join(warnings) or None
    if outcome.status == "ok" and not articles and unchanged_pages:
        outcome.status = "not_modified"
    return outcome


def article_tags(article: dict) -> list[str]:
    # The list endpoint sends tag_list as a list and tags as a string; single articles the reverse.
    for value in (article.get("tag_list"), article.get("tags")):
        if isinstance(value, list):
            return [t for t in value if isinstance(t, str)]
        if isinstance(value, str) and value.strip():
            return [t.strip() for t in value.split(",") if t.strip()]
    return []


def article_record(source: DevtoSource, article: dict, wanted: list[str]) -> Entry:
    url = canonical_url(article.get("url") or "") or ""
    original = canonical_url(article.get("canonical_url") or "") or url
    tags = article_tags(article)
    tag = first_wanted(wanted, tags)
    reasons = [f"dev.to tag '{tag}'"] if tag else []
    matched = bool(reasons) or not source.tagged_only
    if not reasons and not source.tagged_only:
        reasons.append("source is on topic as a whole (tagged_only: false)")
    if original != url:
        reasons.append(f"cross-posted on dev.to ({url}) from {original}")
    description = article.get("description") or ""
    body_html = sanitize_html(article.get("body_html") or "", base_url=url)
    text = html_to_text(body_html) or description
    user = article.get("user") or {}
    organisation = (article.get("organization") or {}).get("name")
    published = parse_datetime(article.get("published_timestamp") or article.get("published_at"))
    raw = {k: article.get(k) for k in ("id", "title", "url", "canonical_url", "published_at", "edited_at",
                                        "tag_list", "reading_time_minutes", "cover_image")}
    raw["user"] = user.get("username")
    return Entry(
        source_id=source.id,
        entry_key=f"devto:{article.get('id') or url}",
        item_id=item_id(original, source.id, str(article.get("id"))),
        url=url,
        canonical_url=original,
        title=article.get("title") or "(untitled)",
        summary=summarise(description or text),
        content_html=body_html or (f"<p>{sanitize_html(description)}</p>" if description else ""),
        content_text=text,
        author=user.get("name") or user.get("username"),
        published_at=published,
        updated_at=parse_datetime(article.get("edited_at")),
        date_missing=published is None,
        tags=merge_tags(tags),
        match_reasons=reasons,
        matched=matched,
        language=article.get("language"),
        raw_json=json.dumps(raw, ensure_ascii=False, default=str),
        organisation=organisation,
    )
