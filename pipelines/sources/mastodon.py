"""`kind: mastodon`: a hashtag's timeline on one server, or one account's tagged posts.

The timeline is read newest first, following `Link: rel="next"` back to the newest post the
last run saw (kept in source_state), so a run reads only what is new. A boost is collapsed
onto the post it boosts. A post that links to a page is a mention of the story on that page.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from bs4 import BeautifulSoup

from pipelines.config import MastodonSource
from pipelines.dates import parse_datetime
from pipelines.errors import APIResponseError, RateLimited, RetryDeferred
from pipelines.sources.harvest_context import HarvestContext
from pipelines.net.http import FetchStats
from pipelines.entry import Mention, Entry
from pipelines.sanitize import html_to_text, sanitize_html
from pipelines.sources.api import each_well_formed, get_json, malformed_warning
from pipelines.sources.mentions import PostFacts, SharedLink, post_record, posts_to_records
from pipelines.outcomes import SourceOutcome
from pipelines.parse.tags import post_tag_reasons

PAGE_SIZE = 40   # the most Mastodon returns per page


def id_order(status_id: str) -> tuple[int, str]:
    """Mastodon ids are numeric strings, other servers' (Pleroma, Akkoma) same-length base62
    flake ids: both sort by (length, text)."""
    return (len(status_id), status_id)


async def harvest_mastodon(source: MastodonSource, ctx: HarvestContext, stats: FetchStats) -> SourceOutcome:
    outcome = SourceOutcome(source_id=source.id, status="ok")
    allow_private = ctx.registry.allow_private_for(source)
    previous = ctx.state.source_state.get(source.id, {})
    last_seen: str | None = previous.get("last_id")
    statuses: dict[str, dict] = {}     # original post uri -> the post, boosts collapsed onto it
    boosted_by: dict[str, list[str]] = {}
    newest = last_seen
    pages = 0
    finished = False

    async def get(url: str):
        return await get_json(ctx, url, stats, service="Mastodon", allow_private=allow_private)

    try:
        if source.hashtag:
            url: str | None = f"{source.server}/api/v1/timelines/tag/{quote(source.hashtag)}?limit={PAGE_SIZE}"
        else:
            user = (source.account or "").split("@", 1)[0]
            account = (await get(f"{source.server}/api/v1/accounts/lookup?acct={quote(user)}")).data
            if not isinstance(account, dict) or "id" not in account:
                raise APIResponseError(f"Mastodon at {source.server} has no account {source.account}")
            url = f"{source.server}/api/v1/accounts/{quote(str(account['id']))}/statuses?limit={PAGE_SIZE}"
        while url and pages < source.max_pages:
            page = await get(url)
            pages += 1
            batch = [s for s in page.data if isinstance(s, dict)] if isinstance(page.data, list) else []
            reached_seen = False
            for status in batch:
                status_id = str(status.get("id", ""))
                if last_seen and id_order(status_id) <= id_order(last_seen):
                    reached_seen = True
                    break
                if newest is None or id_order(status_id) > id_order(newest):
                    newest = status_id
                original = status.get("reblog") or status
                key = original.get("uri") or original.get("url") or str(original.get("id"))
                statuses.setdefault(key, original)
                if status.get("reblog"):
                    boosted_by.setdefault(key, []).append(_acct(status.get("account") or {}, source.server))
            if reached_seen or not batch:
                finished = True
                break
            url = page.links.get("next")
        else:
            finished = url is None
    except (RateLimited, RetryDeferred) as exc:
        outcome.cut_short(exc, f"kept the {len(statuses)} posts read before it, the rest are read next run")

    wanted = ctx.registry.wanted_tags(source)
    posts, malformed = each_well_formed(statuses.items(),
                                        lambda item: post_facts(source, item[1], wanted, boosted_by.get(item[0], [])))
    outcome.records, warnings = await posts_to_records(ctx, posts, stats, allow_private=allow_private,
                                                       wanted_tags=wanted, follow=source.follow_links,
                                                       own_record=status_record)
    warnings += malformed_warning(malformed, "posts")
    skipped = len(posts) - len(outcome.records)
    if skipped:
        warnings.append(f"skipped {skipped} posts without the tags {', '.join(wanted)}")
    if outcome.status == "ok" and not finished and pages >= source.max_pages:
        warnings.append(f"stopped after max_pages={source.max_pages}; older posts were not read")
    outcome.warning = "; ".join(warnings[:5]) or None
    outcome.entries_read = len(statuses)
    # The newest id moves on only when the run read everything back to the last one seen;
    # a run cut short by a rate limit reads from the top again next time.
    done = outcome.status == "ok"
    outcome.state = {"last_id": newest if done else last_seen}
    if done and not statuses:
        outcome.status = "not_modified"
    return outcome


def post_facts(source: MastodonSource, status: dict, wanted: list[str], boosts: list[str]) -> tuple[PostFacts, dict]:
    content = status.get("content") or ""
    text = html_to_text(content)
    url = status.get("url") or status.get("uri") or ""
    tags = [t.get("name", "") for t in status.get("tags") or [] if isinstance(t, dict)]
    reasons = post_tag_reasons(wanted, tags=tags, text=text, post=f"Mastodon post {url}")
    matched = bool(reasons) or not source.tagged_only
    if not reasons and not source.tagged_only:
        reasons.append("source is on topic as a whole (tagged_only: false)")
    if boosts:
        reasons.append(f"boosted by {', '.join(sorted(set(boosts))[:5])}")
    mention = Mention(platform="mastodon", url=url, author=_acct(status.get("account") or {}, source.server),
                      posted_at=parse_datetime(status.get("created_at")), text=text)
    return PostFacts(source_id=source.id, mention=mention, text=text, tags=tags, reasons=reasons,
                     matched=matched, link=shared_link(status, source.server),
                     language=status.get("language")), status


def status_record(post: PostFacts, status: dict) -> Entry:
    """A toot that shares no link, as an item of its own."""
    raw = {k: status.get(k) for k in ("id", "uri", "url", "created_at", "edited_at", "language", "tags")}
    raw["account"] = post.mention.author
    return post_record(post, entry_key=status.get("uri") or post.mention.url, url=post.mention.url,
                       content_html=sanitize_html(status.get("content") or "", base_url=post.mention.url),
                       updated_at=parse_datetime(status.get("edited_at")), raw=raw)


def shared_link(status: dict, server: str) -> SharedLink | None:
    """The page a post shares: its preview card, else the first link that is not a hashtag,
    a mention or a link back to the server."""
    card = status.get("card")
    if isinstance(card, dict) and card.get("url"):
        return SharedLink(url=card["url"], title=card.get("title") or "", description=card.get("description") or "")
    content = status.get("content") or ""
    if "<a" not in content:
        return None
    server_host = urlsplit(server).hostname
    for anchor in BeautifulSoup(content, "html.parser").find_all("a", href=True):
        classes = set(anchor.get("class") or [])
        rel = {r.lower() for r in anchor.get("rel") or []}
        href = anchor["href"]
        if classes & {"mention", "hashtag", "u-url"} or "tag" in rel:
            continue
        if not href.startswith(("http://", "https://")) or urlsplit(href).hostname == server_host:
            continue
        return SharedLink(url=href)
    return None


def _acct(account: dict, server: str) -> str:
    """@user@host: a local account's `acct` has no host, so it is taken from the account's URL."""
    acct = account.get("acct") or account.get("username") or "unknown"
    if "@" not in acct:
        acct = f"{acct}@{urlsplit(account.get('url') or server).hostname or urlsplit(server).hostname}"
    return "@" + acct
