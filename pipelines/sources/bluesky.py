"""`kind: bluesky`: posts carrying a hashtag, from app.bsky.feed.searchPosts on an AppView or PDS.

Results come newest first with a cursor; a run stops at the newest post the last run saw.
Tags and links are read from the post's facets (and a link card's external embed). When the
service wants a signed-in client, BLUESKY_HANDLE and BLUESKY_APP_PASSWORD make a session
(com.atproto.server.createSession); the password goes only into that request's body.
"""

from __future__ import annotations

import html
import json
import os
from urllib.parse import urlencode

from pipelines.config import BlueskySource
from pipelines.dates import parse_datetime
from pipelines.errors import AuthenticationRequired, HTTPStatusFailure, RateLimited, RetryDeferred
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import FetchStats
from pipelines.entry import Mention, Entry
from pipelines.net.redaction import remember_secret
from pipelines.sanitize import sanitize_html
from pipelines.sources.api import each_well_formed, get_json, malformed_warning
from pipelines.sources.mentions import PostFacts, SharedLink, post_record, posts_to_records
from pipelines.outcomes import SourceOutcome
from pipelines.parse.tags import post_tag_reasons

PAGE_SIZE = 100   # searchPosts' maximum
HANDLE_ENV = "BLUESKY_HANDLE"
PASSWORD_ENV = "BLUESKY_APP_PASSWORD"  # noqa: S105 - the variable's name, not a secret
TAG_FACET = "app.bsky.richtext.facet#tag"
LINK_FACET = "app.bsky.richtext.facet#link"


def public_post_url(uri: str, handle: str | None) -> str:
    """at://did:plc:x/app.bsky.feed.post/3kaheyt6vpc22 -> https://bsky.app/profile/<handle>/post/3kaheyt6vpc22"""
    did, _, rkey = uri.removeprefix("at://").partition("/app.bsky.feed.post/")
    return f"https://bsky.app/profile/{handle or did}/post/{rkey}"


async def sign_in(ctx: HarvestContext, source: BlueskySource, stats: FetchStats, allow_private) -> str | None:
    """An access token when BLUESKY_HANDLE and BLUESKY_APP_PASSWORD are set, else None."""
    handle, password = os.environ.get(HANDLE_ENV), os.environ.get(PASSWORD_ENV)
    if not (handle and password):
        return None
    sessions: dict = ctx.shared.setdefault("bluesky_sessions", {})
    if source.auth_service not in sessions:
        url = f"{source.auth_service}/xrpc/com.atproto.server.createSession"
        result = await ctx.fetcher.post_json(url, {"identifier": handle, "password": password},
                                             allow_private=allow_private, stats=stats)
        if result.status != 200:
            raise AuthenticationRequired(f"Bluesky sign-in as {handle} at {source.auth_service} failed "
                                         f"(HTTP {result.status}): check {HANDLE_ENV} and {PASSWORD_ENV}",
                                         url=url, http_status=result.status)
        try:
            sessions[source.auth_service] = json.loads(result.body)["accessJwt"]
        except (ValueError, KeyError, TypeError):
            raise AuthenticationRequired(f"Bluesky sign-in at {source.auth_service} returned no access token",
                                         url=url, http_status=result.status) from None
        remember_secret(sessions[source.auth_service])
    return sessions[source.auth_service]


async def harvest_bluesky(source: BlueskySource, ctx: HarvestContext, stats: FetchStats) -> SourceOutcome:
    outcome = SourceOutcome(source_id=source.id, status="ok")
    allow_private = ctx.registry.allow_private_for(source)
    last_seen: str | None = ctx.state.source_state.get(source.id, {}).get("newest_indexed_at")
    token = await sign_in(ctx, source, stats, allow_private)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    posts: dict[str, dict] = {}
    newest = last_seen
    cursor: str | None = None
    finished = False
    try:
        for _ in range(source.max_pages):
            params = {"q": f"#{source.hashtag}", "sort": "latest", "limit": PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            url = f"{source.service}/xrpc/app.bsky.feed.searchPosts?{urlencode(params)}"
            try:
                page = await get_json(ctx, url, stats, service="Bluesky", allow_private=allow_private, headers=headers)
            except (AuthenticationRequired, HTTPStatusFailure) as exc:
                if exc.http_status in (401, 403) and not token:
                    raise AuthenticationRequired(
                        f"Bluesky service {source.service} requires authentication for searchPosts "
                        f"(HTTP {exc.http_status}): set {HANDLE_ENV} and {PASSWORD_ENV} (an app password "
                        "from Settings → Privacy and security → App passwords)", url=url,
                        http_status=exc.http_status) from None
                raise
            data = page.data if isinstance(page.data, dict) else {}
            batch = [p for p in data.get("posts") or [] if isinstance(p, dict) and p.get("uri")]
            reached_seen = False
            for post in batch:
                indexed = post.get("indexedAt") or (post.get("record") or {}).get("createdAt") or ""
                if last_seen and indexed and indexed <= last_seen:
                    reached_seen = True
                    break
                if indexed and (newest is None or indexed > newest):
                    newest = indexed
                posts.setdefault(post["uri"], post)
            cursor = data.get("cursor")
            if reached_seen or not batch or not cursor:
                finished = True
                break
    except (RateLimited, RetryDeferred) as exc:
        outcome.cut_short(exc, f"kept the {len(posts)} posts read before it, the rest are read next run")

    wanted = ctx.registry.wanted_tags(source)
    facts, malformed = each_well_formed(posts.values(), lambda post: post_facts(source, post, wanted))
    outcome.records, warnings = await posts_to_records(ctx, facts, stats, allow_private=allow_private,
                                                       wanted_tags=wanted, follow=source.follow_links,
                                                       own_record=skeet_record)
    warnings += malformed_warning(malformed, "posts")
    if len(facts) > len(outcome.records):
        # Search matches words too: a post saying "opengovtech" without the hashtag is not tagged.
        warnings.append(f"skipped {len(facts) - len(outcome.records)} posts that match the search but carry no tag "
                        f"{', '.join('#' + t for t in wanted)}")
    if outcome.status == "ok" and not finished:
        warnings.append(f"stopped after max_pages={source.max_pages}; older posts were not read")
    outcome.warning = "; ".join(warnings[:5]) or None
    outcome.entries_read = len(posts)
    done = outcome.status == "ok"
    outcome.state = {"newest_indexed_at": newest if done else last_seen}
    if done and not posts:
        outcome.status = "not_modified"
    return outcome


def post_facts(source: BlueskySource, post: dict, wanted: list[str]) -> tuple[PostFacts, dict]:
    record = post.get("record") or {}
    author = post.get("author") or {}
    text = record.get("text") or ""
    url = public_post_url(post["uri"], author.get("handle"))
    tags, links = [], []
    for facet in record.get("facets") or []:
        for feature in facet.get("features") or [] if isinstance(facet, dict) else []:
            kind = feature.get("$type")
            if kind == TAG_FACET and feature.get("tag"):
                tags.append(feature["tag"])
            elif kind == LINK_FACET and feature.get("uri"):
                links.append(feature["uri"])
    tags += [t for t in record.get("tags") or [] if isinstance(t, str)]  # "outline" tags, not in the text
    reasons = post_tag_reasons(wanted, tags=tags, text=text, post=f"Bluesky post {url}")
    external = ((post.get("embed") or {}).get("external") or (record.get("embed") or {}).get("external") or {})
    link = None
    if external.get("uri"):
        link = SharedLink(url=external["uri"], title=external.get("title") or "",
                          description=external.get("description") or "")
    elif links:
        link = SharedLink(url=links[0])
    mention = Mention(platform="bluesky", url=url, author="@" + (author.get("handle") or author.get("did") or "?"),
                      posted_at=parse_datetime(record.get("createdAt")), text=text)
    if not reasons and not source.tagged_only:
        reasons.append("source is on topic as a whole (tagged_only: false)")
    langs = record.get("langs") or []
    return PostFacts(source_id=source.id, mention=mention, text=text, tags=tags, reasons=reasons,
                     matched=bool(reasons), link=link,
                     language=langs[0] if langs else None), post


def skeet_record(facts: PostFacts, post: dict) -> Entry:
    """A Bluesky post that shares no link, as an item of its own."""
    paragraphs = "".join(f"<p>{line}</p>" for line in html.escape(facts.text, quote=False).split("\n") if line.strip())
    raw = {"uri": post.get("uri"), "cid": post.get("cid"), "indexedAt": post.get("indexedAt"),
           "author": facts.mention.author, "text": facts.text[:3000], "tags": facts.tags}
    return post_record(facts, entry_key=post["uri"], url=facts.mention.url, content_html=sanitize_html(paragraphs),
                       raw=raw)

